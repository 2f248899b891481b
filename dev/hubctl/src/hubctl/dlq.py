"""``hubctl dlq``: read a dead-letter topic, and replay chosen records to the topic they came from
with their own headers.

A replay carries ``dlq-replay-of: <dlq topic>/<partition>/<offset>``; before publishing, the
source topic is read for that header, so replaying the same record twice publishes it once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from hub_contracts import dlq_topic
from hub_runtime import ServiceSettings

REPLAY_HEADER = "dlq-replay-of"


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.headers.get("dlq-reason", "")

    @property
    def source_topic(self) -> str:
        return self.headers.get("dlq-source-topic", "")

    @property
    def marker(self) -> str:
        return f"{self.headers.get('dlq-topic', '')}/{self.partition}/{self.offset}"

    def own_headers(self) -> dict[str, str]:
        """The record's headers as first published (``dlq-*`` removed)."""
        return {k: v for k, v in self.headers.items() if not k.startswith("dlq-")}


@dataclass(frozen=True)
class Replayed:
    record: DeadLetter
    published: bool
    """``False``: an earlier replay of this record is on the source topic already."""


def dead_letter_topic(topic: str) -> str:
    """``connection.established`` or ``connection.established.dlq`` → the DLQ's name."""
    return topic if topic.endswith(".dlq") else dlq_topic(topic)


def _bootstrap() -> str:
    return ServiceSettings().kafka_bootstrap_servers


async def _read_all(topic: str) -> list[tuple[int, int, int, bytes | None, bytes, dict[str, str]]]:
    """Every record of ``topic`` from the beginning to the end offsets now (no group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=_bootstrap(), enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        for tp in tps:
            if ends[tp] > 0 and await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, found in batch.items():
                for r in found:
                    headers = {k: v.decode("utf-8", "replace") for k, v in r.headers or ()}
                    records.append(
                        (r.partition, r.offset, r.timestamp, r.key, r.value or b"", headers)
                    )
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


async def list_dead_letters(topic: str) -> list[DeadLetter]:
    name = dead_letter_topic(topic)
    return [
        DeadLetter(
            partition,
            offset,
            datetime.fromtimestamp(timestamp / 1000, UTC),
            key,
            value,
            {**headers, "dlq-topic": name},
        )
        for partition, offset, timestamp, key, value, headers in await _read_all(name)
    ]


async def replayed_markers(topic: str) -> set[str]:
    """The replay markers already on ``topic``."""
    return {h[REPLAY_HEADER] for *_, h in await _read_all(topic) if REPLAY_HEADER in h}


async def replay(records: Iterable[DeadLetter], *, dry_run: bool = False) -> list[Replayed]:
    """Publish each record to its source topic with its own headers, once."""
    chosen = list(records)
    seen: dict[str, set[str]] = {}
    for record in chosen:
        if record.source_topic not in seen:
            seen[record.source_topic] = await replayed_markers(record.source_topic)
    results = []
    producer = None if dry_run else AIOKafkaProducer(bootstrap_servers=_bootstrap(), acks="all")
    if producer is not None:
        await producer.start()
    try:
        for record in chosen:
            done = seen[record.source_topic]
            if record.marker in done:
                results.append(Replayed(record, published=False))
                continue
            if producer is not None:
                headers = {**record.own_headers(), REPLAY_HEADER: record.marker}
                await producer.send_and_wait(
                    record.source_topic,
                    record.value,
                    key=record.key,
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
            done.add(record.marker)
            results.append(Replayed(record, published=True))
    finally:
        if producer is not None:
            await producer.stop()
    return results
