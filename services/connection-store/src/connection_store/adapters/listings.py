"""The ``Listings`` port: oauth-gateway's ``GET .../resources/{kind}``, asked with the caller's own
bearer token (the same platform token the store verified), so the gateway judges it too."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import httpx

from connection_store.errors import ListingUnavailableError


class GatewayListings:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.transport = transport

    async def items(
        self,
        organization_id: uuid.UUID,
        provider: str,
        kind: str,
        params: Mapping[str, str],
        *,
        authorization: str,
    ) -> list[tuple[str, str]] | None:
        path = f"/v1/orgs/{organization_id}/integrations/{provider}/resources/{kind}"
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=self.timeout_s, transport=self.transport
            ) as client:
                answer = await client.get(
                    path, params=dict(params), headers={"Authorization": authorization}
                )
        except httpx.HTTPError:
            raise ListingUnavailableError(
                "We could not check that choice against your account just now; try again."
            ) from None
        if answer.status_code == 409:
            return None  # not connected: nothing to list with
        if answer.status_code != 200:
            raise ListingUnavailableError(
                f"We could not check that choice against your account (HTTP "
                f"{answer.status_code}); try again, or reconnect in Settings → Integrations."
            )
        return [(str(item["id"]), str(item["name"])) for item in answer.json()["items"]]
