"""The outbox relay against the real PostgreSQL and the real local broker: published once the
broker acknowledged, in order per connection, with the writer's trace, and nothing lost when
the broker goes away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaTimeoutError
from connection_store.adapters.database import Connection, Database
from connection_store.adapters.outbox import enqueue_many, unsent_count
from connection_store.adapters.relay import (
    OUTBOX,
    RELAY_LOCK_ID,
    Relay,
    RelayError,
    prune_sent,
    relay_once,
)
from connection_store.adapters.store import PostgresStore
from connection_store.service.due import DueWork
from connection_store.service.sweeps import Sweeper
from connection_store.settings import StoreSettings
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from hub_catalog import load_catalog
from hub_contracts import (
    ConnectionDisconnectedV1,
    EncryptedCredential,
    Event,
    Topic,
    message_key,
    parse_event,
)
from hub_localstack.broker import CONSUMER_OPTIONS, TansuBroker
from hub_localstack.topics import create_topics
from hub_runtime import create_broker, create_tracer_provider
from hub_runtime.loop import repeat
from hub_runtime.outbox import OutboxMessage

pytestmark = pytest.mark.integration
CATALOG = load_catalog()


def _disconnected(org: uuid.UUID | None = None, provider: str = "slack") -> Event:
    org = org or uuid.uuid4()
    return ConnectionDisconnectedV1(
        organization_id=org, provider=provider, connection_id=uuid.uuid4()
    )


def message(event: Event) -> OutboxMessage:
    return OutboxMessage.of(event)


async def enqueue(connection: Connection, event: Event) -> None:
    await enqueue_many(connection, [message(event)])


@pytest.fixture(autouse=True)
async def _empty(admin: asyncpg.Connection) -> None:
    await admin.execute("TRUNCATE integration_connections, outbox")


@pytest.fixture
def settings(store_settings: StoreSettings, kafka_bootstrap: str) -> StoreSettings:
    return store_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})


@pytest.fixture
async def hub_topics(kafka_bootstrap: str) -> None:
    await create_topics(kafka_bootstrap, [t.value for t in Topic], partitions=6)


@dataclass(frozen=True)
class Received:
    event_id: str
    """The wanted field's value (the event id unless asked otherwise)."""
    body: bytes
    key: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int


async def read_back(
    bootstrap: str,
    topics: list[Topic],
    wanted: set[str],
    *,
    field: str = "event_id",
    settle_s: float = 0.5,
) -> list[Received]:
    """The records of ``topics`` whose ``field`` is wanted, from a fresh consumer group."""
    consumer = AIOKafkaConsumer(
        *(t.value for t in topics),
        bootstrap_servers=bootstrap,
        group_id=f"outbox-test.{uuid.uuid4().hex}",
        **CONSUMER_OPTIONS,
    )
    await consumer.start()
    found: list[Received] = []
    loop = asyncio.get_running_loop()
    try:
        deadline, settle_until = loop.time() + 60, None
        while loop.time() < (settle_until or deadline):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    event_id = json.loads(r.value or b"{}").get(field)
                    if event_id in wanted:
                        headers = {k: bytes(v) for k, v in r.headers}
                        found.append(
                            Received(
                                event_id,
                                r.value or b"",
                                r.key or b"",
                                headers,
                                r.partition,
                                r.offset,
                            )
                        )
            if settle_until is None and {f.event_id for f in found} >= wanted:
                settle_until = loop.time() + settle_s
    finally:
        await consumer.stop()
    return found


async def drain(db: Database, broker: KafkaBroker) -> int:
    sent = 0
    while batch := await relay_once(db, broker, batch_size=500, timeout_s=10):
        sent += batch
    return sent


async def test_event_is_stored_as_json_and_published_as_the_same_event(
    db: Database, settings: StoreSettings, kafka_bootstrap: str, hub_topics: None
) -> None:
    event = _disconnected()
    async with db.worker() as connection:
        await enqueue(connection, event)
        kind = await connection.fetchval("SELECT jsonb_typeof(payload) FROM outbox")
    assert kind == "object"

    async with create_broker(settings) as broker:
        assert await drain(db, broker) == 1
    [record] = await read_back(kafka_bootstrap, [event.topic], {str(event.event_id)})

    assert parse_event(record.body, topic=event.topic.value) == event
    assert record.key == message_key(event.organization_id, event.provider)
    assert record.headers["content-type"] == b"application/json"
    assert record.headers["event-type"] == b"connection.disconnected"
    assert record.headers["schema-version"] == b"1"
    async with db.worker() as connection:
        assert await unsent_count(connection) == 0


async def test_event_written_inside_a_span_is_published_with_its_trace(
    db: Database, settings: StoreSettings, kafka_bootstrap: str, hub_topics: None
) -> None:
    provider = create_tracer_provider("outbox-test")
    event = _disconnected()
    with provider.get_tracer("test").start_as_current_span("DELETE integration") as span:
        async with db.worker() as connection:
            await enqueue(connection, event)
    trace_id = format(span.get_span_context().trace_id, "032x")

    # The relay runs later, outside that span, in a process with its own tracer provider.
    async with create_broker(settings, tracer_provider=create_tracer_provider("relay")) as broker:
        await drain(db, broker)
    [record] = await read_back(kafka_bootstrap, [event.topic], {str(event.event_id)})

    assert record.headers["traceparent"].decode().split("-")[1] == trace_id


async def test_each_connections_events_are_published_in_the_order_written(
    db: Database, settings: StoreSettings, kafka_bootstrap: str, hub_topics: None
) -> None:
    orgs = [uuid.uuid4() for _ in range(3)]
    events = [_disconnected(orgs[i % 3]) for i in range(90)]
    async with db.worker() as connection:
        await enqueue_many(connection, [message(e) for e in events[:45]])
    async with db.worker() as connection:
        for event in events[45:]:
            await enqueue(connection, event)

    async with create_broker(settings) as broker:
        while await relay_once(db, broker, batch_size=7):  # several small batches
            pass
    received = await read_back(
        kafka_bootstrap, [Topic.CONNECTION_DISCONNECTED], {str(e.event_id) for e in events}
    )

    assert len(received) == len(events)
    for org in orgs:
        written = [str(e.event_id) for e in events if e.organization_id == org]
        mine = [r for r in received if r.key == message_key(org, "slack")]
        assert len({r.partition for r in mine}) == 1
        assert [r.event_id for r in sorted(mine, key=lambda r: r.offset)] == written


class FakeBroker:
    """Acknowledges, refuses or never answers, per message key; records what was published."""

    def __init__(self, *, refuse: Collection[bytes] = (), silent: Collection[bytes] = ()) -> None:
        self.refuse, self.silent = refuse, silent
        self.published: list[bytes] = []

    async def publish(self, body: bytes, **kwargs: Any) -> asyncio.Future[None]:
        assert kwargs["no_confirm"] is True
        key: bytes = kwargs["key"]
        self.published.append(key)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if key in self.refuse:
            future.set_exception(KafkaTimeoutError("no leader"))
        elif key not in self.silent:
            future.set_result(None)
        return future


async def _unsent_keys(db: Database) -> set[bytes]:
    async with db.worker() as connection:
        rows = await connection.fetch("SELECT message_key FROM outbox WHERE sent_at IS NULL")
    return {row["message_key"].encode() for row in rows}


async def test_only_acknowledged_rows_are_marked_sent(db: Database) -> None:
    ok, refused, silent = _disconnected(), _disconnected(), _disconnected()
    async with db.worker() as connection:
        await enqueue_many(connection, [message(e) for e in (ok, refused, silent)])

    def key(event: Event) -> bytes:
        return message_key(event.organization_id, event.provider)

    fake = FakeBroker(refuse={key(refused)}, silent={key(silent)})
    with pytest.raises(RelayError, match="2 of 3 outbox events were not acknowledged"):
        await relay_once(db, cast(KafkaBroker, fake), batch_size=10, timeout_s=0.2)

    assert fake.published == [key(ok), key(refused), key(silent)]
    assert await _unsent_keys(db) == {key(refused), key(silent)}

    healthy = FakeBroker()
    assert await relay_once(db, cast(KafkaBroker, healthy), batch_size=10) == 2
    assert await _unsent_keys(db) == set()


async def test_a_send_that_fails_stops_the_batch_and_leaves_the_rest_unsent(
    db: Database,
) -> None:
    events = [_disconnected() for _ in range(5)]
    async with db.worker() as connection:
        await enqueue_many(connection, [message(e) for e in events])

    class Breaking(FakeBroker):
        async def publish(self, body: bytes, **kwargs: Any) -> asyncio.Future[None]:
            if len(self.published) == 2:
                raise KafkaTimeoutError("metadata unavailable")
            return await super().publish(body, **kwargs)

    with pytest.raises(RelayError, match="3 of 5"):
        await relay_once(db, cast(KafkaBroker, Breaking()), batch_size=10)
    assert len(await _unsent_keys(db)) == 3


async def test_one_relay_at_a_time_across_replicas(db: Database) -> None:
    async with db.worker() as connection:
        await enqueue(connection, _disconnected())
    fake = FakeBroker()
    async with db.worker() as other_replica:
        await other_replica.execute("SELECT pg_advisory_xact_lock($1)", RELAY_LOCK_ID)
        assert await relay_once(db, cast(KafkaBroker, fake), batch_size=10) == 0
    assert fake.published == []
    assert await relay_once(db, cast(KafkaBroker, fake), batch_size=10) == 1


async def test_prune_removes_only_rows_sent_before_the_retention(db: Database) -> None:
    async with db.worker() as connection:
        await enqueue_many(connection, [message(_disconnected()) for _ in range(6)])
        ids = [r["id"] for r in await connection.fetch("SELECT id FROM outbox ORDER BY id")]
        await connection.execute(
            "UPDATE outbox SET sent_at = now() - interval '2 hours' WHERE id = ANY($1)", ids[:3]
        )
        await connection.execute("UPDATE outbox SET sent_at = now() WHERE id = $1", ids[3])

    assert await prune_sent(db, older_than_s=3600, batch_size=2) == 2
    assert await prune_sent(db, older_than_s=3600, batch_size=2) == 1
    assert await prune_sent(db, older_than_s=3600) == 0
    async with db.worker() as connection:
        left = [r["id"] for r in await connection.fetch("SELECT id FROM outbox ORDER BY id")]
    assert left == ids[3:]


def _sealed() -> dict[str, Any]:
    sealed = EncryptedCredential(key_id="k1", nonce=os.urandom(12), ciphertext=os.urandom(48))
    return sealed.model_dump(mode="json")


async def _seed_due(db: Database, count: int) -> list[str]:
    async with db.worker() as connection:
        rows = await connection.fetch(
            """INSERT INTO integration_connections
                   (id, organization_id, provider, auth_type, access_token_encrypted,
                    refresh_token_encrypted, credential_version, status, next_refresh_at)
               SELECT gen_random_uuid(), gen_random_uuid(), 'google_ads',
                      'oauth2_authorization_code', $2, $2, 1, 'active', now() - interval '1 s'
               FROM generate_series(1, $1) RETURNING id""",
            count,
            _sealed(),
        )
    return [str(row["id"]) for row in rows]


async def _outbox_state(db: Database) -> tuple[int, int]:
    async with db.worker() as connection:
        row = await connection.fetchrow(
            "SELECT count(*) AS total, count(*) FILTER (WHERE sent_at IS NULL) AS unsent "
            "FROM outbox"
        )
    assert row is not None
    return row["total"], row["unsent"]


async def _until(condition: Callable[[], Awaitable[bool]], within_s: float = 30.0) -> None:
    """Poll ``condition`` (database state: there is nothing to wait on) until it holds."""
    async with asyncio.timeout(within_s):
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _client(settings: StoreSettings) -> KafkaBroker:
    """A producer that gives up on an unreachable broker after 3 s (the default is 40 s)."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        request_timeout_ms=3000,
        middlewares=[KafkaTelemetryMiddleware()],
    )


@contextlib.asynccontextmanager
async def _running(*work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(w) for w in work]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_broker_outage_during_sweeps_loses_nothing(
    db: Database, store_settings: StoreSettings, tmp_path: Path
) -> None:
    topics = [Topic.TOKEN_EXPIRING.value, Topic.CONNECTION_CHECK_DUE.value]
    first = TansuBroker(tmp_path / "tansu-1.log")
    first.start()
    settings = store_settings.model_copy(
        update={"kafka_bootstrap_servers": first.bootstrap_servers, "sweep_interval_s": 0.05}
    )
    due = DueWork(
        CATALOG,
        check_interval_s=settings.check_interval_s,
        check_jitter=settings.check_jitter,
        refresh_retry_s=settings.refresh_retry_s,
    )
    sweeps = Sweeper(PostgresStore(db), due, batch_size=settings.sweep_batch_size)

    def run_relay(client: KafkaBroker) -> Coroutine[Any, Any, None]:
        relay = Relay(db.worker, client, table=OUTBOX, batch_size=100, timeout_s=1.0)
        return repeat(relay.tick, name="outbox relay", interval_s=0.05, max_backoff_s=0.5)

    second: TansuBroker | None = None
    try:
        await create_topics(first.bootstrap_servers, topics, partitions=3)
        client = _client(settings)
        await client.start()
        try:
            async with _running(
                repeat(
                    sweeps.tick,
                    name="sweep",
                    interval_s=settings.sweep_interval_s,
                    max_backoff_s=60,
                ),
                run_relay(client),
            ):
                await _seed_due(db, 20)
                await _until(lambda: _outbox_state_is(db, total=20, unsent=0))

                first.stop()  # the broker goes away while the store keeps sweeping
                during = await _seed_due(db, 150)
                await _until(lambda: _outbox_state_is(db, total=170, unsent=150))
                await asyncio.sleep(2.5)  # the relay keeps failing and backing off
                assert await _outbox_state(db) == (170, 150)  # nothing marked sent, nothing lost
        finally:
            with contextlib.suppress(Exception):
                await client.stop()

        # Tansu keeps everything in memory: a restart is an empty broker, so the topics are
        # created again and the services reconnect with fresh clients (reference/tansu.md).
        second = TansuBroker(tmp_path / "tansu-2.log", port=first.port)
        second.start()
        await create_topics(second.bootstrap_servers, topics, partitions=3)
        async with _client(settings) as client, _running(run_relay(client)):
            await _until(lambda: _outbox_state_is(db, total=170, unsent=0))

        received = await read_back(
            second.bootstrap_servers, [Topic.TOKEN_EXPIRING], set(during), field="connection_id"
        )
        counts: dict[str, int] = {}
        for record in received:
            counts[record.event_id] = counts.get(record.event_id, 0) + 1
        assert counts == dict.fromkeys(during, 1)
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def _outbox_state_is(db: Database, *, total: int, unsent: int) -> bool:
    return await _outbox_state(db) == (total, unsent)
