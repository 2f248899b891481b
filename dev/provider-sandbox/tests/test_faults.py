"""Faults switched on through the control API: for a provider, or for one credential."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hub_catalog import AuthType, classify

API_KEY = AuthType.API_KEY
OAUTH = AuthType.OAUTH2_AUTHORIZATION_CODE


async def _health(client: Any, values: dict[str, str] | None = None) -> Any:
    mode = client.mode(API_KEY)
    values = values or client.typed_values(mode)
    return await client.check(client.provider.checks.health, mode, values)


async def test_rate_limited_answers_429_with_retry_after(sandbox: Callable[[str], Any]) -> None:
    elevenlabs = sandbox("elevenlabs")
    await elevenlabs.fault("rate_limited", retry_after=7)
    answer = await _health(elevenlabs)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "7"


async def test_tiktok_is_rate_limited_in_the_body(sandbox: Callable[[str], Any]) -> None:
    tiktok = sandbox("tiktok_ads")
    mode = tiktok.mode(OAUTH)
    token = (await tiktok.connect_oauth(mode))["access_token"]
    await tiktok.fault("rate_limited")
    answer = await tiktok.check(tiktok.provider.checks.health, mode, {"access_token": token})
    assert (answer.status_code, answer.json()["code"]) == (200, 40100)
    assert classify(tiktok.provider, 200, answer.json()) == "rate_limited"


async def test_unavailable_answers_503_until_set_back_to_ok(
    sandbox: Callable[[str], Any],
) -> None:
    fairing = sandbox("fairing")
    await fairing.fault("unavailable", retry_after=3)
    answer = await _health(fairing)
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "3")
    await fairing.fault("ok")
    assert (await _health(fairing)).status_code == 200


async def test_unavailable_hits_the_token_endpoint_too(sandbox: Callable[[str], Any]) -> None:
    slack = sandbox("slack")
    mode = slack.mode(OAUTH)
    code = await slack.code(mode, None)
    await slack.fault("unavailable")
    assert (await slack.exchange(mode, code)).status_code == 503


async def test_slow_answers_after_the_delay(sandbox: Callable[[str], Any]) -> None:
    assemblyai = sandbox("assemblyai")
    await assemblyai.fault("slow", delay=0.2)
    started = time.monotonic()
    answer = await _health(assemblyai)
    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_a_credential_fault_hits_only_that_credential(
    sandbox: Callable[[str], Any],
) -> None:
    retell = sandbox("retell")
    hit, spared = {"api_key": "key_hit_0001"}, {"api_key": "key_spared_0002"}
    await retell.fault("revoked", credential=hit["api_key"])
    assert (await _health(retell, hit)).status_code == 401
    assert (await _health(retell, spared)).status_code == 200
    await retell.fault("ok", credential=hit["api_key"])
    assert (await _health(retell, hit)).status_code == 200


async def test_a_credential_fault_on_a_refresh_token(sandbox: Callable[[str], Any]) -> None:
    calendar = sandbox("google_calendar")
    mode = calendar.mode(OAUTH)
    hit = (await calendar.connect_oauth(mode))["refresh_token"]
    spared = (await calendar.connect_oauth(mode))["refresh_token"]
    await calendar.fault("rate_limited", credential=hit, retry_after=2)
    limited = await calendar.refresh(mode, hit)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")
    assert (await calendar.refresh(mode, spared)).status_code == 200
