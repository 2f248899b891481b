"""Provider calls through ``hub_providers``: guarded outbound HTTP (SECURITY.md 20: allow-listed
hosts only, no redirects, deadlines, a size cap), Authlib for the token endpoint with the
catalog's hooks, and the catalog's check and mint requests.

Every provider failure leaves as a ``ProviderCallError`` of one of four kinds; the service puts
it into words for its context.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub_catalog import AuthMode, CatalogError, Provider, RequestSpec
from hub_providers import (
    CredentialRevokedError,
    OAuthClient,
    OutboundHttp,
    ProviderError,
    ProviderRejectedError,
    RateLimitedError,
    TokenSet,
    UnsafeDestinationError,
    check,
    mint,
)
from pydantic import SecretStr

from oauth_gateway.domain import ProviderCallError
from oauth_gateway.service.ports import AccountFacts, IssuedTokens


def _failure(error: ProviderError) -> ProviderCallError:
    if isinstance(error, CredentialRevokedError | ProviderRejectedError):
        return ProviderCallError("refused", status=error.status_code, code=error.code)
    if isinstance(error, RateLimitedError):
        return ProviderCallError(
            "rate_limited",
            status=error.status_code,
            code=error.code,
            retry_after_s=error.retry_after_s,
        )
    if isinstance(error, UnsafeDestinationError):
        return ProviderCallError("unsafe")
    return ProviderCallError("unavailable", status=error.status_code, code=error.code)


def _tokens(tokens: TokenSet) -> IssuedTokens:
    return IssuedTokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        scopes=list(tokens.scopes),
        extra=dict(tokens.extra),
    )


class CatalogProviders:
    """``ProviderPort`` over ``hub_providers``."""

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
        except CatalogError:
            raise ProviderCallError("unsafe") from None

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
        except ProviderError as error:
            raise _failure(error) from None
        except CatalogError:
            raise ProviderCallError("unsafe") from None

    async def request(
        self, provider: Provider, mode: AuthMode, spec: RequestSpec, values: Mapping[str, str]
    ) -> AccountFacts:
        try:
            result = await check(self.http, provider, mode, spec, values)
        except ProviderError as error:
            raise _failure(error) from None
        except CatalogError:
            raise ProviderCallError("unsafe") from None
        return AccountFacts(result.account_id, result.account_name)

    async def mint(
        self, provider: Provider, mode: AuthMode, values: Mapping[str, str]
    ) -> IssuedTokens:
        try:
            return _tokens(await mint(self.http, provider, mode, values))
        except ProviderError as error:
            raise _failure(error) from None
        except CatalogError:
            raise ProviderCallError("unsafe") from None

    async def revoke(
        self, provider: Provider, values: Mapping[str, str], token: SecretStr, *, hint: str
    ) -> None:
        client = self._client(provider, values, redirect_uri="")
        try:
            await client.revoke(token, hint=hint)
        except ProviderError as error:
            raise _failure(error) from None
        except CatalogError:
            raise ProviderCallError("unsafe") from None
