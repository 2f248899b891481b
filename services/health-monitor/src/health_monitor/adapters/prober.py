"""The ``Prober`` port through ``hub_providers``: the catalog's health request (or mint) with the
credential placed as the provider expects it, over the guarded transport (SECURITY 20)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from hub_catalog import AuthMode, CatalogError, Provider
from hub_providers import OutboundHttp, check, mint
from hub_providers.errors import ProviderUnavailableError, UnsafeDestinationError

from health_monitor.domain import Plan


class ProviderProber:
    """Raises only ``hub_providers.errors``: what the library leaves unmapped is mapped here."""

    def __init__(self, http: OutboundHttp) -> None:
        self.http = http

    async def probe(
        self, provider: Provider, mode: AuthMode, plan: Plan, values: Mapping[str, str]
    ) -> None:
        try:
            if plan == Plan.MINT:
                await mint(self.http, provider, mode, values)
                return
            spec = provider.checks.health
            if spec is None:
                raise ValueError(f"{provider.id} has no health request")
            await check(self.http, provider, mode, spec, values)
        except CatalogError as exc:
            # A tenant parameter that renders no allow-listed host (Shopify's shop).
            raise UnsafeDestinationError(provider.id, "tenant host", str(exc)) from None
        except (httpx.HTTPError, OSError) as exc:
            # DNS failures and the like, below hub_providers' mapping: no answer.
            raise ProviderUnavailableError(
                provider.id, f"{provider.name} did not answer: {type(exc).__name__}"
            ) from None
