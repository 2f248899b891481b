"""A disconnect closes the connection's incident (issue 13, item 6), through the real broker and
PostgreSQL: the notifier's consumers in process, events published on their topics.

The incident closes as ``disconnected`` with no "recovered" message and nothing left pending; a
verdict from before the disconnect arriving late opens nothing; a later one (after a reconnect)
opens a new incident as usual.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hub_contracts import (
    ALL_TOPICS,
    ConnectionDisconnectedV1,
    ConnectionUnhealthyV1,
    connection_id,
)
from hub_localstack.topics import create_topics
from hub_runtime import create_broker, publish_event
from notifier.app import create_app
from notifier.settings import NotifierSettings

pytestmark = pytest.mark.integration


async def _incidents(url: str, org: uuid.UUID) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT id, status, closed_by, opened_at FROM notifier_incidents "
            "WHERE organization_id = $1 ORDER BY opened_at",
            org,
        )
        return [dict(row) for row in rows]
    finally:
        await connection.close()


async def _notifications(url: str, org: uuid.UUID) -> list[tuple[str, str]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT kind, state FROM notifier_notifications WHERE organization_id = $1 "
            "ORDER BY created_at",
            org,
        )
        return [(row["kind"], row["state"]) for row in rows]
    finally:
        await connection.close()


async def _until(url: str, org: uuid.UUID, expected: list[tuple[str, str | None]]) -> None:
    found: list[tuple[str, str | None]] = []
    for _ in range(300):
        found = [(i["status"], i["closed_by"]) for i in await _incidents(url, org)]
        if found == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"incidents {found} never became {expected}")


async def test_a_disconnect_closes_the_incident_silently(
    kafka_bootstrap: str, migrated_database_url: str
) -> None:
    topics = [*ALL_TOPICS, *(f"{t}.dlq" for t in ALL_TOPICS)]
    await create_topics(kafka_bootstrap, topics, partitions=3)
    settings = NotifierSettings(
        database_url=migrated_database_url,
        migrate_on_start=False,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        kafka_fetch_max_wait_ms=10,
    )
    app = create_app(settings, run_worker=False)
    org = uuid.uuid4()
    identity = {
        "organization_id": org,
        "provider": "meta_ads",
        "connection_id": connection_id(org, "meta_ads"),
    }
    start = datetime.now(UTC)

    def unhealthy(at: datetime, version: int = 1, reason: str = "revoked") -> ConnectionUnhealthyV1:
        return ConnectionUnhealthyV1(
            **identity,
            occurred_at=at,
            credential_version=version,
            reason=reason,
            message="Meta Ads access was revoked. Reconnect Meta Ads in Settings → Integrations.",
            detected_by="health-monitor",
        )

    async with app.router.lifespan_context(app), create_broker(settings) as producer:
        await publish_event(producer, unhealthy(start))
        await _until(migrated_database_url, org, [("open", None)])

        disconnected = ConnectionDisconnectedV1(
            **identity, occurred_at=start + timedelta(seconds=2), disconnected_by="ada"
        )
        await publish_event(producer, disconnected)
        await _until(migrated_database_url, org, [("closed", "disconnected")])
        notifications = await _notifications(migrated_database_url, org)
        assert notifications == [("opened", "cancelled")]  # and no "recovered" message

        # A verdict about the old credential, made before the disconnect, arrives late.
        await publish_event(producer, unhealthy(start + timedelta(seconds=1)))
        # The brand reconnects later and that connection breaks (another reason, so had the
        # late verdict opened an incident, this one would supersede it: three incidents).
        later = unhealthy(start + timedelta(seconds=10), version=2, reason="insufficient_scope")
        await publish_event(producer, later)
        await _until(migrated_database_url, org, [("closed", "disconnected"), ("open", None)])
    kinds = [kind for kind, _ in await _notifications(migrated_database_url, org)]
    assert kinds == ["opened", "opened"]
