"""The catalog-driven OAuth client against the sandbox playing every OAuth provider."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from hub_catalog import AuthType, Catalog, RefreshStrategy, load_catalog
from hub_providers import (
    CredentialRevokedError,
    OAuthClient,
    OutboundHttp,
    ProviderRejectedError,
    ProviderUnavailableError,
    RateLimitedError,
    TokenSet,
    check,
)
from pydantic import SecretStr

from .conftest import platform_values

REDIRECT = "https://hub.example/v1/oauth/callback"
OAUTH = [p.id for p in load_catalog().oauth_providers()]


def _client(http: OutboundHttp, catalog: Catalog, provider_id: str) -> OAuthClient:
    values = platform_values(catalog, provider_id) | {"shop": "acme"}
    return OAuthClient(http, catalog.get(provider_id), values, redirect_uri=REDIRECT)


async def _connect(client: OAuthClient, sandbox: httpx.AsyncClient) -> TokenSet:
    verifier = secrets.token_urlsafe(48)
    url = client.authorization_url(state="s1", code_verifier=verifier)
    redirect = await sandbox.get(url)
    assert redirect.status_code == 302, redirect.text
    callback = dict(parse_qsl(urlsplit(redirect.headers["location"]).query))
    assert callback["state"] == "s1"
    code = callback[client.spec.code_param]
    return await client.exchange_code(code, code_verifier=verifier)


@pytest.mark.parametrize("provider_id", OAUTH)
async def test_connect_then_prove_the_token_for_every_oauth_provider(
    provider_id: str, http: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient
) -> None:
    client = _client(http, catalog, provider_id)
    tokens = await _connect(client, sandbox)
    assert tokens.access_token.get_secret_value()
    provider = catalog.get(provider_id)
    spec = provider.checks.identity or provider.checks.health
    assert spec is not None
    values = platform_values(catalog, provider_id) | {
        "shop": "acme",
        "access_token": tokens.access_token.get_secret_value(),
    }
    result = await check(http, provider, client.mode, spec, values)
    if spec.account_name_path:
        assert result.account_name


@pytest.mark.parametrize(
    "provider_id",
    [
        p
        for p in OAUTH
        if load_catalog().get(p).mode(AuthType.OAUTH2_AUTHORIZATION_CODE).refresh
        in (RefreshStrategy.REFRESH_GRANT, RefreshStrategy.ROTATING_REFRESH_GRANT)
    ],
)
async def test_refresh_grant_for_every_refreshable_provider(
    provider_id: str, http: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient
) -> None:
    client = _client(http, catalog, provider_id)
    first = await _connect(client, sandbox)
    assert first.refresh_token is not None
    second = await client.refresh(first.refresh_token)
    assert second.access_token.get_secret_value() != first.access_token.get_secret_value()
    assert second.expires_at is not None
    rotating = client.mode.refresh == RefreshStrategy.ROTATING_REFRESH_GRANT
    assert second.refresh_token is not None
    assert (second.refresh_token != first.refresh_token) is rotating
    if rotating:
        with pytest.raises(CredentialRevokedError):
            await client.refresh(first.refresh_token)


def test_authorization_url_carries_scopes_pkce_and_provider_params(
    http: OutboundHttp, catalog: Catalog
) -> None:
    client = _client(http, catalog, "google_ads")
    query = dict(
        parse_qsl(urlsplit(client.authorization_url(state="s", code_verifier="v" * 43)).query)
    )
    assert query["scope"] == "https://www.googleapis.com/auth/adwords"
    assert query["access_type"] == "offline"
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == REDIRECT


async def test_pkce_verifier_mismatch_is_refused(
    http: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient
) -> None:
    client = _client(http, catalog, "google_ads")
    redirect = await sandbox.get(client.authorization_url(state="s", code_verifier="a" * 43))
    code = dict(parse_qsl(urlsplit(redirect.headers["location"]).query))["code"]
    with pytest.raises((CredentialRevokedError, ProviderRejectedError)):
        await client.exchange_code(code, code_verifier="b" * 43)


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("rate_limited", RateLimitedError),
        ("unavailable", ProviderUnavailableError),
        ("invalid_grant", CredentialRevokedError),
    ],
)
async def test_refresh_failures_are_classified(
    mode: str,
    error: type[Exception],
    http: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    client = _client(http, catalog, "google_ads")
    tokens = await _connect(client, sandbox)
    answer = await sandbox.post(
        "/_sandbox/google_ads/faults", json={"mode": mode, "retry_after": 7}
    )
    assert answer.status_code == 200
    assert tokens.refresh_token is not None
    with pytest.raises(error) as caught:
        await client.refresh(tokens.refresh_token)
    if isinstance(caught.value, RateLimitedError):
        assert caught.value.retry_after_s == 7


async def test_slack_revoked_refresh_token_in_a_200_body_is_revoked(
    http: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient
) -> None:
    client = _client(http, catalog, "slack")
    await sandbox.post("/_sandbox/slack/faults", json={"mode": "invalid_grant"})
    with pytest.raises(CredentialRevokedError):
        await client.refresh(SecretStr("xoxe-1-unknown"))


@pytest.mark.parametrize(
    "provider_id",
    [
        p.id
        for p in load_catalog().oauth_providers()
        if p.mode(AuthType.OAUTH2_AUTHORIZATION_CODE).oauth.revoke_url
    ],  # type: ignore[union-attr]
)
async def test_revocation_makes_the_grant_unusable(
    provider_id: str, http: OutboundHttp, catalog: Catalog, sandbox: httpx.AsyncClient
) -> None:
    client = _client(http, catalog, provider_id)
    tokens = await _connect(client, sandbox)
    assert client.can_revoke
    assert tokens.refresh_token is not None
    await client.revoke(tokens.refresh_token, hint="refresh_token")
    calls = (await sandbox.get("/_sandbox/calls")).json()[provider_id]
    assert calls["revoke"] == 1
    with pytest.raises(CredentialRevokedError):
        await client.refresh(tokens.refresh_token)
    await client.revoke(tokens.refresh_token, hint="refresh_token")  # already gone: fine
