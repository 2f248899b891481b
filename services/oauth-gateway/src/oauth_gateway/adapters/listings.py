"""The ``Listings`` port: catalog resource listings through the guarded outbound client."""

from __future__ import annotations

from collections.abc import Mapping

from hub_catalog import AuthMode, CatalogError, Provider, ResourceListing
from hub_providers import OutboundHttp, list_resources

from oauth_gateway.adapters.providers import _misconfigured


class CatalogListings:
    def __init__(self, http: OutboundHttp) -> None:
        self.http = http

    async def list(
        self,
        provider: Provider,
        mode: AuthMode,
        listing: ResourceListing,
        values: Mapping[str, str],
    ) -> list[tuple[str, str]]:
        try:
            return await list_resources(self.http, provider, mode, listing, values)
        except CatalogError as error:
            raise _misconfigured(provider, error) from None
