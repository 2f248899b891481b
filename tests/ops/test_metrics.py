"""Every service serves ``/metrics`` that ``prometheus_client``'s parser reads, with the families
operators alert on, and label values that are bounded (never an organization id)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from hub_contracts import Topic
from hub_localstack.services import ServiceProcess
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
REFERENCED = re.compile(
    r"\b(?:connection_store|oauth_gateway|token_refresher|health_monitor|notifier|hub)_[a-z_]+\b"
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

EXPECTED = {
    "connection-store": {
        "connection_store_sweep_due",
        "connection_store_sweep_overdue",
        "connection_store_outbox_depth",
        "connection_store_outbox_oldest_age_seconds",
        "connection_store_connections",
        "connection_store_consumer_lag",
        "hub_dead_letters",
    },
    "oauth-gateway": {"oauth_gateway_callbacks", "oauth_gateway_consumer_lag", "hub_dead_letters"},
    "token-refresher": {
        "token_refresher_events",
        "token_refresher_provider_calls",
        "token_refresher_consumer_lag",
        "hub_dead_letters",
    },
    "health-monitor": {
        "health_monitor_checks",
        "health_monitor_consumer_lag",
        "hub_dead_letters",
    },
    "notifier": {"notifier_deliveries", "notifier_consumer_lag", "hub_dead_letters"},
}


def _families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


async def _scrape(http: httpx.AsyncClient, process: ServiceProcess) -> str:
    answer = await http.get(f"{process.url}/metrics")
    assert answer.status_code == 200, (process.name, answer.text)
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


async def test_every_service_serves_parseable_bounded_metrics(
    hub: dict[str, ServiceProcess], kafka_bootstrap: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        # A callback nobody started is refused, and counted.
        refused = await http.get(
            f"{hub['oauth-gateway'].url}/v1/oauth/slack/callback", params={"state": "x"}
        )
        assert refused.status_code == 400
        # A record nobody can parse goes to the DLQ, and is counted by topic and reason.
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(Topic.CONNECTION_ESTABLISHED.value, b"{not json")
        finally:
            await producer.stop()

        deadline = time.monotonic() + 30
        while True:
            texts = {name: await _scrape(http, p) for name, p in hub.items()}
            store = _families(texts["connection-store"])
            dead = [
                v
                for _, labels, v in store.get("hub_dead_letters", [])
                if labels.get("topic") == "connection.established"
            ]
            if (dead and dead[0] >= 1) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)

    for name, text in texts.items():
        families = _families(text)
        assert EXPECTED[name] <= set(families), (name, EXPECTED[name] - set(families))
        for samples in families.values():
            for _, labels, _ in samples:
                assert not [v for v in labels.values() if UUID.search(v)], (name, labels)

    store = _families(texts["connection-store"])
    assert {labels["kind"] for _, labels, _ in store["connection_store_sweep_due"]} == {
        "refresh",
        "check",
    }
    dead = {
        (labels["topic"], labels["reason"]): v
        for _, labels, v in store["hub_dead_letters"]
        if labels
    }
    assert dead.get(("connection.established", "malformed"), 0) >= 1, dead
    groups = {labels.get("group") for _, labels, _ in store["connection_store_consumer_lag"]}
    assert any(g and g.startswith("connection-store.") for g in groups), groups

    callbacks = {
        (labels["provider"], labels["outcome"], labels["reason"]): v
        for _, labels, v in _families(texts["oauth-gateway"])["oauth_gateway_callbacks"]
        if labels
    }
    assert callbacks.get(("slack", "refused", "invalid_state")) == 1, callbacks

    # Every metric the dashboard and the alert rules read is one a service exports.
    exported = {
        name
        for text in texts.values()
        for family in text_string_to_metric_families(text)
        for name in (family.name, f"{family.name}_total", *(s.name for s in family.samples))
    }
    deploy = ROOT / "deploy"
    referenced = set(
        REFERENCED.findall((deploy / "prometheus" / "alerts.yaml").read_text())
        + REFERENCED.findall((deploy / "grafana" / "integrations-hub.json").read_text())
    )
    assert len(referenced) >= 10, referenced
    assert referenced <= exported, referenced - exported
