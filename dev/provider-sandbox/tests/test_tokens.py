"""Refresh grants, the named hooks' token answers, lifetimes and the revoke endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hub_catalog import AuthType, classify
from provider_sandbox import SandboxSettings

OAUTH = AuthType.OAUTH2_AUTHORIZATION_CODE


async def test_rotating_refresh_replaces_the_refresh_token_once(
    sandbox: Callable[[str], Any],
) -> None:
    shopify = sandbox("shopify")
    mode = shopify.mode(OAUTH)
    old = (await shopify.connect_oauth(mode))["refresh_token"]
    refreshed = await shopify.refresh(mode, old)
    assert refreshed.status_code == 200
    new = refreshed.json()["refresh_token"]
    assert new != old
    reused = await shopify.refresh(mode, old)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert (await shopify.refresh(mode, new)).status_code == 200


async def test_non_rotating_refresh_keeps_the_refresh_token(
    sandbox: Callable[[str], Any],
) -> None:
    google_ads = sandbox("google_ads")
    mode = google_ads.mode(OAUTH)
    refresh_token = (await google_ads.connect_oauth(mode))["refresh_token"]
    for _ in range(2):
        answer = await google_ads.refresh(mode, refresh_token)
        assert answer.status_code == 200
        assert "refresh_token" not in answer.json()
        assert answer.json()["expires_in"] == 3600


async def test_revoked_fault_refuses_tokens_and_refreshes(sandbox: Callable[[str], Any]) -> None:
    shopify = sandbox("shopify")
    mode = shopify.mode(OAUTH)
    tokens = await shopify.connect_oauth(mode)
    await shopify.fault("revoked")
    health = await shopify.check(
        shopify.provider.checks.health, mode, {"access_token": tokens["access_token"]}
    )
    assert health.status_code == 401
    refreshed = await shopify.refresh(mode, tokens["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"
    await shopify.fault("ok")
    assert (await shopify.refresh(mode, tokens["refresh_token"])).status_code == 200


async def test_invalid_grant_fault_refuses_the_code_exchange(
    sandbox: Callable[[str], Any],
) -> None:
    stripe = sandbox("stripe_connect")
    mode = stripe.mode(OAUTH)
    code = await stripe.code(mode, None)
    await stripe.fault("invalid_grant")
    answer = await stripe.exchange(mode, code)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


async def test_slack_answers_oauth_v2_access_in_its_own_shape(
    sandbox: Callable[[str], Any],
) -> None:
    slack = sandbox("slack")
    mode = slack.mode(OAUTH)
    body = await slack.connect_oauth(mode)
    assert body["ok"] is True
    assert body["token_type"] == "bot"
    assert body["scope"] == "chat:write,chat:write.public,channels:read"
    assert {"bot_user_id", "app_id", "refresh_token", "expires_in"} <= body.keys()
    assert body["team"]["name"] == "Sandbox Slack account"
    await slack.refresh(mode, body["refresh_token"])
    reused = await slack.refresh(mode, body["refresh_token"])
    assert reused.status_code == 200
    assert reused.json() == {"ok": False, "error": "invalid_refresh_token"}
    assert classify(slack.provider, reused.status_code, reused.json()) == "revoked"


async def test_tiktok_exchanges_an_auth_code_in_json(sandbox: Callable[[str], Any]) -> None:
    tiktok = sandbox("tiktok_ads")
    mode = tiktok.mode(OAUTH)
    code = await tiktok.code(mode, None)
    answer = await tiktok.token(mode, {"auth_code": code})
    body = answer.json()
    assert (body["code"], body["message"]) == (0, "OK")
    assert body["data"]["access_token"].startswith("sbx-tiktok_ads-at-")
    assert body["data"]["advertiser_ids"]
    replay = await tiktok.token(mode, {"auth_code": code})
    assert (replay.status_code, replay.json()["code"]) == (200, 40110)


async def test_meta_exchanges_a_short_lived_token_for_a_long_lived_one(
    sandbox: Callable[[str], Any],
) -> None:
    meta = sandbox("meta_ads")
    mode = meta.mode(OAUTH)
    short = (await meta.exchange(mode, await meta.code(mode, None))).json()
    assert short["expires_in"] == 3600
    assert "refresh_token" not in short
    long_lived = await meta.connect_oauth(mode)
    assert long_lived["expires_in"] == mode.access_token_lifetime_s
    unknown = await meta.token(
        mode, {"grant_type": "fb_exchange_token", "fb_exchange_token": "never-issued"}
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == 190


@pytest.mark.parametrize("settings", [SandboxSettings(access_token_lifetime_s=0)])
async def test_lifetime_override_expires_access_tokens(sandbox: Callable[[str], Any]) -> None:
    drive = sandbox("google_drive")
    mode = drive.mode(OAUTH)
    body = await drive.connect_oauth(mode)
    assert body["expires_in"] == 0
    health = await drive.check(
        drive.provider.checks.health, mode, {"access_token": body["access_token"]}
    )
    assert health.status_code == 401


async def test_the_revoke_endpoint_revokes_the_whole_grant(sandbox: Callable[[str], Any]) -> None:
    calendar = sandbox("google_calendar")
    mode = calendar.mode(OAUTH)
    tokens = await calendar.connect_oauth(mode)
    revoke_url = calendar.url(mode.oauth.revoke_url)
    answer = await calendar.http.post(revoke_url, data={"token": tokens["refresh_token"]})
    assert answer.status_code == 200
    health = await calendar.check(
        calendar.provider.checks.health, mode, {"access_token": tokens["access_token"]}
    )
    assert health.status_code == 401
    assert (await calendar.refresh(mode, tokens["refresh_token"])).status_code == 400
