"""Port ``GatewayApi``: oauth-gateway's OAuth start, API-key connect and resource listings."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from admin_console.adapters.http_client import Client, json_body, path_part
from admin_console.errors import RefusedError, UnavailableError
from admin_console.service.ports import Json


class GatewayClient(Client):
    """oauth-gateway: OAuth start, API-key connect, resource listings."""

    def __init__(self, client: httpx.AsyncClient, cookie_name: str) -> None:
        super().__init__(client, "oauth-gateway")
        self.cookie_name = cookie_name

    async def start_oauth(
        self,
        bearer: str,
        org: str,
        provider: str,
        *,
        browser_id: str,
        return_to: str,
        shop: str | None,
    ) -> Json:
        body: dict[str, str] = {"return_to": return_to}
        if shop is not None:
            body["shop"] = shop
        path = f"/v1/orgs/{path_part(org)}/integrations/{path_part(provider)}/oauth/start"
        response = await self.call(
            "POST", path, bearer, json=body, cookies={self.cookie_name: browser_id}
        )
        return json_body(response)

    async def connect_key(
        self, bearer: str, org: str, provider: str, fields: Mapping[str, str]
    ) -> Json:
        path = f"/v1/orgs/{path_part(org)}/integrations/{path_part(provider)}/credentials"
        return json_body(await self.call("POST", path, bearer, json={"fields": dict(fields)}))

    async def resources(self, bearer: str, org: str, provider: str, kind: str) -> Json | None:
        base = f"/v1/orgs/{path_part(org)}/integrations/{path_part(provider)}"
        path = f"{base}/resources/{path_part(kind)}"
        try:
            response = await self.call("GET", path, bearer, missing_ok=True)
        except (UnavailableError, RefusedError):
            return None
        return None if response is None else json_body(response)
