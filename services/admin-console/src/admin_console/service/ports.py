"""What the console's use cases need from the outside: the store's and the gateway's APIs, both
called with the signed-in admin's bearer. Adapters raise ``admin_console.errors`` leaves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

Json = dict[str, Any]


class StoreApi(Protocol):
    async def providers(self, bearer: str) -> Json: ...

    async def integrations(self, bearer: str, org: str) -> Json: ...

    async def integration(self, bearer: str, org: str, provider: str) -> Json: ...

    async def history(
        self, bearer: str, org: str, provider: str, *, limit: int, cursor: str | None
    ) -> Json | None:
        """``None`` while the store has no history endpoint."""
        ...

    async def update_settings(
        self, bearer: str, org: str, provider: str, patch: Mapping[str, Any]
    ) -> Json: ...

    async def sync(self, bearer: str, org: str, provider: str) -> Json: ...

    async def disconnect(self, bearer: str, org: str, provider: str) -> None: ...

    async def flags(self, bearer: str, org: str) -> Json: ...

    async def set_flags(self, bearer: str, org: str, flags: Mapping[str, bool]) -> Json: ...

    async def notifications(self, bearer: str, org: str) -> Json: ...

    async def update_notifications(
        self, bearer: str, org: str, patch: Mapping[str, Any]
    ) -> Json: ...

    async def ready(self) -> bool: ...


class GatewayApi(Protocol):
    async def start_oauth(
        self,
        bearer: str,
        org: str,
        provider: str,
        *,
        browser_id: str,
        return_to: str,
        shop: str | None,
    ) -> Json: ...

    async def connect_key(
        self, bearer: str, org: str, provider: str, fields: Mapping[str, str]
    ) -> Json: ...

    async def resources(self, bearer: str, org: str, provider: str, kind: str) -> Json | None:
        """A picker's choices; ``None`` when the listing is not available (yet)."""
        ...
