"""End to end with connection-store, as processes, on the real PostgreSQL, broker and sandbox:

revoke a credential in the sandbox → after the next due check the store shows it expired, and
exactly one connection.unhealthy was emitted over three further sweeps (and a Sync now); un-revoke
→ Sync now through the store's API → a check within seconds → connection.recovered, active.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from hub_catalog import load_catalog
from hub_contracts import (
    ConnectionEstablishedV1,
    Credentials,
    Topic,
    connection_id,
    parse_event,
)
from hub_keyring import Binding, KeyRing
from hub_localstack.services import ServiceProcess
from hub_runtime import ServiceSettings, create_broker, publish_event
from provider_sandbox import example_value

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SWEEP_INTERVAL_S = 0.3


@pytest.fixture(scope="module")
def services(
    hub_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("e2e-logs")
    store = ServiceProcess(
        "connection-store",
        "connection_store",
        {**hub_env, "CONNECTION_STORE_SWEEP_INTERVAL_S": str(SWEEP_INTERVAL_S)},
        port_variable="CONNECTION_STORE_PORT",
        log_dir=logs,
    )
    monitor = ServiceProcess(
        "health-monitor",
        "health_monitor",
        {**hub_env, "HEALTH_MONITOR_RETRY_BASE_DELAY_S": "0.05"},
        port_variable="HEALTH_MONITOR_PORT",
        log_dir=logs,
    )
    with store, monitor:
        yield {"store": store, "monitor": monitor}


def _token(hub_env: dict[str, str], org: uuid.UUID) -> str:
    issued = subprocess.run(
        [sys.executable, "-m", "connection_store.issuer", "--org", str(org)],
        env=hub_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return issued.stdout.strip()


async def _wait(predicate: Any, within: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await predicate()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def _events(bootstrap: str, topic: Topic, org: uuid.UUID) -> list[Any]:
    """Every event of ``org`` on ``topic`` so far (read from the beginning)."""
    consumer = AIOKafkaConsumer(
        topic.value,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    found = []
    try:
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=300)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for record in records:
                    if record.value and str(org).encode() in record.value:
                        found.append(parse_event(record.value, topic=topic.value))
    finally:
        await consumer.stop()
    return found


async def test_revoked_then_reconnected_end_to_end(
    services: dict[str, ServiceProcess],
    hub_env: dict[str, str],
    database_url: str,
    kafka_bootstrap: str,
    sandbox_url: str,
) -> None:
    store = services["store"]
    org = uuid.uuid4()
    resend = load_catalog().get("resend")
    api_key = f"{example_value(resend.auth.fields[0])}-{uuid.uuid4().hex}"
    ring = KeyRing.from_spec(hub_env["CREDENTIAL_KEYS"])
    sealed = ring.encrypt(api_key, Binding(org, "resend", "api_key"))
    headers = {"Authorization": f"Bearer {_token(hub_env, org)}"}
    detail_url = f"{store.url}/v1/orgs/{org}/integrations/resend"
    bus = ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, service_name="e2e")

    async with httpx.AsyncClient(timeout=10) as http, create_broker(bus) as producer:

        async def detail() -> dict[str, Any]:
            answer = await http.get(detail_url, headers=headers)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        async def status_is(wanted: str) -> dict[str, Any] | None:
            body = await detail()
            return body if body["status"] == wanted else None

        async def force_due() -> None:
            connection = await asyncpg.connect(database_url)
            try:
                await connection.execute(
                    "UPDATE integration_connections SET next_check_at = now() - interval '1 s' "
                    "WHERE organization_id = $1",
                    org,
                )
            finally:
                await connection.close()

        async def health_calls() -> int:
            counts = (await http.get(f"{sandbox_url}/_sandbox/calls")).json()
            return int(counts.get("resend", {}).get("health", 0))

        async def sandbox_fault(mode: str) -> None:
            answer = await http.post(
                f"{sandbox_url}/_sandbox/resend/faults",
                json={"mode": mode, "credential": api_key},
            )
            assert answer.status_code == 200, answer.text

        await producer.start()
        await publish_event(
            producer,
            ConnectionEstablishedV1(
                organization_id=org,
                provider="resend",
                connection_id=connection_id(org, "resend"),
                auth_type="api_key",
                credentials=Credentials(fields={"api_key": sealed}),
            ),
        )
        established = await _wait(lambda: status_is("active"), what="the connection to be active")

        # A healthy Sync now of an API-key provider: 202 with a check id; the detail then shows
        # that check, what it found, and the sync time moved (no status change, no transition).
        answer = await http.post(f"{detail_url}/sync", headers=headers)
        assert answer.status_code == 202, answer.text
        check_id = answer.json()["check_id"]

        async def check_shown() -> dict[str, Any] | None:
            body = await detail()
            return body if body["last_check_id"] == check_id else None

        synced = await _wait(check_shown, within=10, what="the Sync now check in the detail")
        assert synced["last_check_outcome"] == "healthy"
        assert synced["last_checked_at"] is not None
        assert synced["last_sync_at"] > established["last_sync_at"]
        assert synced["status"] == "active"

        # Revoked at the provider: the next due check finds it, the store shows expired.
        await sandbox_fault("revoked")
        await force_due()
        expired = await _wait(lambda: status_is("expired"), what="the store to show expired")
        assert expired["last_error_code"] == "revoked"
        assert expired["last_error"] == (
            "Resend refused the API key — enter a new one in Settings → Integrations → Resend."
        )

        # Three further sweeps with the check due again, and a Sync now: no second report.
        for _ in range(3):
            await force_due()
            await asyncio.sleep(SWEEP_INTERVAL_S * 3)
        before = await health_calls()
        answer = await http.post(f"{detail_url}/sync", headers=headers)
        assert answer.status_code == 202, answer.text
        check_id = answer.json()["check_id"]
        await _wait(lambda: _more(health_calls, before), what="the Sync now check")
        shown = await _wait(check_shown, within=10, what="the failed check in the detail")
        assert shown["last_check_outcome"] == "revoked"
        assert shown["last_sync_at"] == synced["last_sync_at"]  # a failed check is no sync
        await asyncio.sleep(1.0)
        unhealthy = await _events(kafka_bootstrap, Topic.CONNECTION_UNHEALTHY, org)
        assert [e.reason for e in unhealthy] == ["revoked"]
        assert (await detail())["status"] == "expired"

        # Un-revoked (the brand fixed it at the provider): Sync now proves it within seconds.
        await sandbox_fault("ok")
        before = await health_calls()
        started = time.monotonic()
        answer = await http.post(f"{detail_url}/sync", headers=headers)
        assert answer.status_code == 202, answer.text
        await _wait(lambda: _more(health_calls, before), within=10, what="the Sync now check")
        checked_after = time.monotonic() - started
        active = await _wait(lambda: status_is("active"), what="the store to show active")
        recovered_after = time.monotonic() - started
        metrics = (await http.get(f"{services['monitor'].url}/metrics")).text
        ready = (await http.get(f"{services['monitor'].url}/readyz")).status_code

    assert checked_after < 5, checked_after
    assert recovered_after < 10, recovered_after
    assert active["last_error"] is None
    recovered = await _events(kafka_bootstrap, Topic.CONNECTION_RECOVERED, org)
    assert len(recovered) == 1
    assert recovered[0].detected_by == "health-monitor"
    assert 'health_monitor_events_total{event_type="connection.recovered"' in metrics
    assert ready == 200
    log = await asyncio.to_thread(services["monitor"].log_path.read_text)
    assert api_key not in log


async def _more(counter: Any, before: int) -> bool:
    return bool(await counter() > before)
