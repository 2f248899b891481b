"""One call to a provider endpoint: the request as received and what handling it needs."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import Request
from hub_catalog import Provider

from provider_sandbox.answers import Refusal, rate_limited, unavailable
from provider_sandbox.conventions import platform_value
from provider_sandbox.endpoints import Endpoint
from provider_sandbox.recordings import Recordings
from provider_sandbox.state import Fault, FaultMode, Store


@dataclass(frozen=True)
class Incoming:
    method: str
    host: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Lower-cased names."""
    body: bytes

    @classmethod
    async def read(cls, request: Request, host: str, path: str) -> Incoming:
        return cls(
            method=request.method,
            host=host.lower(),
            path=path,
            query=dict(request.query_params),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=await request.body(),
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> dict[str, str] | None:
        """The body's fields when it is sent form-encoded."""
        if not self._content_type("application/x-www-form-urlencoded"):
            return None
        try:
            return dict(parse_qsl(self.body.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            return None

    def json(self) -> Any:
        """The body when it is sent as JSON (``None`` otherwise or when it does not parse)."""
        if not self._content_type("application/json"):
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def basic(self, *, form_encoded: bool = False) -> tuple[str, str] | None:
        """HTTP Basic credentials, decoded; ``form_encoded`` for OAuth client authentication,
        whose id and secret are form-encoded before they are joined (RFC 6749 §2.3.1)."""
        scheme, _, encoded = (self.header("authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, colon, password = decoded.partition(":")
        if not colon:
            return None
        if not form_encoded:
            return username, password
        try:
            return unquote_plus(username, errors="strict"), unquote_plus(password, errors="strict")
        except UnicodeDecodeError:
            return None

    def _content_type(self, expected: str) -> bool:
        return (self.header("content-type") or "").split(";")[0].strip().lower() == expected


@dataclass(frozen=True)
class Call:
    provider: Provider
    endpoints: tuple[Endpoint, ...]
    """Every endpoint this URL and method serve, the one that handles the call first."""
    url_values: Mapping[str, str]
    """Values bound by the URL's placeholders: tenant parameters, path fields."""
    incoming: Incoming
    store: Store
    lifetime_override: int | None
    recordings: Recordings
    """The provider's recorded answers (what it says, as its documentation shows)."""

    @property
    def endpoint(self) -> Endpoint:
        return self.endpoints[0]

    @property
    def tenant(self) -> dict[str, str]:
        return {
            name: value
            for name, value in self.url_values.items()
            if name in self.provider.tenant_params
        }

    def platform_value(self, name: str) -> str:
        """The platform credential value this provider expects (``sandbox-...`` unless set)."""
        return self.store.platform.get((self.provider.id, name)) or platform_value(
            self.provider.id, name
        )

    def lifetime(self, catalog_lifetime: int | None) -> int | None:
        """An access token's lifetime if it expires: set through the control API for this
        provider, else the settings' override, else the catalog's."""
        if catalog_lifetime is None:
            return None
        set_here = self.store.lifetimes.get(self.provider.id)
        if set_here is not None:
            return set_here
        return catalog_lifetime if self.lifetime_override is None else self.lifetime_override

    async def fault(self, credentials: Iterable[str | None] = ()) -> FaultMode:
        """The fault that holds for this call: one set on a presented credential, else the
        provider's. Rate limits and outages end the call here; slowness delays it."""
        presented = [value for value in credentials if value]
        fault = self.store.credential_fault(self.provider.id, presented)
        if fault is None:
            return self.store.fault(self.provider.id).mode
        await interrupt(self.recordings, fault)
        return fault.mode


async def interrupt(recordings: Recordings, fault: Fault) -> None:
    """Apply a transport fault: raise the recorded rate-limit or outage answer, or sleep."""
    if fault.mode == FaultMode.SLOW:
        await asyncio.sleep(fault.delay)
    elif fault.mode == FaultMode.RATE_LIMITED:
        raise Refusal(rate_limited(recordings, fault.retry_after))
    elif fault.mode == FaultMode.UNAVAILABLE:
        raise Refusal(unavailable(recordings, fault.retry_after))
