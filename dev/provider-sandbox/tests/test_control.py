"""The control API: call counts, reset, issued tokens, chosen token values, errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hub_catalog import AuthType

OAUTH = AuthType.OAUTH2_AUTHORIZATION_CODE


async def test_calls_are_counted_per_provider_and_endpoint(
    sandbox: Callable[[str], Any],
) -> None:
    shopify = sandbox("shopify")
    mode = shopify.mode(OAUTH)
    tokens = await shopify.connect_oauth(mode)
    await shopify.refresh(mode, tokens["refresh_token"])
    await shopify.fault("unavailable")
    await shopify.check(shopify.provider.checks.health, mode, {"access_token": "x"})
    calls = (await shopify.http.get("/_sandbox/calls")).json()
    assert calls == {
        "shopify": {
            "authorize": 1,
            "token": 2,
            "token.authorization_code": 1,
            "token.refresh_token": 1,
            "health": 1,
        }
    }


async def test_reset_forgets_everything(sandbox: Callable[[str], Any]) -> None:
    stripe = sandbox("stripe_connect")
    mode = stripe.mode(OAUTH)
    token = (await stripe.connect_oauth(mode))["access_token"]
    await stripe.fault("unavailable")
    assert (await stripe.http.post("/_sandbox/reset")).status_code == 200
    assert (await stripe.http.get("/_sandbox/calls")).json() == {}
    assert (await stripe.http.get("/_sandbox/stripe_connect/tokens")).json() == []
    health = await stripe.check(stripe.provider.checks.health, mode, {"access_token": token})
    assert health.status_code == 401


async def test_a_test_chooses_the_next_token_values(sandbox: Callable[[str], Any]) -> None:
    klaviyo = sandbox("klaviyo")
    chosen = {"access_token": "canary-at-5f2c", "refresh_token": "canary-rt-91ad"}
    answer = await klaviyo.http.post("/_sandbox/klaviyo/next-token", json=chosen)
    assert answer.status_code == 200
    tokens = await klaviyo.connect_oauth(klaviyo.mode(OAUTH))
    assert (tokens["access_token"], tokens["refresh_token"]) == tuple(chosen.values())
    listed = (await klaviyo.http.get("/_sandbox/klaviyo/tokens")).json()
    assert {(t["token"], t["kind"], t["revoked"]) for t in listed} == {
        ("canary-at-5f2c", "access", False),
        ("canary-rt-91ad", "refresh", False),
    }
    again = await klaviyo.connect_oauth(klaviyo.mode(OAUTH))
    assert again["access_token"].startswith("sbx-klaviyo-at-")


async def test_unknown_things_are_json_404s(sandbox: Callable[[str], Any]) -> None:
    http = sandbox("slack").http
    for path in (
        "/p/nobody/example.com/x",
        "/p/slack/evil.example/api/auth.test",
        "/p/slack/slack.com/api/unknown.method",
        "/_sandbox/nobody/tokens",
        "/nowhere",
    ):
        answer = await http.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"] == "not_found"
    wrong_method = await http.get("/p/slack/slack.com/api/auth.test")
    assert wrong_method.status_code == 405


async def test_an_unknown_fault_mode_is_refused(sandbox: Callable[[str], Any]) -> None:
    answer = await sandbox("slack").http.post("/_sandbox/slack/faults", json={"mode": "melted"})
    assert answer.status_code == 422


async def test_latency_delays_provider_answers_not_the_control_api(
    sandbox: Callable[[str], Any],
) -> None:
    retell = sandbox("retell")
    mode = retell.provider.auth
    key = {"api_key": "key_0123456789abcdef"}
    assert (await retell.http.post("/_sandbox/latency", json={"ms": 150})).status_code == 200
    assert (await retell.http.post("/_sandbox/reset")).status_code == 200  # keeps the latency

    started = time.perf_counter()
    await retell.check(retell.provider.checks.health, mode, key)
    slow = time.perf_counter() - started
    started = time.perf_counter()
    await retell.http.get("/_sandbox/calls")
    control = time.perf_counter() - started

    assert slow >= 0.15
    assert control < 0.15
    await retell.http.post("/_sandbox/latency", json={"ms": 0})
    started = time.perf_counter()
    await retell.check(retell.provider.checks.health, mode, key)
    assert time.perf_counter() - started < 0.15
    bad = await retell.http.post("/_sandbox/latency", json={"ms": -1})
    assert bad.status_code == 422
