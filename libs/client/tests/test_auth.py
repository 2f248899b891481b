"""``provider_auth`` places a credential where the catalog says, so a caller never knows where
Klaviyo wants its key; proved against the provider sandbox, which checks placement."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from hub_catalog import CatalogError, load_catalog
from hub_client import Credential, provider_auth
from provider_sandbox import SandboxSettings, example_value
from provider_sandbox import create_app as create_sandbox

SANDBOX = "http://sandbox.test"
CATALOG = load_catalog(base_url_override=SANDBOX)


def _credential(provider: str, fields: dict[str, str], auth_type: str = "api_key") -> Credential:
    return Credential.model_validate(
        {
            "organization_id": str(uuid.uuid4()),
            "provider": provider,
            "auth_type": auth_type,
            "fields": fields,
            "credential_version": 1,
        }
    )


def _good(provider: str) -> dict[str, str]:
    mode = CATALOG.get(provider).auth_mode("api_key")
    assert mode is not None
    return {field.name: example_value(field) for field in mode.fields}


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_sandbox(SandboxSettings(), catalog=load_catalog())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=SANDBOX) as client:
        yield client


def _request(auth: httpx.Auth, url: str) -> httpx.Request:
    flow = auth.sync_auth_flow(httpx.Request("GET", url))
    return next(flow)


def test_a_header_placement_renders_klaviyos_key_and_revision() -> None:
    auth = provider_auth(_credential("klaviyo", {"private_api_key": "pk_1", "public_api_key": "X"}))
    sent = _request(auth, "https://a.klaviyo.com/api/accounts/")
    assert sent.headers["authorization"] == "Klaviyo-API-Key pk_1"
    assert sent.headers["revision"]
    assert "pk_1" not in repr(auth)


def test_query_and_basic_placements() -> None:
    ga4 = provider_auth(_credential("ga4", {"measurement_id": "G-1", "api_secret": "s3"}))
    sent = _request(ga4, "https://www.google-analytics.com/mp/collect?x=1")
    assert dict(sent.url.params) == {"x": "1", "measurement_id": "G-1", "api_secret": "s3"}
    mux = provider_auth(_credential("mux", {"token_id": "id", "token_secret": "sec"}))
    sent = _request(mux, "https://api.mux.com/video/v1/assets")
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"id:sec").decode()


def test_an_oauth_credential_uses_its_modes_transport() -> None:
    auth = provider_auth(
        _credential("klaviyo", {"access_token": "at-1"}, auth_type="oauth2_authorization_code")
    )
    assert _request(auth, "https://a.klaviyo.com/x").headers["authorization"] == "Bearer at-1"


def test_a_missing_value_or_an_unknown_mode_is_named() -> None:
    with pytest.raises(CatalogError, match="private_api_key"):
        provider_auth(_credential("klaviyo", {"public_api_key": "X"}))
    with pytest.raises(CatalogError, match="no 'token_exchange' mode"):
        provider_auth(_credential("klaviyo", {}, auth_type="token_exchange"))


@pytest.mark.parametrize("provider", ["klaviyo", "lob", "mux", "resend"])
async def test_the_sandbox_accepts_what_the_auth_places_and_refuses_without_it(
    provider: str, sandbox: httpx.AsyncClient
) -> None:
    entry = CATALOG.get(provider)
    health = entry.checks.health
    assert health is not None
    url = CATALOG.url(entry, health.url, {})
    auth = provider_auth(_credential(provider, _good(provider)), CATALOG)
    asked = {"params": health.query, "headers": health.headers}  # the call itself, not auth
    answer = await sandbox.request(health.method, url, auth=auth, **asked)
    assert answer.status_code == 200, answer.text
    bare = await sandbox.request(health.method, url, **asked)
    assert bare.status_code in (400, 401, 403)
