"""The batching bus on the real broker: ``publish_events`` in bulk, ``subscribe`` in batches
keeps each key's order, dead-letters by the same rules, goes on, and commits everything."""

from __future__ import annotations

import asyncio
import random
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka.annotations import KafkaMessage
from hub_contracts import ConnectionRecoveredV1, Event, Topic, message_key
from hub_localstack.topics import create_topics
from hub_runtime import (
    PermanentHandlerError,
    ServiceSettings,
    create_broker,
    publish_events,
    subscribe,
)

KEYS = 6
PER_KEY = 40
POISON = 13  # this sequence number of every key is refused by the handler


def _settings(bootstrap: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="test",
        kafka_bootstrap_servers=bootstrap,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        kafka_fetch_max_wait_ms=10,
        consumer_max_attempts=2,
        consumer_batch_max_records=64,
    )


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        total = 0
        for partition in range(2):
            total += await consumer.committed(TopicPartition(topic, partition)) or 0
        return total
    finally:
        await consumer.stop()


async def test_batches_keep_each_keys_order_and_the_dlq_rules(kafka_bootstrap: str) -> None:
    topic = Topic.CONNECTION_RECOVERED.value
    await create_topics(kafka_bootstrap, [topic, f"{topic}.dlq"], partitions=2)
    settings = _settings(kafka_bootstrap)
    organizations = [uuid.uuid4() for _ in range(KEYS)]
    events = [
        ConnectionRecoveredV1(
            organization_id=org,
            provider="slack",
            connection_id=uuid.uuid4(),
            credential_version=sequence,
            detected_by="health-monitor",
        )
        for sequence in range(1, PER_KEY + 1)
        for org in organizations
    ]
    handled: dict[uuid.UUID, list[int]] = {org: [] for org in organizations}
    dead: list[dict[str, str]] = []
    rng = random.Random(5)

    async def handler(event: Event) -> None:
        assert isinstance(event, ConnectionRecoveredV1)
        await asyncio.sleep(rng.random() / 500)  # keys interleave differently each batch
        if event.credential_version == POISON:
            raise PermanentHandlerError("refused")
        handled[event.organization_id].append(event.credential_version)

    group = f"t.batching.{uuid.uuid4().hex[:8]}"
    broker = create_broker(settings)
    subscribe(
        broker,
        settings,
        topic=Topic.CONNECTION_RECOVERED,
        group=group,
        handler=handler,
        retry_base_delay_s=0.001,
    )

    @broker.subscriber(f"{topic}.dlq", group_id=f"{group}.dlq", auto_offset_reset="earliest")
    async def collect(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    expected = [s for s in range(1, PER_KEY + 1) if s != POISON]
    async with broker:
        await broker.start()
        await broker.publish(b"{not json", topic=topic, key=message_key(organizations[0], "slack"))
        await publish_events(broker, events)
        for _ in range(600):
            if all(len(seen) == len(expected) for seen in handled.values()) and len(dead) > KEYS:
                break
            await asyncio.sleep(0.05)
        for _ in range(100):  # the batch commit follows the last handler
            if await _committed(kafka_bootstrap, group, topic) == len(events) + 1:
                break
            await asyncio.sleep(0.1)
        committed = await _committed(kafka_bootstrap, group, topic)

    assert all(seen == expected for seen in handled.values()), handled
    assert sorted(d["dlq-reason"] for d in dead) == ["malformed"] + ["permanent_failure"] * KEYS
    assert {d["dlq-consumer-group"] for d in dead} == {group}
    assert committed == len(events) + 1
