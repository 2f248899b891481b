"""The sandbox in memory (ASGI), and a client that builds every request from catalog data alone,
as the production services will: URLs through the base-URL override, credentials where the
mode's placements put them, platform credentials from the environment the local stack sets."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from hub_catalog import (
    AuthMode,
    AuthType,
    Catalog,
    OAuthHook,
    Pkce,
    Placement,
    Provider,
    RequestSpec,
    load_catalog,
    render,
    value_at,
)
from hub_providers.calls import basic_authorization
from provider_sandbox import SandboxSettings, create_app, example_value, platform_environment

BASE = "http://sandbox.test"
REDIRECT_URI = "https://hub.example/v1/oauth/callback"
SHOP = "acme"


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class CatalogClient:
    """One provider, driven the way the gateway, refresher and health monitor will drive it."""

    def __init__(self, http: httpx.AsyncClient, catalog: Catalog, provider: Provider) -> None:
        self.http = http
        self.catalog = catalog
        self.provider = provider
        environment = platform_environment(catalog)
        self.values = {c.name: environment[c.env] for c in provider.platform_credentials}
        self.values |= dict.fromkeys(provider.tenant_params, SHOP)

    def mode(self, auth_type: AuthType | None = None) -> AuthMode:
        return self.provider.auth if auth_type is None else self.provider.mode(auth_type)

    def url(self, template: str, values: dict[str, str] | None = None) -> str:
        return self.catalog.url(self.provider, template, self.values | (values or {}))

    async def fault(self, mode: str, **options: Any) -> None:
        """Switch a fault on through the control API."""
        answer = await self.http.post(
            f"/_sandbox/{self.provider.id}/faults", json={"mode": mode, **options}
        )
        assert answer.status_code == 200, answer.text

    # OAuth

    async def authorize(
        self, mode: AuthMode, verifier: str | None = None, **overrides: str | None
    ) -> httpx.Response:
        oauth = mode.oauth
        assert oauth is not None
        params: dict[str, str | None] = {
            oauth.client_id_param: self.values["client_id"],
            "redirect_uri": REDIRECT_URI,
            "state": "state-1",
            **oauth.authorization_params,
        }
        if OAuthHook.TIKTOK_AUTH_CODE not in oauth.hooks:
            params["response_type"] = "code"
        if oauth.scopes:
            params[oauth.scope_param] = oauth.scope_separator.join(oauth.scopes)
        if verifier is not None and oauth.pkce != Pkce.OFF:
            params |= {"code_challenge": s256(verifier), "code_challenge_method": "S256"}
        params |= overrides
        sent = {name: value for name, value in params.items() if value is not None}
        return await self.http.get(self.url(oauth.authorize_url), params=sent)

    @staticmethod
    def callback(answer: httpx.Response) -> dict[str, str]:
        """The query of the authorize page's redirect."""
        assert answer.status_code == 302, answer.text
        return dict(parse_qsl(urlsplit(answer.headers["location"]).query))

    async def code(self, mode: AuthMode, verifier: str | None, **overrides: str | None) -> str:
        """Authorize and return the code the callback carries."""
        assert mode.oauth is not None
        callback = self.callback(await self.authorize(mode, verifier, **overrides))
        return callback[mode.oauth.code_param]

    async def token(self, mode: AuthMode, fields: dict[str, str]) -> httpx.Response:
        oauth = mode.oauth
        assert oauth is not None
        client = (self.values["client_id"], self.values["client_secret"])
        headers = {}
        if oauth.client_auth == "client_secret_basic":  # as RFC 6749 §2.3.1 encodes the pair
            headers["Authorization"] = basic_authorization(*client, form_encoded=True)
        else:
            fields = {
                oauth.client_id_param: client[0],
                oauth.client_secret_param: client[1],
            } | fields
        url = self.url(oauth.token_url)
        if oauth.token_request_format == "json":
            return await self.http.post(url, json=fields, headers=headers)
        return await self.http.post(url, data=fields, headers=headers)

    async def exchange(
        self, mode: AuthMode, code: str, verifier: str | None = None, **overrides: str
    ) -> httpx.Response:
        oauth = mode.oauth
        assert oauth is not None
        fields = {oauth.code_param: code}
        if OAuthHook.TIKTOK_AUTH_CODE not in oauth.hooks:
            fields |= {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}
        if verifier is not None:
            fields["code_verifier"] = verifier
        return await self.token(mode, fields | overrides)

    async def refresh(self, mode: AuthMode, refresh_token: str) -> httpx.Response:
        return await self.token(
            mode, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def connect_oauth(self, mode: AuthMode) -> dict[str, Any]:
        """Authorize, exchange the code (and Meta's long-lived exchange): the token answer."""
        oauth = mode.oauth
        assert oauth is not None
        verifier = secrets.token_urlsafe(48)
        answer = await self.exchange(mode, await self.code(mode, verifier), verifier)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if OAuthHook.TIKTOK_AUTH_CODE in oauth.hooks:
            body = body["data"]
        if OAuthHook.META_LONG_LIVED_EXCHANGE in oauth.hooks:
            fields = {"grant_type": "fb_exchange_token", "fb_exchange_token": body["access_token"]}
            body = (await self.token(mode, fields)).json()
        return body

    # Requests made with a credential

    async def send(
        self, request: RequestSpec, placements: list[Placement], values: dict[str, str]
    ) -> httpx.Response:
        values = self.values | values
        headers = {name: render(value, values) for name, value in request.headers.items()}
        params = {name: render(value, values) for name, value in request.query.items()}
        auth = None
        for placement in placements:
            if placement.kind == "basic":
                auth = (
                    render(placement.username or "", values),
                    render(placement.password or "", values),
                )
            elif placement.kind == "header":
                headers[placement.name or ""] = render(placement.value or "", values)
            else:
                params[placement.name or ""] = render(placement.value or "", values)
        content: dict[str, Any] = {}
        if request.json_body is not None:
            content["json"] = _render_json(request.json_body, values)
        if request.form_body is not None:
            content["data"] = {k: render(v, values) for k, v in request.form_body.items()}
        url = self.url(request.url, values)
        return await self.http.request(
            request.method, url, headers=headers, params=params, auth=auth, **content
        )

    async def check(
        self, request: RequestSpec, mode: AuthMode, credentials: dict[str, str]
    ) -> httpx.Response:
        return await self.send(request, [*mode.transport, *request.auth], credentials)

    async def mint(self, mode: AuthMode, fields: dict[str, str]) -> httpx.Response:
        assert mode.mint is not None
        return await self.send(mode.mint, mode.mint.auth, fields)

    def typed_values(self, mode: AuthMode) -> dict[str, str]:
        """What an admin types: the platform's value for a platform provider, else an example."""
        return {f.name: self.values.get(f.name) or example_value(f) for f in mode.fields}

    async def connect(self, mode: AuthMode) -> dict[str, str]:
        """The credential a connection in ``mode`` holds once connected."""
        if mode.oauth is not None:
            return {"access_token": (await self.connect_oauth(mode))["access_token"]}
        fields = self.typed_values(mode)
        if mode.mint is None:
            return fields
        answer = await self.mint(mode, fields)
        assert answer.status_code == 200, answer.text
        return {"access_token": value_at(answer.json(), mode.mint.token_path or "access_token")}


def _render_json(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, dict):
        return {key: _render_json(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [_render_json(item, values) for item in template]
    return render(template, values) if isinstance(template, str) else template


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(base_url_override=BASE)


@pytest.fixture
def settings() -> SandboxSettings:
    return SandboxSettings(access_token_lifetime_s=None, access_log=False)


@pytest.fixture
async def http(settings: SandboxSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, catalog=load_catalog())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as http:
        yield http


@pytest.fixture
def sandbox(http: httpx.AsyncClient, catalog: Catalog) -> Callable[[str], CatalogClient]:
    """``sandbox("klaviyo")``: a client for one provider of the in-memory sandbox."""
    return lambda provider_id: CatalogClient(http, catalog, catalog.get(provider_id))
