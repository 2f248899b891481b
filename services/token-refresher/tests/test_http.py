"""Probes, metrics and settings."""

from __future__ import annotations

import os
from base64 import b64encode

import httpx
import pytest
from hub_contracts import ConnectionUnhealthyV1, TokenRefreshedV1, Topic
from hub_runtime.asyncapi import asyncapi_schema, contract_mismatches
from hub_runtime.metrics import sample
from pydantic import ValidationError
from token_refresher.app import create_app
from token_refresher.settings import RefresherSettings

KEYS = "k1:" + b64encode(os.urandom(32)).decode()


def _settings(**overrides: object) -> RefresherSettings:
    return RefresherSettings(credential_keys=KEYS, **overrides)  # type: ignore[arg-type]


async def test_probes_and_metrics_without_consumers() -> None:
    app = create_app(_settings(), run_consumers=False)
    parts = app.state.components
    parts.metrics.event("google_ads", "refreshed")
    parts.metrics.call("google_ads", "ok", 0.25)
    parts.metrics.dead_letter("malformed")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            live = await client.get("/healthz")
            ready = await client.get("/readyz")
            metrics = await client.get("/metrics")
    assert live.status_code == 200
    assert live.json()["status"] == "ok"
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not_ready",
        "projection_caught_up": False,
        "joined": False,
        "partitions": [],
    }
    text = metrics.text
    events = "token_refresher_events_total"
    assert sample(text, events, provider="google_ads", outcome="refreshed") == 1
    calls = "token_refresher_provider_calls_total"
    assert sample(text, calls, provider="google_ads", result="ok") == 1
    assert sample(text, "token_refresher_provider_call_seconds_sum", provider="google_ads") == 0.25
    assert sample(text, "token_refresher_dead_letters_total", reason="malformed") == 1
    assert "# TYPE token_refresher_in_flight gauge" in text


async def test_the_asyncapi_document_matches_the_contracts_and_is_served() -> None:
    app = create_app(_settings(), run_consumers=False)
    document = asyncapi_schema(app.state.components.broker, title="token-refresher")
    mismatches = contract_mismatches(
        document,
        consumes={Topic.TOKEN_EXPIRING},
        publishes={TokenRefreshedV1, ConnectionUnhealthyV1},
    )
    assert mismatches == []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
            served = await client.get("/asyncapi.json")
    assert served.status_code == 200
    assert served.json() == document


def test_settings_read_the_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIAL_KEYS", KEYS)
    monkeypatch.setenv("TOKEN_REFRESHER_PER_PROVIDER_CONCURRENCY", "7")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    settings = RefresherSettings()
    assert settings.per_provider_concurrency == 7
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.port == 8103
    assert settings.consumer_group == "token-refresher.on_token_expiring"


@pytest.mark.parametrize(
    "overrides",
    [
        {"environment": "production", "provider_base_url_override": "http://127.0.0.1:8199"},
        {"max_concurrency": 4, "per_provider_concurrency": 8},
        {"drain_timeout_s": 5, "outbound_total_timeout_s": 20},
    ],
)
def test_unsafe_or_inconsistent_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _settings(**overrides)
