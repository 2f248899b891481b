"""``TokenSource`` over ``hub_providers``: decrypt the stored credential, call the provider's
token endpoint (Authlib refresh grant, or the catalog's mint request), encrypt the answer.

Plaintext secrets live only inside ``renew`` for one call. The template values of a call are
the connection's tenant parameters (``shop``, from the event's metadata), the operator's platform
credentials (OAuth client) and, for re-mint, the decrypted API-key fields. Errors of
``hub_providers`` and ``hub_keyring`` are translated into ``token_refresher.errors`` here, once.
"""

from __future__ import annotations

import hmac

from hub_catalog import AuthMode, CatalogError, Provider, RefreshStrategy
from hub_contracts import Credentials, EncryptedCredential, TokenExpiringV1
from hub_keyring import Binding, KeyRing, KeyRingError
from hub_providers import (
    CredentialRevokedError,
    OAuthClient,
    OutboundHttp,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ResponseTooLargeError,
    TokenSet,
    mint,
)
from pydantic import SecretStr

from token_refresher import errors
from token_refresher.service import Renewal
from token_refresher.settings import PlatformCredentials

REDIRECT_URI = "https://token-refresher.invalid/unused"
"""Authlib's client wants one; a refresh grant never sends it."""


class ProviderTokens:
    def __init__(self, http: OutboundHttp, ring: KeyRing, platform: PlatformCredentials) -> None:
        self.http = http
        self.ring = ring
        self.platform = platform

    async def renew(self, event: TokenExpiringV1, provider: Provider, mode: AuthMode) -> Renewal:
        stored = event.credentials
        if stored is None:
            raise errors.MissingCredentialError(provider.id, "stored credential")
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
                    raise errors.MissingCredentialError(provider.id, "refresh token")
                refresh = self._open(event, "refresh_token", stored.refresh_token)
                client = OAuthClient(self.http, provider, values, redirect_uri=REDIRECT_URI)
                tokens = await client.refresh(refresh)
                tokens = _keep_unchanged_refresh(tokens, refresh)
        except ProviderError as exc:
            raise _translate(exc) from None
        except (CatalogError, KeyError) as exc:
            # A template value is missing (a Shopify connection without its shop, an unset
            # platform credential): our configuration, not the brand's credential.
            raise errors.ProviderRejectedError(
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
        tenant = {
            name: _tenant_value(provider, name, value)
            for name in provider.tenant_params
            if isinstance(value := event.metadata.get(name), str)
        }
        return {**self.platform.values(provider), **tenant}

    def _open(self, event: TokenExpiringV1, field: str, sealed: EncryptedCredential) -> SecretStr:
        try:
            return self.ring.decrypt(sealed, Binding(event.organization_id, event.provider, field))
        except KeyRingError as exc:
            raise errors.UndecryptableError(event.provider, str(exc)) from None

    def _seal(self, event: TokenExpiringV1, field: str, value: SecretStr) -> EncryptedCredential:
        return self.ring.encrypt(value, Binding(event.organization_id, event.provider, field))


def _tenant_value(provider: Provider, name: str, raw: str) -> str:
    """A tenant parameter from the metadata: the gateway stores the label (``acme``); the full
    host (``acme.myshopify.com``) is accepted too. The catalog checks the host it renders."""
    value = raw.strip().lower().rstrip(".")
    for entry in provider.allowed_hosts:
        prefix, marker, suffix = entry.partition(f"{{{name}}}")
        if marker and value.startswith(prefix) and value.endswith(suffix):
            inner = value[len(prefix) : len(value) - len(suffix)]
            if inner and len(value) > len(prefix) + len(suffix):
                return inner
    return value


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


def _translate(exc: ProviderError) -> errors.RefresherError:
    status, code = exc.status_code, exc.code
    if isinstance(exc, RateLimitedError):
        return errors.RateLimitedError(
            exc.provider, str(exc), retry_after_s=exc.retry_after_s, status_code=status, code=code
        )
    if isinstance(exc, ProviderUnavailableError | ResponseTooLargeError):
        return errors.ProviderUnavailableError(
            exc.provider, str(exc), status_code=status, code=code
        )
    if isinstance(exc, CredentialRevokedError):
        return errors.CredentialRevokedError(exc.provider, str(exc), status_code=status, code=code)
    # ProviderRejectedError, UnsafeDestinationError: a refusal of our request, not of the
    # brand's credential.
    return errors.ProviderRejectedError(exc.provider, str(exc), status_code=status, code=code)
