"""An ``httpx.Auth`` that places a credential where the provider wants it, from the catalog's
transport (header, query parameter, basic...), with ``hub_providers``' own placement code."""

from __future__ import annotations

from collections.abc import Generator, Mapping

import httpx
from hub_catalog import Catalog, CatalogError, load_catalog
from hub_providers.calls import apply_placements

from hub_client.models import Credential


class ProviderAuth(httpx.Auth):
    """Adds the credential's headers and query parameters to every request."""

    def __init__(self, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        self._headers = dict(headers)
        self._query = dict(query)

    def __repr__(self) -> str:
        return f"ProviderAuth(headers={sorted(self._headers)}, query={sorted(self._query)})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._headers)
        if self._query:
            request.url = request.url.copy_merge_params(self._query)
        yield request


def provider_auth(
    credential: Credential,
    catalog: Catalog | None = None,
    *,
    extra: Mapping[str, str] | None = None,
) -> ProviderAuth:
    """The ``httpx.Auth`` for ``credential``'s provider and auth type. ``extra`` adds values the
    transport needs beyond the credential (a platform's own ``developer_token``, say)."""
    catalog = catalog or load_catalog()
    provider = catalog.get(credential.provider)
    mode = provider.auth_mode(credential.auth_type)
    if mode is None:
        raise CatalogError(f"{provider.id} has no {credential.auth_type!r} mode in this catalog")
    values = {name: value.get_secret_value() for name, value in credential.fields.items()}
    headers, query = apply_placements(mode.transport, {**values, **(extra or {})})
    return ProviderAuth(headers, query)
