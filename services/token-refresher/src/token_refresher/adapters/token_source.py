"""``TokenSource`` over ``hub_providers``: decrypt the stored credential, call the provider's
token endpoint (Authlib refresh grant, or the catalog's mint request), encrypt the answer."""

from __future__ import annotations

import hmac

from hub_catalog import (
    AuthMode,
    CatalogError,
    PlatformCredentials,
    Provider,
    RefreshStrategy,
    tenant_values,
)
from hub_contracts import Credentials, EncryptedCredential, TokenExpiringV1
from hub_keyring import Binding, KeyRing, KeyRingError
from hub_providers import OAuthClient, OutboundHttp, ProviderRejectedError, TokenSet, mint
from pydantic import SecretStr

from token_refresher.errors import MissingCredentialError, UndecryptableError
from token_refresher.service import Renewal

REDIRECT_URI = "https://token-refresher.invalid/unused"
"""Authlib's client wants one; a refresh grant never sends it."""


class ProviderTokens:
    """Plaintext secrets live only inside ``renew``, for one call. A call's template values are
    the connection's tenant parameters, the platform credentials and, for re-mint, the
    decrypted API-key fields."""

    def __init__(self, http: OutboundHttp, ring: KeyRing, platform: PlatformCredentials) -> None:
        self.http = http
        self.ring = ring
        self.platform = platform

    async def renew(self, event: TokenExpiringV1, provider: Provider, mode: AuthMode) -> Renewal:
        stored = event.credentials
        if stored is None:
            raise MissingCredentialError(provider.id, "stored credential")
        values = self._values(event, provider)
        try:
            if mode.refresh == RefreshStrategy.REMINT:
                fields = {
                    name: self._open(event, name, sealed).get_secret_value()
                    for name, sealed in stored.fields.items()
                }
                tokens = await mint(self.http, provider, mode, {**values, **fields})
            else:
                if stored.refresh_token is None:
                    raise MissingCredentialError(provider.id, "refresh token")
                refresh = self._open(event, "refresh_token", stored.refresh_token)
                client = OAuthClient(self.http, provider, values, redirect_uri=REDIRECT_URI)
                tokens = await client.refresh(refresh)
                tokens = _keep_unchanged_refresh(tokens, refresh)
        except (CatalogError, KeyError) as exc:
            # A template value is missing (a Shopify connection without its shop, an unset
            # platform credential): our configuration, not the brand's credential.
            raise ProviderRejectedError(
                provider.id, f"cannot build the {provider.name} token request: {exc}"
            ) from None
        return Renewal(
            credentials=Credentials(
                access_token=self._seal(event, "access_token", tokens.access_token),
                refresh_token=(
                    self._seal(event, "refresh_token", tokens.refresh_token)
                    if tokens.refresh_token is not None
                    else stored.refresh_token
                ),
                fields=dict(stored.fields),
            ),
            token_expires_at=tokens.expires_at,
            scopes=tokens.scopes or None,
        )

    def _values(self, event: TokenExpiringV1, provider: Provider) -> dict[str, str]:
        return {**self.platform.values(provider), **tenant_values(provider, event.metadata)}

    def _open(self, event: TokenExpiringV1, field: str, sealed: EncryptedCredential) -> SecretStr:
        try:
            return self.ring.decrypt(sealed, Binding(event.organization_id, event.provider, field))
        except KeyRingError as exc:
            raise UndecryptableError(event.provider, str(exc)) from None

    def _seal(self, event: TokenExpiringV1, field: str, value: SecretStr) -> EncryptedCredential:
        return self.ring.encrypt(value, Binding(event.organization_id, event.provider, field))


def _keep_unchanged_refresh(tokens: TokenSet, sent: SecretStr) -> TokenSet:
    """Authlib hands back the refresh token we sent when the provider returned none (Google):
    then the stored ciphertext stays as it is rather than being re-encrypted."""
    if tokens.refresh_token is not None and hmac.compare_digest(
        tokens.refresh_token.get_secret_value().encode(), sent.get_secret_value().encode()
    ):
        return TokenSet(
            access_token=tokens.access_token,
            refresh_token=None,
            expires_at=tokens.expires_at,
            scopes=tokens.scopes,
            extra=tokens.extra,
        )
    return tokens
