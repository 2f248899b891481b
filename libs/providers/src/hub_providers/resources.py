"""A catalog resource listing (what a brand can pick: ad accounts, channels), sent with a
connection's credential."""

from __future__ import annotations

from collections.abc import Mapping

from hub_catalog import AuthMode, Provider, ResourceListing, resource_items

from hub_providers.calls import build_request, raise_for_answer, send
from hub_providers.errors import ProviderRejectedError
from hub_providers.outbound import OutboundHttp


async def list_resources(
    http: OutboundHttp,
    provider: Provider,
    mode: AuthMode,
    listing: ResourceListing,
    values: Mapping[str, str],
) -> list[tuple[str, str]]:
    """``(id, name)`` of each listed item; provider failures raise ``hub_providers.errors``."""
    request = build_request(http.catalog, provider, listing, values, transport=mode.transport)
    async with http.client(provider) as client:
        answer = await send(client, provider, request)
    raise_for_answer(provider, answer, listing)
    items = resource_items(listing, answer.body)
    if items is None:
        raise ProviderRejectedError(
            provider.id,
            f"{provider.name} answered without a list at {listing.items_path}",
            status_code=answer.status,
        )
    return items
