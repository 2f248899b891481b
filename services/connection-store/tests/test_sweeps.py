"""Sweeps against the real PostgreSQL: what is due is emitted once, what is not stays quiet."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from connection_store import domain
from connection_store.adapters.database import Connection, Database, create_pool
from connection_store.adapters.relay import relay_once
from connection_store.adapters.store import PostgresStore
from connection_store.service.due import DueWork
from connection_store.service.sweeps import Sweeper, SweepStats
from connection_store.settings import StoreSettings
from hub_catalog import load_catalog
from hub_contracts import ConnectionCheckDueV1, EncryptedCredential, TokenExpiringV1, Topic
from hub_localstack.broker import CONSUMER_OPTIONS
from hub_localstack.topics import create_topics
from hub_runtime import create_broker, create_tracer_provider
from hub_runtime.loop import repeat
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = pytest.mark.integration
CATALOG = load_catalog()
META = CATALOG.get("meta_ads").auth


def sweeper(
    db: Database,
    settings: StoreSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    stats: SweepStats | None = None,
) -> Sweeper:
    """The sweeps as the app builds them, over ``db``."""
    due = DueWork(
        CATALOG,
        check_interval_s=settings.check_interval_s,
        check_jitter=settings.check_jitter,
        refresh_retry_s=settings.refresh_retry_s,
    )
    return Sweeper(
        PostgresStore(db),
        due,
        batch_size=settings.sweep_batch_size,
        tracer_provider=tracer_provider,
        stats=stats or SweepStats(),
    )


def _sealed() -> dict[str, Any]:
    sealed = EncryptedCredential(key_id="k1", nonce=os.urandom(12), ciphertext=os.urandom(48))
    return sealed.model_dump(mode="json")


async def seed(
    db: Database,
    count: int = 1,
    *,
    provider: str = "google_ads",
    auth_type: str | None = "oauth2_authorization_code",
    status: str = "active",
    next_refresh_at: datetime | None = None,
    next_check_at: datetime | None = None,
    token_expires_at: datetime | None = None,
    access: dict[str, Any] | None = None,
    refresh: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[uuid.UUID]:
    """``count`` connections of one shape, one organization each; returns their ids."""
    async with db.worker() as connection:
        rows = await connection.fetch(
            """INSERT INTO integration_connections
                   (id, organization_id, provider, auth_type, access_token_encrypted,
                    refresh_token_encrypted, credential_fields_encrypted, credential_version,
                    token_expires_at, metadata, status, connected_at, next_refresh_at,
                    next_check_at)
               SELECT gen_random_uuid(), gen_random_uuid(), $2, $3, $4, $5, $6, 1, $7, $8, $9,
                      now(), $10, $11
               FROM generate_series(1, $1)
               RETURNING id""",
            count,
            provider,
            auth_type,
            access if access is not None else _sealed(),
            refresh if refresh is not None else _sealed(),
            fields or {},
            token_expires_at,
            metadata or {"customers": ["1234567890"]},
            status,
            next_refresh_at,
            next_check_at,
        )
    return [row["id"] for row in rows]


async def outbox_events(db: Database, topic: Topic) -> list[dict[str, Any]]:
    async with db.worker() as connection:
        rows = await connection.fetch(
            "SELECT payload, headers FROM outbox WHERE topic = $1 ORDER BY id", topic.value
        )
    return [{**row["payload"], "_headers": row["headers"]} for row in rows]


async def column(db: Database, name: str, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    async with db.worker() as connection:
        rows = await connection.fetch(
            f"SELECT id, {name} AS value FROM integration_connections WHERE id = ANY($1)",  # noqa: S608
            list(ids),
        )
    return {row["id"]: row["value"] for row in rows}


@pytest.fixture(autouse=True)
async def _empty(admin: asyncpg.Connection) -> None:
    await admin.execute("TRUNCATE integration_connections, outbox")


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


async def test_two_replicas_emit_each_due_connection_once_and_it_is_published_once(
    migrated_database_url: str,
    db: Database,
    store_settings: StoreSettings,
    kafka_bootstrap: str,
    unique_suffix: str,
    now: datetime,
) -> None:
    due = await seed(db, 10_000, next_refresh_at=now - timedelta(minutes=1))
    not_due = await seed(db, 300, next_refresh_at=now + timedelta(minutes=1))

    pools = [await create_pool(migrated_database_url, size=4) for _ in range(2)]
    try:
        results = await asyncio.gather(
            *(sweeper(Database(pool), store_settings).sweep(now) for pool in pools)
        )
    finally:
        for pool in pools:
            await pool.close()

    assert sum(r.token_expiring for r in results) == 10_000
    emitted = Counter(e["connection_id"] for e in await outbox_events(db, Topic.TOKEN_EXPIRING))
    assert set(emitted) == {str(i) for i in due}
    assert set(emitted.values()) == {1}
    assert not {str(i) for i in not_due} & set(emitted)
    # Rescheduled in the same transaction: not due again until the retry interval has passed.
    retry = now + timedelta(seconds=store_settings.refresh_retry_s)
    assert set((await column(db, "next_refresh_at", due)).values()) == {retry}
    again = await sweeper(db, store_settings).sweep(now + timedelta(seconds=30))
    assert again.token_expiring == 0

    # Relayed: exactly one message per connection on the topic.
    await create_topics(kafka_bootstrap, [Topic.TOKEN_EXPIRING.value], partitions=6)
    settings = store_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    async with create_broker(settings) as broker:
        while await relay_once(db, broker, batch_size=1000):
            pass
    received = await read_back(
        kafka_bootstrap, Topic.TOKEN_EXPIRING, {str(i) for i in due}, f"sweeps.{unique_suffix}"
    )
    assert set(received) == {str(i) for i in due}
    assert set(received.values()) == {1}


async def read_back(
    bootstrap: str, topic: Topic, wanted: set[str], group: str, *, settle_s: float = 1.0
) -> Counter[str]:
    """How often each wanted connection id was received on ``topic`` (a shared topic)."""
    consumer = AIOKafkaConsumer(
        topic.value, bootstrap_servers=bootstrap, group_id=group, **CONSUMER_OPTIONS
    )
    await consumer.start()
    received: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + 60
        settle_until: float | None = None
        while loop.time() < (settle_until or deadline):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    cid = json.loads(record.value or b"{}").get("connection_id")
                    if cid in wanted:
                        received[cid] += 1
            if settle_until is None and len(received) == len(wanted):
                settle_until = loop.time() + settle_s  # linger to catch any duplicate
    finally:
        await consumer.stop()
    return received


async def test_only_due_rows_in_sweepable_states_are_emitted(
    db: Database, store_settings: StoreSettings, now: datetime
) -> None:
    past, future = now - timedelta(seconds=1), now + timedelta(seconds=1)
    refresh_due = await seed(db, next_refresh_at=past, next_check_at=future)
    check_due = await seed(db, next_refresh_at=future, next_check_at=past)
    error_row = await seed(db, status="error", next_refresh_at=past, next_check_at=past)
    quiet = [
        *await seed(db, next_refresh_at=future, next_check_at=future),
        *await seed(db, next_refresh_at=now + timedelta(microseconds=1), next_check_at=None),
        *await seed(db, status="expired", next_refresh_at=past, next_check_at=past),
        *await seed(db, status="disconnected", next_refresh_at=past, next_check_at=past),
        *await seed(db, status="pending", next_refresh_at=past, next_check_at=past),
        *await seed(db, next_refresh_at=None, next_check_at=None),
    ]

    result = await sweeper(db, store_settings).sweep(now)

    expiring = [e["connection_id"] for e in await outbox_events(db, Topic.TOKEN_EXPIRING)]
    checks = [e["connection_id"] for e in await outbox_events(db, Topic.CONNECTION_CHECK_DUE)]
    # an erroring connection (outage, permission) is still checked and still kept fresh
    assert sorted(expiring) == sorted([str(refresh_due[0]), str(error_row[0])])
    assert sorted(checks) == sorted([str(check_due[0]), str(error_row[0])])
    assert (result.token_expiring, result.check_due, result.skipped) == (2, 2, 0)
    assert not {str(i) for i in quiet} & {*expiring, *checks}


async def test_token_expiring_carries_the_credential_and_retries_until_answered(
    db: Database, store_settings: StoreSettings, now: datetime
) -> None:
    expires = now + timedelta(minutes=10)
    access, refresh = _sealed(), _sealed()
    [cid] = await seed(
        db,
        next_refresh_at=now - timedelta(seconds=5),
        token_expires_at=expires,
        access=access,
        refresh=refresh,
    )

    assert (await sweeper(db, store_settings).refresh_due(now)).token_expiring == 1
    [payload] = await outbox_events(db, Topic.TOKEN_EXPIRING)
    event = TokenExpiringV1.model_validate({k: v for k, v in payload.items() if k != "_headers"})
    assert event.connection_id == cid
    assert event.refresh_strategy == "refresh_grant"
    assert event.auth_type == "oauth2_authorization_code"
    assert event.credential_version == 1
    assert event.token_expires_at == expires
    assert event.credentials is not None
    assert event.credentials.access_token is not None
    assert event.credentials.access_token.model_dump(mode="json") == access
    assert event.credentials.refresh_token is not None
    assert event.credentials.refresh_token.model_dump(mode="json") == refresh
    assert event.metadata == {"customers": ["1234567890"]}
    assert payload["_headers"]["event-type"] == "token.expiring"

    retry = now + timedelta(seconds=store_settings.refresh_retry_s)
    assert (await column(db, "next_refresh_at", [cid]))[cid] == retry
    quiet = await sweeper(db, store_settings).refresh_due(retry - timedelta(seconds=1))
    assert quiet.token_expiring == 0
    # No token.refreshed came back: due again once the retry interval has passed.
    assert (await sweeper(db, store_settings).refresh_due(retry)).token_expiring == 1
    # The refresher's answer sets a new next_refresh_at; the row is quiet until then.
    async with db.worker() as connection:
        await connection.execute(
            "UPDATE integration_connections SET next_refresh_at = $2 WHERE id = $1",
            cid,
            now + timedelta(hours=1),
        )
    later = retry + timedelta(seconds=store_settings.refresh_retry_s)
    assert (await sweeper(db, store_settings).refresh_due(later)).token_expiring == 0


async def test_long_lived_token_gets_one_reminder_at_its_lead_without_credentials(
    db: Database, store_settings: StoreSettings, now: datetime
) -> None:
    expires = now + timedelta(days=30)
    reminder_at = domain.next_refresh_at(META, expires, now)
    assert reminder_at == expires - timedelta(days=7)
    [cid] = await seed(
        db, provider="meta_ads", next_refresh_at=reminder_at, token_expires_at=expires
    )

    early = reminder_at - timedelta(seconds=1)
    assert (await sweeper(db, store_settings).refresh_due(early)).rows == 0
    result = await sweeper(db, store_settings).refresh_due(reminder_at)
    assert (result.token_expiring, result.reminders) == (1, 1)

    [payload] = await outbox_events(db, Topic.TOKEN_EXPIRING)
    assert payload["connection_id"] == str(cid)
    assert payload["refresh_strategy"] == "long_lived_reminder"
    assert payload["credentials"] is None
    assert datetime.fromisoformat(payload["token_expires_at"]) == expires
    # One reminder per credential: nothing more until a reconnect schedules the next one.
    assert (await column(db, "next_refresh_at", [cid]))[cid] is None
    assert (await sweeper(db, store_settings).refresh_due(expires)).rows == 0


async def test_scheduled_check_is_jittered_within_bounds(
    db: Database, store_settings: StoreSettings, now: datetime
) -> None:
    ids = await seed(db, 300, next_check_at=now - timedelta(minutes=5))

    result = await sweeper(db, store_settings).check_due(now)

    assert result.check_due == 300
    interval, jitter = store_settings.check_interval_s, store_settings.check_jitter
    low = now + timedelta(seconds=interval * (1 - jitter))
    high = now + timedelta(seconds=interval * (1 + jitter))
    scheduled = list((await column(db, "next_check_at", ids)).values())
    assert all(low <= due <= high for due in scheduled)
    assert max(scheduled) - min(scheduled) > timedelta(seconds=interval * jitter)  # spread
    assert set((await column(db, "last_checked_at", ids)).values()) == {None}
    events = await outbox_events(db, Topic.CONNECTION_CHECK_DUE)
    assert {e["connection_id"] for e in events} == {str(i) for i in ids}
    check = ConnectionCheckDueV1.model_validate(
        {k: v for k, v in events[0].items() if k != "_headers"}
    )
    assert check.trigger == "scheduled"
    assert check.status == "active"
    assert check.credentials.access_token is not None
    quiet = await sweeper(db, store_settings).check_due(low - timedelta(seconds=1))
    assert quiet.rows == 0


async def test_rows_that_cannot_become_events_never_block_the_rest(
    db: Database, store_settings: StoreSettings, now: datetime
) -> None:
    past = now - timedelta(hours=1)
    unknown = await seed(db, provider="retired_provider", next_refresh_at=past, next_check_at=past)
    broken = await seed(
        db, access={"not": "a credential"}, next_refresh_at=past, next_check_at=past
    )
    no_refresh = await seed(db, provider="klaviyo", auth_type="api_key", next_refresh_at=past)
    good = await seed(db, next_refresh_at=now, next_check_at=now)
    settings = store_settings.model_copy(update={"sweep_batch_size": 2})

    result = await sweeper(db, settings).sweep(now)

    assert (result.token_expiring, result.check_due, result.skipped) == (1, 1, 5)
    expiring = await outbox_events(db, Topic.TOKEN_EXPIRING)
    assert [e["connection_id"] for e in expiring] == [str(good[0])]
    retry = now + timedelta(seconds=settings.refresh_retry_s)
    refresh = await column(db, "next_refresh_at", [*unknown, *broken, *no_refresh])
    assert refresh == {unknown[0]: retry, broken[0]: retry, no_refresh[0]: None}
    check = await column(db, "next_check_at", [*unknown, *broken])
    assert all(due > now for due in check.values())


async def test_backlog_counts_due_rows_and_unsent_events_up_to_a_cap(
    db: Database, store_settings: StoreSettings, now: datetime
) -> None:
    past = now - timedelta(minutes=1)
    await seed(db, 7, next_refresh_at=past, next_check_at=now + timedelta(hours=1))
    await seed(db, 4, status="error", next_refresh_at=past, next_check_at=past)
    await seed(db, 3, status="expired", next_refresh_at=past, next_check_at=past)

    before = await sweeper(db, store_settings).backlog(now)
    assert (before.refresh_due, before.check_due, before.outbox_unsent) == (11, 4, 0)
    assert not before.as_log()["capped"]
    capped = await sweeper(db, store_settings).backlog(now, cap=5)
    assert (capped.refresh_due, capped.check_due) == (5, 4)
    assert capped.as_log()["capped"]

    await sweeper(db, store_settings).sweep(now)
    after = await sweeper(db, store_settings).backlog(now)
    assert (after.refresh_due, after.check_due, after.outbox_unsent) == (0, 0, 15)


async def test_swept_events_start_their_own_trace_linked_to_the_sweep(
    db: Database, store_settings: StoreSettings, now: datetime
) -> None:
    ids = await seed(db, 3, next_refresh_at=now)
    exporter = InMemorySpanExporter()
    provider = create_tracer_provider("sweep-test", exporter=exporter)

    await sweeper(db, store_settings, tracer_provider=provider).refresh_due(now)

    spans = exporter.get_finished_spans()
    [batch] = [s for s in spans if s.name == "sweep token.expiring"]
    items = {
        s.attributes["hub.connection_id"]: s
        for s in spans
        if s.name == "token.expiring due" and s.attributes
    }
    assert set(items) == {str(i) for i in ids}
    assert batch.attributes is not None
    assert batch.attributes["hub.sweep.emitted"] == 3
    for event in await outbox_events(db, Topic.TOKEN_EXPIRING):
        span = items[event["connection_id"]]
        assert span.context is not None
        assert batch.context is not None
        trace_id = event["_headers"]["traceparent"].split("-")[1]
        assert trace_id == format(span.context.trace_id, "032x")
        assert [link.context.span_id for link in span.links] == [batch.context.span_id]
    assert len({s.context.trace_id for s in items.values() if s.context}) == 3


class FlakyDatabase(Database):
    """Fails its first ``failures`` worker transactions, like a database that is restarting."""

    def __init__(self, db: Database, failures: int) -> None:
        super().__init__(db.pool)
        self.failures = failures

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[Connection]:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("database is restarting")
        async with super().worker() as connection:
            yield connection


async def test_sweep_loop_logs_errors_and_keeps_going(
    db: Database,
    store_settings: StoreSettings,
    now: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    [cid] = await seed(db, next_refresh_at=now - timedelta(seconds=1))
    settings = store_settings.model_copy(update={"sweep_interval_s": 0.02})
    stats = SweepStats()
    flaky = FlakyDatabase(db, failures=3)

    with caplog.at_level(logging.INFO, logger="hub_runtime.loop"):
        loop = sweeper(flaky, settings, stats=stats)
        task = asyncio.create_task(
            repeat(loop.tick, name="sweep", interval_s=settings.sweep_interval_s, max_backoff_s=0.1)
        )
        try:
            async with asyncio.timeout(10):
                while not stats.totals.token_expiring:  # noqa: ASYNC110 (the loop's stats)
                    await asyncio.sleep(0.02)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    assert flaky.failures == 0
    assert [e["connection_id"] for e in await outbox_events(db, Topic.TOKEN_EXPIRING)] == [str(cid)]
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("sweep failed; retrying") == 3
    assert "sweep recovered" in messages
    assert stats.backlog is not None
    assert stats.backlog.outbox_unsent == 1
    assert stats.last_error_at is not None
    assert stats.last_sweep_at is not None
