"""OAuth start and callback against the sandbox playing every OAuth provider of the catalog.

Each security property of SECURITY.md 1-9 has a test here that fails if the property breaks;
the token endpoint's call count comes from the sandbox itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from hub_catalog import AuthType, Pkce, load_catalog
from hub_contracts import (
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRequestedV1,
    connection_id,
)
from hub_keyring import Binding
from oauth_gateway.domain import pkce_s256
from provider_sandbox import platform_value

from .conftest import GATEWAY, RETURN, Harness

OAUTH = [p.id for p in load_catalog().oauth_providers()]


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    params = query(url) | changes
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))


def assert_no_store(answer: httpx.Response) -> None:
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"


# --- start ------------------------------------------------------------------------------------


async def test_start_answers_auth_url_state_expiry_and_sets_a_httponly_lax_cookie(
    gateway: Harness,
) -> None:
    answer = await gateway.start("google_ads")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"auth_url", "state", "expires_at"}
    assert query(body["auth_url"])["state"] == body["state"]
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/v1/" in cookie
    assert_no_store(answer)


async def test_start_publishes_connection_requested_with_the_tokens_organization(
    gateway: Harness,
) -> None:
    await gateway.start("shopify", shop="Acme.myshopify.com")
    (event,) = gateway.events.of(ConnectionRequestedV1)
    assert event.organization_id == gateway.org
    assert event.provider == "shopify"
    assert event.auth_type == "oauth2_authorization_code"
    assert event.requested_by == "admin-1"
    assert event.tenant_params == {"shop": "acme"}
    assert not event.submission


@pytest.mark.parametrize("provider_id", OAUTH)
async def test_authorization_url_is_built_from_the_catalog(
    provider_id: str, gateway: Harness
) -> None:
    provider = gateway.catalog.get(provider_id)
    spec = provider.mode(AuthType.OAUTH2_AUTHORIZATION_CODE).oauth
    assert spec is not None
    answer = await gateway.start(provider_id)
    url = answer.json()["auth_url"]
    params = query(url)
    # SECURITY 7: the registered redirect URI, exactly; SECURITY 9: the catalog's scopes.
    assert params["redirect_uri"] == f"{GATEWAY}/v1/oauth/{provider_id}/callback"
    if spec.scopes:
        assert params[spec.scope_param] == spec.scope_separator.join(spec.scopes)
    for name, value in spec.authorization_params.items():
        assert params[name] == value
    assert params[spec.client_id_param] == f"sandbox-{provider_id}-client_id"
    if spec.pkce == Pkce.OFF:
        assert "code_challenge" not in params
    else:
        assert params["code_challenge_method"] == "S256"
    if provider_id == "shopify":
        assert urlsplit(url).path.startswith("/p/shopify/acme.myshopify.com/admin/oauth/")


async def test_google_asks_for_offline_access_and_consent(gateway: Harness) -> None:
    params = query((await gateway.start("google_ads")).json()["auth_url"])
    assert params["access_type"] == "offline"
    assert params["prompt"] == "consent"
    assert params["scope"] == "https://www.googleapis.com/auth/adwords"


@pytest.mark.parametrize(
    "provider_id",
    [
        p
        for p in OAUTH
        if load_catalog().get(p).mode(AuthType.OAUTH2_AUTHORIZATION_CODE).oauth.pkce != Pkce.OFF
    ],  # type: ignore[union-attr]
)
async def test_pkce_challenge_is_s256_of_a_fresh_server_side_verifier(
    provider_id: str, gateway: Harness
) -> None:
    challenges = []
    for _ in range(2):
        answer = await gateway.start(provider_id)
        challenges.append(query(answer.json()["auth_url"])["code_challenge"])
    verifiers = []
    for flow in gateway.flows.rows.values():
        assert flow.code_verifier is not None
        verifier = gateway.ring.decrypt(
            flow.code_verifier, Binding(gateway.org, provider_id, "code_verifier")
        ).get_secret_value()
        assert len(verifier) >= 43
        verifiers.append(verifier)
    assert challenges == [pkce_s256(v) for v in verifiers]
    assert verifiers[0] != verifiers[1]
    assert all(v not in a for v in verifiers for a in challenges)


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


async def test_a_pkce_mismatch_is_refused_by_the_provider(gateway: Harness) -> None:
    location = await gateway.callback_url("klaviyo")
    (flow,) = gateway.flows.rows.values()
    other = gateway.ring.encrypt("x" * 64, Binding(gateway.org, "klaviyo", "code_verifier"))
    gateway.flows.rows[flow.flow_id] = type(flow)(**{**flow.__dict__, "code_verifier": other})
    answer = await gateway.browser.get(location)
    assert query(answer.headers["location"])["reason"] == "code_rejected"


# --- callback: connecting -------------------------------------------------------------------


@pytest.mark.parametrize("provider_id", OAUTH)
async def test_every_oauth_provider_connects(provider_id: str, gateway: Harness) -> None:
    answer = await gateway.connect(provider_id)
    assert answer.status_code == 303
    assert_no_store(answer)
    target = answer.headers["location"]
    assert target.startswith(RETURN + "?")
    assert query(target) == {
        "integration": str(connection_id(gateway.org, provider_id)),
        "provider": provider_id,
        "status": "connected",
    }
    (event,) = gateway.events.of(ConnectionEstablishedV1)
    assert event.organization_id == gateway.org
    assert event.connection_id == connection_id(gateway.org, provider_id)
    assert event.auth_type == "oauth2_authorization_code"
    assert event.account.name
    access = event.credentials.access_token
    assert access is not None
    plain = gateway.ring.decrypt(access, Binding(gateway.org, provider_id, "access_token"))
    assert plain.get_secret_value().startswith(f"sbx-{provider_id}-at-")
    assert plain.get_secret_value().encode() not in event.model_dump_json().encode()
    calls = await gateway.calls(provider_id)
    assert calls["token.authorization_code"] == 1
    if provider_id == "meta_ads":  # hook: short-lived → long-lived
        assert calls["token.fb_exchange_token"] == 1


async def test_meta_is_connected_to_its_ad_account_and_keeps_the_ad_accounts(
    gateway: Harness,
) -> None:
    await gateway.connect("meta_ads")
    (event,) = gateway.events.of(ConnectionEstablishedV1)
    assert (event.account.name, event.account.id) == ("Sandbox Meta Ads account", "act_1000000001")
    accounts = event.metadata["ad_accounts"]
    assert isinstance(accounts, list)
    assert [a["id"] for a in accounts] == ["act_1000000001", "act_1000000002"]  # type: ignore[index]
    assert event.metadata["business"] == {"id": "3000000001", "name": "Sandbox business"}
    assert set(event.scopes) >= {"public_profile", "ads_management"}


async def test_established_carries_expiry_refresh_token_scopes_and_shop(
    gateway: Harness,
) -> None:
    await gateway.connect("shopify", shop="acme.myshopify.com")
    (event,) = gateway.events.of(ConnectionEstablishedV1)
    assert event.metadata["shop"] == "acme"
    assert event.account.name == "Sandbox Shopify acme"
    assert event.credentials.refresh_token is not None
    assert event.token_expires_at is not None
    assert event.scopes == ["read_products", "read_orders"]


async def test_return_to_is_honoured_keeping_its_query_and_fragment(gateway: Harness) -> None:
    wanted = "http://localhost:8100/onboarding?step=3#integrations"
    location = await gateway.callback_url("slack", return_to=wanted)
    answer = await gateway.browser.get(location)
    target = answer.headers["location"]
    assert target.startswith("http://localhost:8100/onboarding?step=3&integration=")
    assert target.endswith("&provider=slack&status=connected#integrations")


# --- callback: refusals before anything is called ---------------------------------------------


async def test_tampered_state_is_refused_without_calling_the_token_endpoint(
    gateway: Harness,
) -> None:
    location = await gateway.callback_url("google_ads")
    state = query(location)["state"]
    payload, signature = state.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    for tampered in (f"{payload}.{flipped}{signature[1:]}", f"{payload[:-2]}xx.{signature}"):
        answer = await gateway.browser.get(with_query(location, state=tampered))
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_state"
        assert_no_store(answer)
    assert await gateway.token_calls("google_ads") == 0


def refused_to(answer: httpx.Response, reason: str, provider: str) -> str:
    """A refused callback goes back to the flow's return URL, saying why (issue 11)."""
    assert answer.status_code == 303, answer.text
    assert_no_store(answer)
    target = answer.headers["location"]
    assert query(target)["status"] == "error"
    assert query(target)["reason"] == reason
    assert query(target)["provider"] == provider
    return target


async def test_expired_state_goes_back_to_the_return_url_saying_so(gateway: Harness) -> None:
    wanted = "http://localhost:8100/admin/settings/integrations/google-ads/return?back=hub"
    location = await gateway.callback_url("google_ads", return_to=wanted)
    gateway.clock.advance(601)
    answer = await gateway.browser.get(location)
    target = refused_to(answer, "flow_expired", "google_ads")
    assert target.startswith(wanted + "&integration=")
    assert await gateway.token_calls("google_ads") == 0
    assert gateway.events.of(ConnectionEstablishedV1) == []


async def test_a_refused_callback_whose_flow_is_gone_goes_to_the_default_return_url(
    gateway: Harness,
) -> None:
    location = await gateway.callback_url("google_ads", return_to="http://localhost:8100/x")
    gateway.flows.rows.clear()  # purged after its retention
    gateway.clock.advance(601)
    target = refused_to(await gateway.browser.get(location), "flow_expired", "google_ads")
    assert target.startswith(RETURN + "?integration=")


async def test_a_replayed_callback_is_refused(gateway: Harness) -> None:
    location = await gateway.callback_url("google_ads")
    first = await gateway.browser.get(location)
    assert query(first.headers["location"])["status"] == "connected"
    second = await gateway.browser.get(location)
    refused_to(second, "flow_used", "google_ads")
    assert await gateway.token_calls("google_ads") == 1


async def test_concurrent_identical_callbacks_reach_the_token_endpoint_once(
    gateway: Harness,
) -> None:
    location = await gateway.callback_url("slack")
    answers = await asyncio.gather(*(gateway.browser.get(location) for _ in range(10)))
    outcomes = sorted(query(a.headers["location"])["status"] for a in answers)
    assert outcomes == ["connected"] + ["error"] * 9
    assert await gateway.token_calls("slack") == 1


async def test_a_state_delivered_to_another_providers_callback_is_refused(
    gateway: Harness,
) -> None:
    location = await gateway.callback_url("google_ads")
    mixed_up = location.replace("/v1/oauth/google_ads/", "/v1/oauth/google_drive/")
    answer = await gateway.browser.get(mixed_up)
    refused_to(answer, "provider_mismatch", "google_ads")
    assert await gateway.token_calls("google_ads") == 0
    assert await gateway.token_calls("google_drive") == 0
    # The refused mix-up did not burn the real flow.
    assert query((await gateway.browser.get(location)).headers["location"])["status"] == (
        "connected"
    )


async def test_a_callback_from_another_browser_is_refused(gateway: Harness) -> None:
    wanted = "http://localhost:8100/admin/settings/integrations/google-ads/return"
    location = await gateway.callback_url("google_ads", return_to=wanted)
    stranger = gateway.new_browser()
    await gateway.start("slack", browser=stranger)  # it has a cookie of its own
    answer = await stranger.get(location)
    assert refused_to(answer, "browser_mismatch", "google_ads").startswith(wanted + "?")
    cookieless = await gateway.new_browser().get(location)
    refused_to(cookieless, "browser_mismatch", "google_ads")
    assert await gateway.token_calls("google_ads") == 0
    assert gateway.events.of(ConnectionEstablishedV1) == []
    # The attempt ends once, with the refusal the console can show (issue 13).
    (failed,) = gateway.events.of(ConnectionFailedV1)
    assert (failed.provider, failed.reason) == ("google_ads", "browser_mismatch")


async def test_the_tenant_comes_from_the_flow_never_the_query(gateway: Harness) -> None:
    location = await gateway.callback_url("slack")
    answer = await gateway.browser.get(
        location + f"&org={uuid.uuid4()}&organization_id={uuid.uuid4()}"
    )
    assert query(answer.headers["location"])["status"] == "connected"
    (event,) = gateway.events.of(ConnectionEstablishedV1)
    assert event.organization_id == gateway.org


@pytest.mark.parametrize(
    "suffix",
    ["", "?code=abc", "?state=", "?state=a.b.c", "?state=%00%ff", "?state=" + "A" * 5000],
)
async def test_malformed_callbacks_are_4xx_json(gateway: Harness, suffix: str) -> None:
    answer = await gateway.browser.get(f"/v1/oauth/slack/callback{suffix}")
    assert 400 <= answer.status_code < 500
    assert answer.json()["error"]["code"]
    assert await gateway.token_calls("slack") == 0


async def test_a_repeated_parameter_is_refused(gateway: Harness) -> None:
    location = await gateway.callback_url("slack")
    answer = await gateway.browser.get(location + "&code=other")
    assert answer.status_code == 400
    assert await gateway.token_calls("slack") == 0


async def test_unknown_and_non_canonical_callback_paths_are_404(gateway: Harness) -> None:
    assert (await gateway.browser.get("/v1/oauth/nope/callback?state=x")).status_code == 404
    assert (await gateway.browser.get("/v1/oauth/google-ads/callback?state=x")).status_code == 404
    assert (await gateway.browser.get("/v1/oauth/resend/callback?state=x")).status_code == 404


# --- callback: outcomes after the flow is claimed ---------------------------------------------


async def test_access_denied_redirects_with_the_reason_and_never_calls_the_token_endpoint(
    gateway: Harness,
) -> None:
    await gateway.sandbox.post("/_sandbox/meta_ads/faults", json={"mode": "access_denied"})
    location = await gateway.callback_url("meta_ads")
    assert query(location)["error"] == "access_denied"
    answer = await gateway.browser.get(location)
    assert answer.status_code == 303
    assert_no_store(answer)
    assert query(answer.headers["location"]) == {
        "integration": str(connection_id(gateway.org, "meta_ads")),
        "provider": "meta_ads",
        "status": "error",
        "reason": "access_denied",
    }
    assert await gateway.token_calls("meta_ads") == 0
    (failed,) = gateway.events.of(ConnectionFailedV1)
    assert failed.reason == "access_denied"
    assert failed.organization_id == gateway.org
    assert "declined" in failed.message


async def test_another_provider_error_is_reported_without_a_token_call(gateway: Harness) -> None:
    location = await gateway.callback_url("slack")
    answer = await gateway.browser.get(
        with_query(location, error="server_error<script>").replace("code=", "x=")
    )
    assert query(answer.headers["location"])["reason"] == "provider_error"
    (failed,) = gateway.events.of(ConnectionFailedV1)
    assert "<script>" not in failed.message
    assert await gateway.token_calls("slack") == 0


async def test_a_missing_code_is_an_invalid_callback(gateway: Harness) -> None:
    location = await gateway.callback_url("slack")
    parts = query(location)
    del parts["code"]
    answer = await gateway.browser.get(f"/v1/oauth/slack/callback?{urlencode(parts)}")
    assert query(answer.headers["location"])["reason"] == "invalid_callback"
    assert await gateway.token_calls("slack") == 0


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("invalid_grant", "code_rejected"),
        ("unavailable", "provider_unavailable"),
        ("rate_limited", "provider_rate_limited"),
    ],
)
async def test_token_endpoint_failures_have_reason_codes(
    fault: str, reason: str, gateway: Harness
) -> None:
    location = await gateway.callback_url("google_ads")
    await gateway.sandbox.post("/_sandbox/google_ads/faults", json={"mode": fault})
    answer = await gateway.browser.get(location)
    assert query(answer.headers["location"])["reason"] == reason
    (failed,) = gateway.events.of(ConnectionFailedV1)
    assert failed.reason == reason
    assert failed.message
    assert gateway.events.of(ConnectionEstablishedV1) == []


async def test_a_refused_identity_fails_the_connect(gateway: Harness) -> None:
    location = await gateway.callback_url("slack")
    await gateway.sandbox.post("/_sandbox/slack/faults", json={"mode": "revoked"})
    answer = await gateway.browser.get(location)
    assert query(answer.headers["location"])["reason"] == "identity_refused"


async def test_the_person_still_gets_an_answer_when_the_result_cannot_be_recorded(
    gateway: Harness,
) -> None:
    location = await gateway.callback_url("slack")
    gateway.events.fail = True
    answer = await gateway.browser.get(location)
    assert answer.status_code == 303
    assert query(answer.headers["location"])["reason"] == "unavailable"


# --- Shopify: shop domain and signed callback (hook shopify_shop_domain) ----------------------


def _resign(params: dict[str, str]) -> dict[str, str]:
    unsigned = {k: v for k, v in params.items() if k != "hmac"}
    message = "&".join(f"{k}={v}" for k, v in sorted(unsigned.items()))
    secret = platform_value("shopify", "client_secret").encode()
    return unsigned | {"hmac": hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()}


async def test_google_names_its_issuer_and_another_or_none_is_refused(gateway: Harness) -> None:
    """SECURITY 4 (RFC 9207): Google's authorization response carries ``iss``; a callback
    without it, or naming another issuer, is a mix-up and never reaches the token endpoint."""
    for forge in ("https://evil.example", "https://accounts.google.com/", None):
        location = await gateway.callback_url("google_ads")
        assert query(location)["iss"] == "https://accounts.google.com"
        params = {k: v for k, v in query(location).items() if k != "iss"}
        if forge is not None:
            params["iss"] = forge
        parts = urlsplit(location)
        forged = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))
        answer = await gateway.browser.get(forged)
        assert query(answer.headers["location"])["reason"] == "issuer_mismatch"
    assert await gateway.token_calls("google_ads") == 0
    answer = await gateway.browser.get(await gateway.callback_url("google_ads"))
    assert "reason" not in query(answer.headers["location"])
    assert await gateway.token_calls("google_ads") == 1


async def test_shopify_callback_with_a_forged_signature_is_refused(gateway: Harness) -> None:
    location = await gateway.callback_url("shopify")
    answer = await gateway.browser.get(with_query(location, hmac="0" * 64))
    assert query(answer.headers["location"])["reason"] == "callback_signature_invalid"
    assert await gateway.token_calls("shopify") == 0


async def test_shopify_callback_naming_another_shop_is_refused(gateway: Harness) -> None:
    location = await gateway.callback_url("shopify")
    params = _resign(query(location) | {"shop": "evil.myshopify.com"})
    answer = await gateway.browser.get(f"/v1/oauth/shopify/callback?{urlencode(params)}")
    assert query(answer.headers["location"])["reason"] == "shop_mismatch"
    assert await gateway.token_calls("shopify") == 0


@pytest.mark.parametrize(
    "shop",
    [
        "evil.com",
        "acme.myshopify.com.evil.com",
        "a.b.myshopify.com",
        "acme.myshopify.com/admin",
        "https://acme.myshopify.com",
        "acme@evil.com",
        "-acme.myshopify.com",
        "",
    ],
)
async def test_shop_must_be_one_myshopify_label(shop: str, gateway: Harness) -> None:
    answer = await gateway.start("shopify", shop=shop)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_tenant_param"
    assert gateway.flows.rows == {}


async def test_shop_is_required_for_shopify_and_refused_elsewhere(gateway: Harness) -> None:
    missing = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/shopify/oauth/start", json={}, headers=gateway.headers
    )
    assert missing.status_code == 422
    stray = await gateway.start("slack", shop="acme.myshopify.com")
    assert stray.status_code == 422


# --- return_to (SECURITY 7) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "return_to",
    [
        "//evil.example/x",
        "https://app.example.evil",
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "http://127.0.0.1:8100.evil.example/x",
        "http://127.0.0.1:8100@evil.example/",
        "http://evil.example@127.0.0.1:8100/",
        "http://127.0.0.1:8100\\@evil.example",
        "HTTP://127.0.0.1:8100/settings",
        "https://127.0.0.1:8100/settings",
        "http://127.0.0.1:8101/settings",
        "/settings/integrations",
        "http://127.0.0.1:99999/",
        " http://127.0.0.1:8100/",
        "http://127.0.0.1:8100/\r\nSet-Cookie: x=y",
        "data:text/html,<script>alert(1)</script>",
    ],
)
async def test_open_redirect_attempts_are_refused_at_start(
    return_to: str, gateway: Harness
) -> None:
    answer = await gateway.start("slack", return_to=return_to)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_return_to"
    assert gateway.flows.rows == {}


async def test_without_return_to_the_flow_ends_on_the_configured_page(gateway: Harness) -> None:
    answer = await gateway.connect("slack")
    assert answer.headers["location"].startswith(RETURN + "?integration=")


# --- who may start ----------------------------------------------------------------------------


async def test_start_needs_a_valid_bearer_for_the_paths_organization(gateway: Harness) -> None:
    path = f"/v1/orgs/{gateway.org}/integrations/slack/oauth/start"
    assert (await gateway.browser.post(path, json={})).status_code == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert (await gateway.browser.post(path, json={}, headers=bad)).status_code == 401
    other = f"/v1/orgs/{uuid.uuid4()}/integrations/slack/oauth/start"
    assert (await gateway.browser.post(other, json={}, headers=gateway.headers)).status_code == 404
    from .conftest import token

    read_only = {"Authorization": f"Bearer {token(gateway.org, 'integrations:read')}"}
    assert (await gateway.browser.post(path, json={}, headers=read_only)).status_code == 403
    forged = {"Authorization": f"Bearer {token(gateway.org, secret='x' * 48)}"}
    assert (await gateway.browser.post(path, json={}, headers=forged)).status_code == 401
    assert gateway.flows.rows == {}


@pytest.mark.parametrize(
    ("provider", "status", "code"),
    [
        ("nope", 404, "unknown_provider"),
        ("better_stack", 404, "platform_provider"),
        ("resend", 409, "wrong_auth_type"),
    ],
)
async def test_start_names_what_cannot_be_started(
    provider: str, status: int, code: str, gateway: Harness
) -> None:
    answer = await gateway.start(provider)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


async def test_hyphenated_slugs_start_the_canonical_provider(gateway: Harness) -> None:
    answer = await gateway.start("google-ads")
    assert answer.status_code == 201
    assert "/v1/oauth/google_ads/callback" in query(answer.json()["auth_url"])["redirect_uri"]


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"return_to": 5}', b'{"unknown": 1}', b'"x"', b'{"shop": null, "x": 1}'],
)
async def test_malformed_start_bodies_are_4xx(body: bytes, gateway: Harness) -> None:
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/slack/oauth/start",
        content=body,
        headers={**gateway.headers, "content-type": "application/json"},
    )
    assert 400 <= answer.status_code < 500
    assert answer.json()["error"]["code"]


async def test_a_huge_body_is_413(gateway: Harness) -> None:
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/slack/oauth/start",
        json={"return_to": RETURN + "?" + "x" * 20_000},
        headers=gateway.headers,
    )
    assert answer.status_code == 413


async def test_an_unconfigured_provider_app_is_named_for_the_operator(
    catalog: object, sandbox: httpx.AsyncClient, settings: object
) -> None:
    from hub_catalog import Catalog, PlatformCredentials
    from oauth_gateway.app import create_app
    from oauth_gateway.settings import GatewaySettings

    assert isinstance(catalog, Catalog)
    assert isinstance(settings, GatewaySettings)
    from .conftest import Clock, MemoryEvents, MemoryFlows, token

    app = create_app(
        settings,
        catalog=catalog,
        platform=PlatformCredentials({}),
        outbound_transport=sandbox._transport,
        flows=MemoryFlows(Clock()),
        events=MemoryEvents(),
    )
    org = uuid.uuid4()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=GATEWAY) as client,
    ):
        answer = await client.post(
            f"/v1/orgs/{org}/integrations/slack/oauth/start",
            json={},
            headers={"Authorization": f"Bearer {token(org)}"},
        )
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "provider_not_configured"
    assert "SLACK_CLIENT_ID" in answer.json()["error"]["message"]


async def test_the_expiry_sweep_ends_abandoned_flows_once(gateway: Harness) -> None:
    started = await gateway.start("slack")
    assert started.status_code == 201
    oauth = gateway.app.state.api.oauth
    assert not await oauth.expire_due()
    assert gateway.events.of(ConnectionFailedV1) == []  # still within its lifetime
    gateway.clock.advance(gateway.settings.flow_ttl_s + 1)
    await oauth.expire_due()
    await oauth.expire_due()
    (failed,) = gateway.events.of(ConnectionFailedV1)
    assert (failed.provider, failed.reason) == ("slack", "flow_expired")
    (requested,) = gateway.events.of(ConnectionRequestedV1)
    assert failed.flow_id == requested.flow_id
    assert failed.message.startswith("The sign-in to Slack expired before it was finished")
