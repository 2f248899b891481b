"""OAuth 2 authorization-code flows from catalog data, token calls through Authlib.

One client for every provider: the catalog gives URLs, scopes, PKCE, client authentication and
parameter names; the named hooks handle what data cannot (``OAuthHook``): Meta's exchange of a
short-lived token for a long-lived one, TikTok's JSON ``auth_code`` exchange, Slack's ``ok``
envelope (Authlib already reads its ``error``), Shopify's per-shop URLs (tenant parameter
``shop``). Every answer is screened with the provider's error signals before Authlib parses it,
so a revoked grant, a rate limit or an outage raise the same errors everywhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

with warnings.catch_warnings():
    # Authlib would rather use the new ``httpx2`` package; every outbound call here goes through
    # one httpx transport (the guard), so Authlib stays on httpx until we move together.
    import authlib.deprecate  # noqa: F401 - installs an "always" filter; ours must follow it

    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.oauth2.rfc7636 import create_s256_code_challenge
from hub_catalog import AuthMode, AuthType, OAuthHook, OAuthSpec, Pkce, Provider
from hub_catalog.signals import value_at
from pydantic import SecretStr

from hub_providers.calls import basic_authorization, raise_for_answer, read, send
from hub_providers.errors import (
    CredentialRevokedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from hub_providers.outbound import OutboundHttp
from hub_providers.tokens import TokenSet


class OAuthClient:
    """Authorize URL, code exchange and refresh for one provider.

    ``values`` holds the platform credentials (``client_id``, ``client_secret``) and the
    connection's tenant parameters (``shop``).
    """

    def __init__(
        self,
        http: OutboundHttp,
        provider: Provider,
        values: Mapping[str, str],
        *,
        redirect_uri: str,
    ) -> None:
        self.http = http
        self.provider = provider
        self.mode: AuthMode = provider.mode(AuthType.OAUTH2_AUTHORIZATION_CODE)
        assert self.mode.oauth is not None
        self.spec: OAuthSpec = self.mode.oauth
        self.values = values
        self.redirect_uri = redirect_uri

    def _url(self, template: str) -> str:
        return self.http.catalog.url(self.provider, template, self.values)

    def _has(self, hook: OAuthHook) -> bool:
        return hook in self.spec.hooks

    @property
    def uses_pkce(self) -> bool:
        return self.spec.pkce != Pkce.OFF

    def authorization_url(self, *, state: str, code_verifier: str | None) -> str:
        params: dict[str, str] = {self.spec.client_id_param: self.values["client_id"]}
        if not self._has(OAuthHook.TIKTOK_AUTH_CODE):
            params["response_type"] = "code"
        params["redirect_uri"] = self.redirect_uri
        params["state"] = state
        if self.spec.scopes:
            params[self.spec.scope_param] = self.spec.scope_separator.join(self.spec.scopes)
        if self.uses_pkce:
            if code_verifier is None:
                raise ValueError(f"{self.provider.id} needs a PKCE code verifier")
            params["code_challenge"] = create_s256_code_challenge(code_verifier)
            params["code_challenge_method"] = "S256"
        params.update(self.spec.authorization_params)
        base = self._url(self.spec.authorize_url)
        return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}"

    def _authlib(self) -> AsyncOAuth2Client:
        oauth = AsyncOAuth2Client(
            client_id=self.values["client_id"],
            client_secret=self.values["client_secret"],
            token_endpoint_auth_method=self.spec.client_auth,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256" if self.uses_pkce else None,
            transport=self.http.guarded(self.provider),
            follow_redirects=False,
            timeout=self.http.timeout(),
        )
        if self.spec.client_auth == "client_secret_basic":
            # Authlib's own joins id and secret unencoded; RFC 6749 §2.3.1 form-encodes them
            # first. Registered under the same name, it serves token, refresh and revocation.
            oauth.register_client_auth_method(("client_secret_basic", self._client_basic))
        screen = self._screen
        oauth.register_compliance_hook("access_token_response", screen)
        oauth.register_compliance_hook("refresh_token_response", screen)
        return oauth

    def _client_basic(
        self, auth: Any, method: str, uri: str, headers: dict[str, str], body: str
    ) -> tuple[str, dict[str, str], str]:
        """Authlib's client-auth signature: the request with our ``Authorization`` header."""
        form = self.spec.basic_encoding == "form"
        headers["Authorization"] = basic_authorization(
            auth.client_id, auth.client_secret, form_encoded=form
        )
        return uri, headers, body

    def _screen(self, response: httpx.Response) -> httpx.Response:
        raise_for_answer(self.provider, read(response), None)
        return response

    def _token_set(self, data: Mapping[str, Any]) -> TokenSet:
        try:
            return TokenSet.from_answer(
                data,
                scope_separator=self.spec.scope_separator,
                default_lifetime_s=self.mode.access_token_lifetime_s,
            )
        except ValueError:
            raise ProviderRejectedError(
                self.provider.id, f"{self.provider.name} answered without an access token"
            ) from None

    async def exchange_code(self, code: str, *, code_verifier: str | None) -> TokenSet:
        if self._has(OAuthHook.TIKTOK_AUTH_CODE):
            tokens = await self._tiktok_exchange(code)
        else:
            extra = {"code_verifier": code_verifier} if self.uses_pkce else {}
            async with self._authlib() as oauth:
                data = await self._authlib_call(
                    oauth.fetch_token(
                        self._url(self.spec.token_url),
                        grant_type="authorization_code",
                        code=code,
                        **extra,
                    )
                )
            tokens = self._token_set(data)
        if self._has(OAuthHook.META_LONG_LIVED_EXCHANGE):
            tokens = await self._meta_long_lived(tokens.access_token)
        return tokens

    async def refresh(self, refresh_token: SecretStr) -> TokenSet:
        async with self._authlib() as oauth:
            data = await self._authlib_call(
                oauth.refresh_token(
                    self._url(self.spec.token_url),
                    refresh_token=refresh_token.get_secret_value(),
                )
            )
        return self._token_set(data)

    @property
    def can_revoke(self) -> bool:
        return self.spec.revoke_url is not None

    async def revoke(self, token: SecretStr, *, hint: str) -> None:
        """RFC 7009 revocation at the catalog's ``revoke_url`` (``hint``: ``access_token`` or
        ``refresh_token``). A token the provider already considers invalid counts as revoked."""
        if self.spec.revoke_url is None:
            raise ValueError(f"{self.provider.id} has no revocation endpoint")
        oauth = self._authlib()
        oauth.revocation_endpoint_auth_method = self.spec.client_auth
        async with oauth:
            try:
                response = await oauth.revoke_token(
                    self._url(self.spec.revoke_url),
                    token=token.get_secret_value(),
                    token_type_hint=hint,
                )
            except (httpx.TransportError, TimeoutError) as exc:
                raise ProviderUnavailableError(
                    self.provider.id, f"{self.provider.name} did not answer: {type(exc).__name__}"
                ) from None
        try:
            raise_for_answer(self.provider, read(response), None)
        except CredentialRevokedError:
            return

    async def _plain(self, request: httpx.Request) -> Any:
        async with self.http.client(self.provider) as client:
            answer = await send(client, self.provider, request)
        raise_for_answer(self.provider, answer, None)
        return answer.body

    async def _authlib_call(self, call: Any) -> Mapping[str, Any]:
        try:
            data: Mapping[str, Any] = await call
        except OAuthError as exc:
            raise ProviderRejectedError(
                self.provider.id,
                f"{self.provider.name} refused the token request: {exc.error}",
                code=str(exc.error)[:200],
            ) from None
        except (httpx.TransportError, TimeoutError) as exc:
            raise ProviderUnavailableError(
                self.provider.id, f"{self.provider.name} did not answer: {type(exc).__name__}"
            ) from None
        except ValueError:
            raise ProviderRejectedError(
                self.provider.id, f"{self.provider.name} answered the token request oddly"
            ) from None
        return data

    async def _tiktok_exchange(self, code: str) -> TokenSet:
        """TikTok: JSON ``{app_id, secret, auth_code}``; the answer is wrapped in ``data``."""
        request = httpx.Request(
            "POST",
            self._url(self.spec.token_url),
            json={
                self.spec.client_id_param: self.values["client_id"],
                self.spec.client_secret_param: self.values["client_secret"],
                self.spec.code_param: code,
            },
        )
        body = await self._plain(request)
        if value_at(body, "code") != 0:
            raise ProviderRejectedError(
                self.provider.id,
                f"{self.provider.name} refused the authorization code",
                code=str(value_at(body, "code"))[:200],
            )
        data = value_at(body, "data")
        return self._token_set(data if isinstance(data, dict) else {})

    async def _meta_long_lived(self, short: SecretStr) -> TokenSet:
        """Meta: exchange the short-lived user token for a long-lived one (~60 days)."""
        request = httpx.Request(
            "GET",
            self._url(self.spec.token_url),
            params={
                "grant_type": "fb_exchange_token",
                "client_id": self.values["client_id"],
                "client_secret": self.values["client_secret"],
                "fb_exchange_token": short.get_secret_value(),
            },
        )
        body = await self._plain(request)
        return self._token_set(body if isinstance(body, dict) else {})
