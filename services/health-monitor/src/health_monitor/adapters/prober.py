"""The proving call through ``hub_providers``: the catalog's health request (or mint) with the
credential placed exactly as the provider expects it, over the guarded transport (SECURITY 20:
allow-listed hosts only, public addresses, no redirects, deadlines, a size cap). Errors become a
``domain.Reply``; nothing here decides what an answer means for the connection."""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx
from hub_catalog import AuthMode, CatalogError, Provider
from hub_providers import (
    CredentialRevokedError,
    OutboundHttp,
    ProviderRejectedError,
    ProviderUnavailableError,
    RateLimitedError,
    ResponseTooLargeError,
    UnsafeDestinationError,
    check,
    mint,
)

from health_monitor.domain import Answer, Plan, Reply

_SAFE_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def _code(code: str | None) -> str | None:
    """A provider's error code, only if it looks like one (it goes into events and logs)."""
    return code if code is not None and _SAFE_CODE.fullmatch(code) else None


class ProviderProber:
    def __init__(self, http: OutboundHttp) -> None:
        self.http = http

    async def probe(
        self, provider: Provider, mode: AuthMode, plan: Plan, values: Mapping[str, str]
    ) -> Reply:
        try:
            if plan == Plan.MINT:
                await mint(self.http, provider, mode, values)
            else:
                spec = provider.checks.health
                if spec is None:
                    raise ValueError(f"{provider.id} has no health request")
                await check(self.http, provider, mode, spec, values)
        except CredentialRevokedError as exc:
            return Reply(Answer.REVOKED, exc.status_code, _code(exc.code))
        except RateLimitedError as exc:
            return Reply(Answer.RATE_LIMITED, exc.status_code, _code(exc.code), exc.retry_after_s)
        except ProviderUnavailableError as exc:
            return Reply(Answer.UNAVAILABLE, exc.status_code, _code(exc.code))
        except ResponseTooLargeError:
            return Reply(Answer.UNAVAILABLE, code="response_too_large")
        except UnsafeDestinationError:
            return Reply(Answer.UNSAFE, code="destination_refused")
        except ProviderRejectedError as exc:
            return Reply(Answer.REJECTED, exc.status_code, _code(exc.code))
        except CatalogError:
            # A tenant parameter that renders a host outside the allow-list (Shopify's shop).
            return Reply(Answer.UNSAFE, code="destination_refused")
        except (httpx.HTTPError, OSError):
            # DNS failures and the like, below hub_providers' mapping: no answer.
            return Reply(Answer.UNAVAILABLE)
        return Reply(Answer.OK)
