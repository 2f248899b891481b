"""Answers the sandbox does not play, from a fake provider at the real hosts: permission problems
(ElevenLabs' 401 missing_permissions, Wise's 403 SCA) are not dead credentials; body-coded revoked
signals (Meta 190 at any status, Plaid ITEM_LOGIN_REQUIRED, TikTok 40105) are; and each request
carries the credential exactly where the provider expects it."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from health_monitor.adapters.prober import ProviderProber
from health_monitor.domain import Outcome
from health_monitor.service import HealthMonitor, Policy
from hub_catalog import PlatformCredentials, load_catalog
from hub_contracts import ConnectionUnhealthyV1
from hub_keyring import KeyRing
from hub_providers import OutboundHttp

from .conftest import Recorder, Sleeps, due

CATALOG = load_catalog()  # real provider hosts, no sandbox override
PLATFORM = PlatformCredentials(
    {
        "TIKTOK_APP_ID": "app-1",
        "TIKTOK_APP_SECRET": "app-secret-1",
        "GOOGLE_ADS_DEVELOPER_TOKEN": "dev",
    }
)

Answerer = Callable[[httpx.Request], httpx.Response]


def _monitor(keyring: KeyRing, answer: Answerer, recorder: Recorder) -> HealthMonitor:
    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    http = OutboundHttp(CATALOG, transport=httpx.MockTransport(answer), resolver=public)
    return HealthMonitor(
        CATALOG, keyring, PLATFORM, ProviderProber(http), recorder, policy=Policy(), sleep=Sleeps()
    )


def _json(status: int, body: Any) -> Answerer:
    return lambda request: httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("provider_id", "values", "status", "body", "outcome", "reason"),
    [
        (
            "elevenlabs",
            {"api_key": "k" * 20},
            401,
            {"detail": {"status": "missing_permissions"}},
            Outcome.PERMISSION,
            "insufficient_scope",
        ),
        (
            "elevenlabs",
            {"api_key": "k" * 20},
            401,
            {"detail": {"status": "invalid_api_key"}},
            Outcome.REVOKED,
            "revoked",
        ),
        (
            "wise",
            {"api_token": "w" * 20},
            403,
            {"error": "SCA required"},
            Outcome.PERMISSION,
            "insufficient_scope",
        ),
        (
            "sentry_like_google",
            None,
            403,
            {"error": {"errors": [{"reason": "insufficientPermissions"}]}},
            Outcome.PERMISSION,
            "insufficient_scope",
        ),
        (
            "meta_ads",
            {"access_token": "m" * 20},
            401,
            {"error": {"code": 190, "error_subcode": 463}},
            Outcome.REVOKED,
            "revoked",
        ),
        (
            "plaid",
            {"client_id": "c" * 10, "secret": "s" * 20},
            400,
            {"error_type": "ITEM_ERROR", "error_code": "ITEM_LOGIN_REQUIRED"},
            Outcome.REVOKED,
            "revoked",
        ),
        (
            "tiktok_ads",
            {"access_token": "t" * 20},
            200,
            {"code": 40105, "message": "revoked"},
            Outcome.REVOKED,
            "revoked",
        ),
        (
            "slack",
            {"access_token": "x" * 20},
            200,
            {"ok": False, "error": "invalid_auth"},
            Outcome.REVOKED,
            "revoked",
        ),
        (
            "paypal",
            {"client_id": "c" * 10, "client_secret": "s" * 20},
            403,
            {"name": "NOT_AUTHORIZED"},
            Outcome.PERMISSION,
            "insufficient_scope",
        ),
        (
            "klaviyo",
            {"private_api_key": "pk_" + "k" * 20, "public_api_key": "Site12"},
            404,
            {},
            Outcome.MISCONFIGURED,
            "misconfigured",
        ),
    ],
)
async def test_refusals_are_classified_by_what_they_mean(
    provider_id: str,
    values: dict[str, str] | None,
    status: int,
    body: Any,
    outcome: Outcome,
    reason: str,
    keyring: KeyRing,
    recorder: Recorder,
) -> None:
    if provider_id == "sentry_like_google":
        provider_id, values = "google_drive", {"access_token": "g" * 20}
    assert values is not None
    provider = CATALOG.get(provider_id)
    monitor = _monitor(keyring, _json(status, body), recorder)

    report = await monitor.check(due(keyring, provider, values, status="active"))

    assert report.verdict.outcome == outcome
    [event] = recorder.events
    assert isinstance(event, ConnectionUnhealthyV1)
    assert event.reason == reason
    assert event.provider_status == status


async def test_an_unknown_ok_false_is_retried_like_an_outage_not_called_revoked(
    keyring: KeyRing, recorder: Recorder
) -> None:
    monitor = _monitor(keyring, _json(200, {"ok": False, "error": "fatal_error"}), recorder)

    report = await monitor.check(due(keyring, CATALOG.get("slack"), {"access_token": "x" * 20}))

    assert report.verdict.outcome == Outcome.UNAVAILABLE
    assert report.verdict.attempts == monitor.policy.attempts
    assert recorder.events[0].reason == "provider_unavailable"  # type: ignore[attr-defined]


def _seen(into: list[httpx.Request], body: Any = None) -> Answerer:
    def answer(request: httpx.Request) -> httpx.Response:
        into.append(request)
        return httpx.Response(200, json=body if body is not None else {"ok": True, "code": 0})

    return answer


@pytest.mark.parametrize(
    ("provider_id", "values", "expect"),
    [
        ("slack", {"access_token": "xoxb-1"}, {"authorization": "Bearer xoxb-1"}),
        ("elevenlabs", {"api_key": "el-key-123"}, {"xi-api-key": "el-key-123"}),
        ("assemblyai", {"api_key": "aai-key-123"}, {"authorization": "aai-key-123"}),
        (
            "klaviyo",
            {"private_api_key": "pk_abcdefgh", "public_api_key": "Site12"},
            {"authorization": "Klaviyo-API-Key pk_abcdefgh", "revision": "2026-10-15"},
        ),
        (
            "lob",
            {"api_key": "test_lob_key"},
            {"authorization": "Basic " + base64.b64encode(b"test_lob_key:").decode()},
        ),
        (
            "mux",
            {"token_id": "tok-id-1", "token_secret": "tok-secret-1"},
            {"authorization": "Basic " + base64.b64encode(b"tok-id-1:tok-secret-1").decode()},
        ),
        ("tiktok_ads", {"access_token": "tt-token-1"}, {"access-token": "tt-token-1"}),
        (
            "plaid",
            {"client_id": "plaid-client", "secret": "plaid-secret-1"},
            {"plaid-client-id": "plaid-client", "plaid-secret": "plaid-secret-1"},
        ),
        (
            "google_ads",
            {"access_token": "ya29.x"},
            {"authorization": "Bearer ya29.x", "developer-token": "dev"},
        ),
    ],
)
async def test_the_credential_goes_exactly_where_the_provider_expects_it(
    provider_id: str,
    values: dict[str, str],
    expect: dict[str, str],
    keyring: KeyRing,
    recorder: Recorder,
) -> None:
    requests: list[httpx.Request] = []
    monitor = _monitor(keyring, _seen(requests), recorder)

    report = await monitor.check(due(keyring, CATALOG.get(provider_id), values))

    assert report.verdict.outcome == Outcome.HEALTHY
    [request] = requests
    assert request.url.scheme == "https"
    for name, value in expect.items():
        assert request.headers.get(name) == value
    if provider_id == "tiktok_ads":
        assert request.url.params["app_id"] == "app-1"
        assert request.url.params["secret"] == "app-secret-1"


async def test_ga4_credentials_would_travel_in_the_query_but_are_never_sent(
    keyring: KeyRing, recorder: Recorder
) -> None:
    requests: list[httpx.Request] = []
    monitor = _monitor(keyring, _seen(requests), recorder)
    ga4 = CATALOG.get("ga4")

    report = await monitor.check(
        due(
            keyring,
            ga4,
            {"measurement_id": "G-ABCDEF12", "api_secret": "secret-123"},
            status="error",
        )
    )

    assert report.verdict.outcome == Outcome.UNVERIFIABLE
    assert requests == []
    assert recorder.events == []


async def test_yotpo_and_paypal_are_proved_by_minting(keyring: KeyRing, recorder: Recorder) -> None:
    requests: list[httpx.Request] = []
    monitor = _monitor(
        keyring, _seen(requests, {"access_token": "minted", "expires_in": 60}), recorder
    )

    paypal = await monitor.check(
        due(
            keyring, CATALOG.get("paypal"), {"client_id": "pp-client", "client_secret": "pp-secret"}
        )
    )
    yotpo = await monitor.check(
        due(keyring, CATALOG.get("yotpo"), {"store_id": "store_0001", "secret": "yotpo-secret"})
    )

    assert paypal.verdict.outcome == yotpo.verdict.outcome == Outcome.HEALTHY
    assert requests[0].url.path == "/v1/oauth2/token"
    assert (
        requests[0].headers["authorization"]
        == "Basic " + base64.b64encode(b"pp-client:pp-secret").decode()
    )
    assert requests[1].url.path == "/core/v3/stores/store_0001/access_tokens"
    assert b"yotpo-secret" in requests[1].content


async def test_a_private_address_is_never_called(keyring: KeyRing, recorder: Recorder) -> None:
    requests: list[httpx.Request] = []

    async def private(host: str, port: int) -> list[str]:
        return ["10.0.0.8"]

    http = OutboundHttp(CATALOG, transport=httpx.MockTransport(_seen(requests)), resolver=private)
    monitor = HealthMonitor(
        CATALOG, keyring, PLATFORM, ProviderProber(http), recorder, sleep=Sleeps()
    )

    report = await monitor.check(due(keyring, CATALOG.get("slack"), {"access_token": "x" * 20}))

    assert requests == []
    assert report.verdict.outcome == Outcome.MISCONFIGURED
    assert report.verdict.code == "destination_refused"
