"""The bus (part of ``make bench``): events published with ``publish_event`` and consumed
through ``subscribe`` on the real local broker (or KAFKA_BOOTSTRAP_SERVERS), end to end, and a
bare aiokafka producer + consumer moving the same bytes in the same run (the reference)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from hub_contracts import Event, Topic, message_key, serialize_event
from hub_contracts.examples import EXAMPLES
from hub_localstack.broker import TansuBroker
from hub_localstack.settings import StackSettings
from hub_localstack.topics import create_topics
from hub_runtime import ServiceSettings, create_broker, publish_events, subscribe

from tests.bench.measure import figure

PARTITIONS = 6


def _settings(bootstrap: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="bench",
        kafka_bootstrap_servers=bootstrap,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        kafka_fetch_max_wait_ms=10,
    )


def _events(count: int) -> list[Event]:
    template = next(e for e in EXAMPLES if e.topic == Topic.TOKEN_REFRESHED)
    return [
        template.model_copy(update={"event_id": uuid.uuid4(), "organization_id": uuid.uuid4()})
        for _ in range(count)
    ]


async def _hub(bootstrap: str, count: int) -> dict[str, Any]:
    settings = _settings(bootstrap)
    events = _events(count)
    wanted = {e.event_id for e in events}
    done = asyncio.Event()
    seen: set[uuid.UUID] = set()

    async def handler(event: Event) -> None:
        if event.event_id in wanted:
            seen.add(event.event_id)
            if len(seen) == count:
                done.set()

    broker = create_broker(settings)
    subscribe(
        broker,
        settings,
        topic=Topic.TOKEN_REFRESHED,
        group=f"bench.{uuid.uuid4().hex}",
        handler=handler,
    )
    async with broker:
        await broker.start()
        started = time.perf_counter()
        await publish_events(broker, events)
        published = time.perf_counter() - started
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - started
    return {"events": count, "publish_s": round(published, 3), "seconds": round(elapsed, 3)}


async def _bare(bootstrap: str, count: int) -> dict[str, Any]:
    """aiokafka alone: ``send()`` futures then one flush; a group consumer with ``getmany``."""
    topic = f"bench.bare.{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, [topic], partitions=PARTITIONS)
    events = _events(count)
    records = [(message_key(e.organization_id, e.provider), serialize_event(e)) for e in events]
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench.{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=10,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        received = 0
        started = time.perf_counter()
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
        published = time.perf_counter() - started
        while received < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            received += sum(len(b) for b in batches.values())
            await consumer.commit()
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
        await consumer.stop()
    return {"events": count, "publish_s": round(published, 3), "seconds": round(elapsed, 3)}


@contextlib.contextmanager
def _broker() -> Iterator[str]:
    external = StackSettings().kafka_bootstrap_servers
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory() as scratch, TansuBroker(Path(scratch) / "t.log") as broker:
        yield broker.bootstrap_servers


async def figures(scale: float) -> dict[str, dict[str, object]]:
    count = max(2000, int(20_000 * scale))
    with _broker() as bootstrap:
        topic = Topic.TOKEN_REFRESHED.value
        await create_topics(bootstrap, [topic, f"{topic}.dlq"], partitions=PARTITIONS)
        hub = await _hub(bootstrap, count)
        bare = await _bare(bootstrap, count)
    hub_rate, bare_rate = count / hub["seconds"], count / bare["seconds"]
    print(f"bus: hub {hub}, bare aiokafka {bare}")
    return {
        "bus_events_per_s": figure(hub_rate, "events/s", 10_000, "higher"),
        "bus_bare_aiokafka_events_per_s": figure(bare_rate, "events/s", 10_000, "higher"),
        "bus_vs_bare_ratio": figure(hub_rate / bare_rate, "ratio", 0.5, "higher"),
    }


if __name__ == "__main__":
    print(asyncio.run(figures(0.1)))
