"""Port ``StoreApi``: connection-store's tenant API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from admin_console.adapters.http_client import Client, json_body, path_part
from admin_console.service.ports import Json


class StoreClient(Client):
    """connection-store's tenant API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client, "connection-store")

    async def providers(self, bearer: str) -> Json:
        return json_body(await self.call("GET", "/v1/providers", bearer))

    async def integrations(self, bearer: str, org: str) -> Json:
        return json_body(await self.call("GET", f"/v1/orgs/{path_part(org)}/integrations", bearer))

    async def integration(self, bearer: str, org: str, provider: str) -> Json:
        path = f"/v1/orgs/{path_part(org)}/integrations/{path_part(provider)}"
        return json_body(await self.call("GET", path, bearer))

    async def history(
        self, bearer: str, org: str, provider: str, *, limit: int, cursor: str | None
    ) -> Json | None:
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        path = f"/v1/orgs/{path_part(org)}/integrations/{path_part(provider)}/history"
        response = await self.call("GET", path, bearer, params=params, missing_ok=True)
        return None if response is None else json_body(response)

    async def update_settings(
        self, bearer: str, org: str, provider: str, patch: Mapping[str, Any]
    ) -> Json:
        path = f"/v1/orgs/{path_part(org)}/integrations/{path_part(provider)}/settings"
        return json_body(await self.call("PATCH", path, bearer, json=dict(patch)))

    async def sync(self, bearer: str, org: str, provider: str) -> Json:
        path = f"/v1/orgs/{path_part(org)}/integrations/{path_part(provider)}/sync"
        return json_body(await self.call("POST", path, bearer))

    async def disconnect(self, bearer: str, org: str, provider: str) -> None:
        path = f"/v1/orgs/{path_part(org)}/integrations/{path_part(provider)}"
        await self.call("DELETE", path, bearer)

    async def flags(self, bearer: str, org: str) -> Json:
        return json_body(await self.call("GET", f"/v1/orgs/{path_part(org)}/flags", bearer))

    async def set_flags(self, bearer: str, org: str, flags: Mapping[str, bool]) -> Json:
        path = f"/v1/orgs/{path_part(org)}/flags"
        return json_body(await self.call("PUT", path, bearer, json={"flags": dict(flags)}))

    async def notifications(self, bearer: str, org: str) -> Json:
        return json_body(await self.call("GET", f"/v1/orgs/{path_part(org)}/notifications", bearer))

    async def update_notifications(self, bearer: str, org: str, patch: Mapping[str, Any]) -> Json:
        path = f"/v1/orgs/{path_part(org)}/notifications"
        return json_body(await self.call("PATCH", path, bearer, json=dict(patch)))

    async def ready(self) -> bool:
        try:
            response = await self.client.get("/readyz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200
