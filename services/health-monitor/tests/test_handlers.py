"""The wired app on an in-memory broker: check_due in, a transition out on its topic; what cannot
be decoded or checked goes to the DLQ with the reason; health, readiness and metrics answer."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from health_monitor.app import Components, build, create_app
from health_monitor.handlers import GROUP
from health_monitor.settings import MonitorSettings
from hub_catalog import Catalog, PlatformCredentials
from hub_contracts import (
    ConnectionCheckedV1,
    ConnectionRecoveredV1,
    ConnectionUnhealthyV1,
    Topic,
    parse_event,
)
from hub_keyring import KeyRing
from hub_runtime import publish_event
from hub_runtime.asyncapi import asyncapi_schema, contract_mismatches
from hub_runtime.metrics import sample
from provider_sandbox import platform_environment
from pydantic import SecretStr

from .conftest import CATALOG, SANDBOX, connect, due, fault

SPEC = f"k1:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def settings() -> MonitorSettings:
    return MonitorSettings(
        credential_keys=SecretStr(SPEC),
        provider_base_url_override=SANDBOX,
        retry_base_delay_s=0,
        consumer_max_attempts=2,
    )


@pytest.fixture
def parts(settings: MonitorSettings, catalog: Catalog, sandbox: httpx.AsyncClient) -> Components:
    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(host)

    return build(
        settings,
        catalog=catalog,
        platform_credentials=PlatformCredentials(platform_environment(catalog)),
        transport=sandbox._transport,
        resolver=no_dns,
    )


@pytest.fixture
def app(settings: MonitorSettings, parts: Components) -> FastAPI:
    return create_app(settings, components=parts)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hm") as api:
        yield api


async def test_a_due_check_becomes_a_transition_and_bad_events_dead_letters(
    parts: Components,
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    catalog: Catalog,
) -> None:
    broker = parts.broker
    ring = KeyRing.from_spec(SPEC)
    slack = CATALOG.get("slack")
    values = await connect(parts.outbound, catalog, sandbox, slack)
    await fault(sandbox, "slack", "revoked")
    unhealthy: list[bytes] = []
    dead: list[dict[str, str]] = []

    @broker.subscriber("connection.unhealthy")
    async def collect(message: KafkaMessage) -> None:
        unhealthy.append(message.body)

    @broker.subscriber("connection.check_due.dlq")
    async def collect_dead(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    good = due(ring, slack, values)
    foreign = due(
        KeyRing.from_spec(f"k1:{base64.b64encode(os.urandom(32)).decode()}"), slack, values
    )
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"{not json", topic="connection.check_due", key=b"o:slack")
        await publish_event(test_broker, good)
        await publish_event(test_broker, foreign)
        await publish_event(test_broker, good.model_copy(update={"provider": "myspace"}))

    [raw] = unhealthy
    event = parse_event(raw, topic="connection.unhealthy")
    assert event.organization_id == good.organization_id
    assert event.reason == "revoked"  # type: ignore[attr-defined]
    assert sorted(d["dlq-reason"] for d in dead) == [
        "malformed",
        "undecryptable_credential",
        "unknown_provider",
    ]
    assert {d["dlq-consumer-group"] for d in dead} == {GROUP}

    metrics = (await api.get("/metrics")).text
    checks = "health_monitor_checks_total"
    assert sample(metrics, checks, outcome="revoked", provider="slack", trigger="scheduled") == 1
    unhealthy = {"event_type": "connection.unhealthy", "reason": "revoked"}
    assert sample(metrics, "health_monitor_events_total", **unhealthy) == 1
    failures = "health_monitor_check_failures_total"
    assert sample(metrics, failures, reason="undecryptable_credential") == 1
    assert sample(metrics, "health_monitor_check_duration_seconds_count", provider="slack") == 1


async def test_health_answers_and_readiness_needs_the_broker(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    not_started = await api.get("/readyz")
    assert not_started.status_code == 503
    assert not_started.json()["status"] == "not_ready"


async def test_the_asyncapi_document_matches_the_contracts(
    parts: Components, api: httpx.AsyncClient
) -> None:
    document = asyncapi_schema(parts.broker, title="health-monitor")

    assert (
        contract_mismatches(
            document,
            consumes={Topic.CONNECTION_CHECK_DUE},
            publishes={ConnectionUnhealthyV1, ConnectionRecoveredV1, ConnectionCheckedV1},
        )
        == []
    )
    served = await api.get("/asyncapi.json")
    assert served.status_code == 200
    assert served.json() == document


def test_settings_refuse_the_sandbox_in_production() -> None:
    with pytest.raises(ValueError, match="PROVIDER_BASE_URL_OVERRIDE"):
        MonitorSettings(
            credential_keys=SecretStr(SPEC),
            environment="production",
            provider_base_url_override="http://127.0.0.1:8199",
        )


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIAL_KEYS", SPEC)
    monkeypatch.setenv("HEALTH_MONITOR_ATTEMPTS", "4")
    monkeypatch.setenv("HEALTH_MONITOR_PER_PROVIDER_CONCURRENCY", "3")
    settings = MonitorSettings()
    assert settings.port == 8104
    assert settings.attempts == 4
    assert settings.per_provider_concurrency == 3
    assert settings.credential_keys.get_secret_value() == SPEC
    assert SPEC not in repr(settings)
