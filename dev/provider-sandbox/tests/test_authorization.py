"""The authorize page and the authorization-code grant."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from hub_catalog import AuthType, classify
from provider_sandbox import platform_value

VERIFIER = secrets.token_urlsafe(48)
OAUTH = AuthType.OAUTH2_AUTHORIZATION_CODE


async def test_pkce_code_exchange_issues_tokens(sandbox: Callable[[str], Any]) -> None:
    klaviyo = sandbox("klaviyo")
    mode = klaviyo.mode(OAUTH)
    answer = await klaviyo.exchange(mode, await klaviyo.code(mode, VERIFIER), VERIFIER)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith("sbx-klaviyo-at-")
    assert body["refresh_token"].startswith("sbx-klaviyo-rt-")
    assert body["expires_in"] == mode.access_token_lifetime_s
    assert body["scope"].split(" ") == mode.oauth.scopes


async def test_pkce_verifier_mismatch_is_invalid_grant(sandbox: Callable[[str], Any]) -> None:
    klaviyo = sandbox("klaviyo")
    mode = klaviyo.mode(OAUTH)
    code = await klaviyo.code(mode, VERIFIER)
    answer = await klaviyo.exchange(mode, code, secrets.token_urlsafe(48))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_required_pkce_without_a_challenge_goes_back_as_an_error(
    sandbox: Callable[[str], Any],
) -> None:
    klaviyo = sandbox("klaviyo")
    callback = klaviyo.callback(await klaviyo.authorize(klaviyo.mode(OAUTH), verifier=None))
    assert callback["error"] == "invalid_request"
    assert callback["state"] == "state-1"
    assert "code" not in callback


async def test_a_code_works_once_and_its_replay_revokes_what_it_issued(
    sandbox: Callable[[str], Any],
) -> None:
    drive = sandbox("google_drive")
    mode = drive.mode(OAUTH)
    code = await drive.code(mode, VERIFIER)
    first = await drive.exchange(mode, code, VERIFIER)
    assert first.status_code == 200
    replay = await drive.exchange(mode, code, VERIFIER)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    token = first.json()["access_token"]
    health = await drive.check(drive.provider.checks.health, mode, {"access_token": token})
    assert classify(drive.provider, health.status_code, health.json()) == "revoked"


async def test_redirect_uri_must_match_byte_for_byte(sandbox: Callable[[str], Any]) -> None:
    stripe = sandbox("stripe_connect")
    mode = stripe.mode(OAUTH)
    code = await stripe.code(mode, None)
    answer = await stripe.exchange(
        mode, code, redirect_uri="https://hub.example/v1/oauth/callback/"
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_access_denied_fault_sends_the_user_back_with_the_error(
    sandbox: Callable[[str], Any],
) -> None:
    slack = sandbox("slack")
    await slack.fault("access_denied")
    callback = slack.callback(await slack.authorize(slack.mode(OAUTH)))
    assert callback["error"] == "access_denied"
    assert callback["state"] == "state-1"
    assert "code" not in callback


async def test_an_unknown_client_is_told_on_the_page_never_redirected(
    sandbox: Callable[[str], Any],
) -> None:
    meta = sandbox("meta_ads")
    answer = await meta.authorize(meta.mode(OAUTH), client_id="someone-else")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"


async def test_scopes_must_be_the_catalogs(sandbox: Callable[[str], Any]) -> None:
    google_ads = sandbox("google_ads")
    mode = google_ads.mode(OAUTH)
    answer = await google_ads.authorize(mode, VERIFIER, scope="openid email")
    assert google_ads.callback(answer)["error"] == "invalid_scope"


async def test_catalog_authorization_params_are_required(sandbox: Callable[[str], Any]) -> None:
    google_ads = sandbox("google_ads")
    answer = await google_ads.authorize(google_ads.mode(OAUTH), VERIFIER, access_type=None)
    assert google_ads.callback(answer)["error"] == "invalid_request"


async def test_a_wrong_client_secret_is_invalid_client(sandbox: Callable[[str], Any]) -> None:
    wise = sandbox("wise")
    mode = wise.mode(OAUTH)
    code = await wise.code(mode, None)
    wise.values["client_secret"] = "not-the-secret"
    answer = await wise.exchange(mode, code)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


async def test_shopify_callback_names_the_shop_and_is_signed(
    sandbox: Callable[[str], Any],
) -> None:
    shopify = sandbox("shopify")
    callback = shopify.callback(await shopify.authorize(shopify.mode(OAUTH)))
    assert callback["shop"] == "acme.myshopify.com"
    signed = "&".join(f"{k}={v}" for k, v in sorted(callback.items()) if k != "hmac")
    secret = platform_value("shopify", "client_secret").encode()
    assert callback["hmac"] == hmac.new(secret, signed.encode(), hashlib.sha256).hexdigest()


async def test_a_shop_code_is_refused_at_another_shop(sandbox: Callable[[str], Any]) -> None:
    shopify = sandbox("shopify")
    mode = shopify.mode(OAUTH)
    code = await shopify.code(mode, None)
    shopify.values["shop"] = "other"
    answer = await shopify.exchange(mode, code)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
