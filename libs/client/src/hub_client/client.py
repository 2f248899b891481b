"""``HubClient``: fresh credentials from connection-store, with bounded retries.

A 503 (``refresh_unavailable``: the provider is down during a needed refresh, or the refresh did
not finish in time), a 429 and a network failure are tried again, waiting what ``Retry-After``
says (capped at ``max_retry_wait_s``), at most ``max_attempts`` times in all; everything else is
answered at once, as the ``hub_client.errors`` leaf of its status.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
from hub_providers.calls import retry_after_s
from pydantic import ValidationError

from hub_client.errors import (
    AccessDenied,
    HubError,
    HubUnavailable,
    NotConnected,
    ReconnectRequired,
)
from hub_client.models import Credential

RETRIED = frozenset({429, 503})
_BY_STATUS: dict[int, type[HubError]] = {
    401: AccessDenied,
    403: AccessDenied,
    404: NotConnected,
    409: ReconnectRequired,
}


class HubClient:
    """``async with HubClient(base_url, token) as hub: await hub.credentials(org, "klaviyo")``.

    ``token`` is a service token (scope ``credentials:read``, claim ``providers``); ``base_url``
    is connection-store's. ``transport`` is for tests and special networks.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        max_attempts: int = 3,
        max_retry_wait_s: float = 10.0,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.max_retry_wait_s = max_retry_wait_s
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def credentials(
        self, organization_id: uuid.UUID | str, provider: str, *, min_ttl_s: int = 300
    ) -> Credential:
        """The brand's credential for ``provider``, valid for at least ``min_ttl_s`` seconds
        (the hub refreshes it first when needed). Raises ``NotConnected``,
        ``ReconnectRequired``, ``AccessDenied`` or ``HubUnavailable``."""
        org = uuid.UUID(str(organization_id))
        path = f"/v1/orgs/{org}/integrations/{quote(provider, safe='')}/credentials"
        body = await self._get(path, params={"min_ttl_s": str(min_ttl_s)})
        try:
            return Credential.model_validate(body)
        except ValidationError as exc:
            raise HubError(
                f"the hub's answer is not a credential ({exc.error_count()} problems)",
                code="invalid_answer",
                status=200,
            ) from None

    async def _get(self, path: str, *, params: dict[str, str]) -> Any:
        last: HubUnavailable | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                answer = await self._http.get(path, params=params)
            except httpx.TransportError as exc:
                last = HubUnavailable(
                    f"the hub did not answer: {type(exc).__name__}", code="unreachable"
                )
                wait: float | None = None
            else:
                if answer.is_success:
                    return _json(answer)
                error = _error(answer)
                if answer.status_code not in RETRIED:
                    raise error
                wait = retry_after_s(answer.headers)
                last = HubUnavailable(
                    error.message, code=error.code, status=answer.status_code, retry_after_s=wait
                )
            if attempt < self.max_attempts:
                delay = 2.0 ** (attempt - 1) if wait is None else wait
                await self._sleep(min(max(delay, 0.0), self.max_retry_wait_s))
        assert last is not None
        raise last


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        raise HubError(
            "the hub's answer is not JSON", code="invalid_answer", status=answer.status_code
        ) from None


def _error(answer: httpx.Response) -> HubError:
    """The hub's JSON error (``{"error": {"code", "message"}}``) as its ``HubError`` leaf."""
    code, message = f"http_{answer.status_code}", answer.reason_phrase or "error"
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code") or code)
        message = str(body["error"].get("message") or message)
    kind = _BY_STATUS.get(answer.status_code, HubError)
    return kind(message, code=code, status=answer.status_code)
