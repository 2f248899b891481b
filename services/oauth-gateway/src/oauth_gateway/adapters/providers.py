"""Provider calls through ``hub_providers``: guarded outbound HTTP (SECURITY.md 20: allow-listed
hosts only, no redirects, deadlines, a size cap), Authlib for the token endpoint with the
catalog's hooks, and the catalog's check and mint requests.

Provider failures leave as ``hub_providers.errors``; a catalog request that cannot be built as
its ``UnsafeDestinationError``.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub_catalog import AuthMode, CatalogError, Provider, RequestSpec, Revocation
from hub_providers import OAuthClient, OutboundHttp, TokenSet, check, mint, revoke
from hub_providers.errors import UnsafeDestinationError
from pydantic import SecretStr

from oauth_gateway.service.ports import AccountFacts, IssuedTokens


def _misconfigured(provider: Provider, error: CatalogError) -> UnsafeDestinationError:
    """A catalog request that cannot be built is refused like an address outside the list."""
    return UnsafeDestinationError(provider.id, "", f"the catalog request cannot be built: {error}")


def _tokens(tokens: TokenSet) -> IssuedTokens:
    return IssuedTokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        scopes=list(tokens.scopes),
        extra=dict(tokens.extra),
    )


class CatalogProviders:
    """``Providers`` over ``hub_providers``."""

    def __init__(self, http: OutboundHttp) -> None:
        self.http = http

    def _client(
        self, provider: Provider, values: Mapping[str, str], redirect_uri: str
    ) -> OAuthClient:
        return OAuthClient(self.http, provider, values, redirect_uri=redirect_uri)

    def authorization_url(
        self,
        provider: Provider,
        values: Mapping[str, str],
        *,
        redirect_uri: str,
        state: str,
        code_verifier: str | None,
    ) -> str:
        try:
            client = self._client(provider, values, redirect_uri)
            return client.authorization_url(state=state, code_verifier=code_verifier)
        except CatalogError as error:
            raise _misconfigured(provider, error) from None

    async def exchange_code(
        self,
        provider: Provider,
        values: Mapping[str, str],
        *,
        redirect_uri: str,
        code: str,
        code_verifier: str | None,
    ) -> IssuedTokens:
        client = self._client(provider, values, redirect_uri)
        try:
            return _tokens(await client.exchange_code(code, code_verifier=code_verifier))
        except CatalogError as error:
            raise _misconfigured(provider, error) from None

    async def request(
        self, provider: Provider, mode: AuthMode, spec: RequestSpec, values: Mapping[str, str]
    ) -> AccountFacts:
        try:
            result = await check(self.http, provider, mode, spec, values)
        except CatalogError as error:
            raise _misconfigured(provider, error) from None
        return AccountFacts(result.account_id, result.account_name, result.metadata)

    async def mint(
        self, provider: Provider, mode: AuthMode, values: Mapping[str, str]
    ) -> IssuedTokens:
        try:
            return _tokens(await mint(self.http, provider, mode, values))
        except CatalogError as error:
            raise _misconfigured(provider, error) from None

    async def revoke(
        self, provider: Provider, values: Mapping[str, str], token: SecretStr, *, hint: str
    ) -> None:
        client = self._client(provider, values, redirect_uri="")
        try:
            await client.revoke(token, hint=hint)
        except CatalogError as error:
            raise _misconfigured(provider, error) from None

    async def revocation(
        self, provider: Provider, spec: Revocation, values: Mapping[str, str]
    ) -> None:
        try:
            await revoke(self.http, provider, spec, values)
        except CatalogError as error:
            raise _misconfigured(provider, error) from None
