"""Kafka at the edges: publishing outcomes, dead letters, the ``token.refreshed`` projection and
the ``token.expiring`` consumer.

``ExpiringConsumer`` is a plain aiokafka group consumer rather than ``hub_runtime.subscribe``
because it needs what FastStream's one-message-at-a-time subscriber does not give: many records
in flight at once (bounded), commits of exactly the finished prefix of each partition, and a
rebalance listener that (on revocation) waits for provider calls already sent and (on
assignment) holds new partitions until the projection has caught up. It keeps ``subscribe``'s
conventions: parse with the contract registry, ``<topic>.dlq`` with the same headers.

``RefreshedProjection`` reads every partition of ``token.refreshed`` from the beginning with no
consumer group (each replica sees every refresh, its own included) into ``SettledVersions``.
Its ``caught_up()`` barrier waits until two fetch answers per partition arrived after the call
and everything up to their high watermark was applied: the second answer was requested after
the call, so it reflects every ``token.refreshed`` acknowledged before it. Fetch answers carry a
correct high watermark on the local broker too (its ListOffsets LATEST is not reliable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from hub_contracts import ContractError, Event, TokenRefreshedV1, Topic, dlq_topic, parse_event
from hub_runtime import publish_event

from token_refresher.domain import SettledVersions
from token_refresher.offsets import PartitionProgress, Ticket
from token_refresher.settings import RefresherSettings

log = logging.getLogger(__name__)

RecordHandler = Callable[[Any], Awaitable[None]]
"""Handles one aiokafka ``ConsumerRecord``; never raises for a bad record (it dead-letters)."""


def _consumer_options(settings: RefresherSettings) -> dict[str, Any]:
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }


# --- publishing --------------------------------------------------------------------------------


class KafkaEvents:
    """``EventSink``: publish an event and wait for the acknowledgement, retrying transient
    failures until ``timeout_s``."""

    def __init__(self, broker: KafkaBroker, *, timeout_s: float) -> None:
        self.broker = broker
        self.timeout_s = timeout_s

    async def publish(self, event: Event) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(max(0.1, deadline - loop.time())):
                    await publish_event(self.broker, event)
                return
            except Exception as exc:
                if loop.time() >= deadline:
                    raise
                log.warning(
                    "publish failed; retrying",
                    extra={
                        "topic": event.topic.value,
                        "attempt": attempt,
                        "error": type(exc).__name__,
                    },
                )
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))


class DeadLetters:
    """Sends a record to ``<topic>.dlq`` with the headers ``hub_runtime.subscribe`` uses."""

    def __init__(self, broker: KafkaBroker, *, group: str, timeout_s: float) -> None:
        self.broker = broker
        self.group = group
        self.timeout_s = timeout_s

    async def send(self, record: Any, reason: str, error: str) -> bool:
        log.warning(
            "event sent to dead-letter topic",
            extra={"topic": record.topic, "group": self.group, "reason": reason, "error": error},
        )
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.broker.publish(
                    record.value or b"",
                    topic=dlq_topic(record.topic),
                    key=record.key,
                    headers={
                        "dlq-reason": reason,
                        "dlq-error": error[:1000],
                        "dlq-source-topic": record.topic,
                        "dlq-source-partition": str(record.partition),
                        "dlq-source-offset": str(record.offset),
                        "dlq-consumer-group": self.group,
                    },
                )
        except Exception as exc:
            # The store's sweep emits the connection again after its retry interval, so a
            # token.expiring lost here is late, not lost for good.
            log.error(
                "could not dead-letter a record; it is dropped",
                extra={"reason": reason, "offset": record.offset, "error": type(exc).__name__},
            )
            return False
        return True


# --- the token.refreshed projection ----------------------------------------------------------


@dataclass
class _Barrier:
    started_ms: int
    done: asyncio.Future[None]
    marks: dict[TopicPartition, int] = field(default_factory=dict)
    polls: dict[TopicPartition, int] = field(default_factory=dict)
    targets: dict[TopicPartition, int] = field(default_factory=dict)
    """Per partition, the high watermark of the second fetch answer after the barrier began:
    a fixed target, so a busy topic cannot keep the barrier from ever being met."""


class RefreshedProjection:
    def __init__(
        self,
        settings: RefresherSettings,
        settled: SettledVersions,
        *,
        topic: str = Topic.TOKEN_REFRESHED.value,
    ) -> None:
        self.settings = settings
        self.settled = settled
        self.topic = topic
        self.applied = 0
        self.skipped = 0
        self.caught_up_once = False
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._barriers: list[_Barrier] = []
        self._positions: dict[TopicPartition, int] = {}
        self._highs: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            group_id=None,
            client_id=f"{self.settings.service_name}-projection",
            **_consumer_options(self.settings),
        )
        await consumer.start()
        self._consumer = consumer
        self._partitions = await self._discover(consumer)
        consumer.assign(self._partitions)
        await consumer.seek_to_beginning(*self._partitions)
        self._task = asyncio.create_task(self._run(), name="refreshed-projection")

    async def _discover(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        for attempt in range(1, 61):
            await consumer.topics()  # refreshes metadata
            found = consumer.partitions_for_topic(self.topic)
            if found:
                return [TopicPartition(self.topic, p) for p in sorted(found)]
            log.warning("topic not found yet", extra={"topic": self.topic, "attempt": attempt})
            await asyncio.sleep(1.0)
        raise RuntimeError(f"topic {self.topic} does not exist")

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def caught_up(self) -> None:
        """Return once every ``token.refreshed`` acknowledged before the call is applied."""
        loop = asyncio.get_running_loop()
        barrier = _Barrier(started_ms=int(time.time() * 1000), done=loop.create_future())
        self._barriers.append(barrier)
        started = time.monotonic()
        while True:
            try:
                await asyncio.wait_for(
                    asyncio.shield(barrier.done), timeout=self.settings.barrier_timeout_s
                )
                self.caught_up_once = True
                return
            except TimeoutError:
                log.warning(
                    "token.refreshed projection not caught up yet; holding new partitions",
                    extra={"waited_s": round(time.monotonic() - started, 1)},
                )

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            except KafkaError as exc:
                log.warning("projection fetch failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)
                continue
            for tp, records in batches.items():
                for record in records:
                    self._apply(record.value)
                if records:
                    self._positions[tp] = records[-1].offset + 1
                    high = consumer.highwater(tp)
                    if high is not None:
                        self._highs[tp] = high
            if self._barriers:
                await self._check_barriers(consumer)

    def _apply(self, value: bytes | None) -> None:
        try:
            event = parse_event(value or b"", topic=Topic.TOKEN_REFRESHED.value)
        except ContractError:
            self.skipped += 1
            return
        if isinstance(event, TokenRefreshedV1):
            self.settled.settle(event.connection_id, event.credential_version - 1)
            self.applied += 1

    async def _check_barriers(self, consumer: AIOKafkaConsumer) -> None:
        for tp in self._partitions:
            self._positions[tp] = await consumer.position(tp)
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._highs[tp] = highwater
        for barrier in list(self._barriers):
            for tp in self._partitions:
                stamp = consumer.last_poll_timestamp(tp)
                if stamp is not None and stamp > barrier.marks.get(tp, barrier.started_ms):
                    barrier.marks[tp] = stamp
                    barrier.polls[tp] = barrier.polls.get(tp, 0) + 1
                    highwater = consumer.highwater(tp)
                    if (
                        barrier.polls[tp] >= 2
                        and tp not in barrier.targets
                        and highwater is not None
                    ):
                        barrier.targets[tp] = highwater
            met = all(
                tp in barrier.targets and self._positions[tp] >= barrier.targets[tp]
                for tp in self._partitions
            )
            if met:
                self._barriers.remove(barrier)
                if not barrier.done.done():
                    barrier.done.set_result(None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def lag(self) -> int:
        """Records of ``token.refreshed`` not applied yet (approximate on the local broker)."""
        return sum(max(0, high - self._positions.get(tp, 0)) for tp, high in self._highs.items())


# --- the token.expiring consumer -------------------------------------------------------------


@dataclass
class _Partition:
    progress: PartitionProgress = field(default_factory=PartitionProgress)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    revoking: bool = False
    fetched: int | None = None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: ExpiringConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.owner.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.owner.assigned(set(assigned))


class ExpiringConsumer:
    """Group consumer of ``token.expiring``: up to ``max_in_flight`` records handled at once, the
    finished prefix of each partition committed every ``commit_interval_s``."""

    def __init__(
        self,
        settings: RefresherSettings,
        handle: RecordHandler,
        *,
        before_processing: Callable[[], Awaitable[None]],
        drain: Callable[[float], Awaitable[int]],
        topic: str = Topic.TOKEN_EXPIRING.value,
    ) -> None:
        self.settings = settings
        self.handle = handle
        self.before_processing = before_processing
        self.drain = drain
        self.topic = topic
        self.in_flight = 0
        self.joined = False
        self.commits = 0
        self._parts: dict[TopicPartition, _Partition] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            group_id=self.settings.consumer_group,
            client_id=self.settings.service_name,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
            **_consumer_options(self.settings),
        )
        consumer.subscribe([self.topic], listener=_Listener(self))
        await consumer.start()
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name="token-expiring-consumer")

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def partitions(self) -> list[int]:
        return sorted(tp.partition for tp in self._parts)

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        last_commit = time.monotonic()
        while True:
            room = self.settings.max_in_flight - self.in_flight
            self._throttle(consumer, room)
            try:
                batches = await consumer.getmany(
                    timeout_ms=200, max_records=max(1, min(self.settings.poll_max_records, room))
                )
            except KafkaError as exc:
                log.warning("fetch failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)
                continue
            for tp, records in batches.items():
                part = self._parts.get(tp)
                if part is None or part.revoking:
                    continue  # not ours any more: never finished, so never committed
                for record in records:
                    self._dispatch(part, record)
                if records:
                    part.fetched = records[-1].offset + 1
            if time.monotonic() - last_commit >= self.settings.commit_interval_s:
                await self._commit(self._parts)
                last_commit = time.monotonic()

    def _throttle(self, consumer: AIOKafkaConsumer, room: int) -> None:
        paused = consumer.paused()
        if room <= 0:
            running = consumer.assignment() - paused
            if running:
                consumer.pause(*running)
        elif paused:
            consumer.resume(*paused)

    def _dispatch(self, part: _Partition, record: Any) -> None:
        ticket = part.progress.start(record.offset)
        if ticket is None:
            return
        self.in_flight += 1
        task = asyncio.create_task(self._work(part, ticket, record))
        part.tasks.add(task)
        task.add_done_callback(part.tasks.discard)

    async def _work(self, part: _Partition, ticket: Ticket, record: Any) -> None:
        try:
            await part.ready.wait()
            await self.handle(record)
            part.progress.finish(ticket)
        except asyncio.CancelledError:
            pass  # revoked or stopping: unfinished, the next owner reads it again
        except Exception:
            log.exception("record handler failed", extra={"offset": record.offset})
            part.progress.finish(ticket)
        finally:
            self.in_flight -= 1

    async def _commit(self, parts: dict[TopicPartition, _Partition]) -> None:
        consumer = self._consumer
        offsets = {
            tp: point
            for tp, part in parts.items()
            if (point := part.progress.pending_commit()) is not None
        }
        if consumer is None or not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            log.warning("offset commit failed", extra={"error": type(exc).__name__})
            return
        self.commits += 1
        for tp, point in offsets.items():
            parts[tp].progress.committed = point

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        fresh = {tp: _Partition() for tp in partitions if tp not in self._parts}
        self._parts.update(fresh)
        log.info("partitions assigned", extra={"partitions": sorted(p.partition for p in fresh)})
        # Before the first record of these partitions: every token.refreshed their previous
        # owner published is in SettledVersions, so its redelivered events are dropped.
        await self.before_processing()
        for part in fresh.values():
            part.ready.set()
        self.joined = True

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        parts = {tp: self._parts[tp] for tp in partitions if tp in self._parts}
        if not parts:
            return
        tasks = [task for part in parts.values() for task in part.tasks]
        for part in parts.values():
            part.revoking = True
        for task in tasks:
            task.cancel()
        # Provider calls already sent finish, and their outcome events go out, before another
        # member may take these partitions.
        still = await self.drain(self.settings.drain_timeout_s)
        if still:
            log.error("provider calls still running after the drain timeout", extra={"n": still})
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._commit(parts)
        for tp in parts:
            self._parts.pop(tp, None)
        log.info("partitions revoked", extra={"partitions": sorted(p.partition for p in parts)})

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.revoked(set(self._parts))
        if self._consumer is not None:
            await self._consumer.stop()

    def lag(self) -> int:
        """Records of the owned partitions not fetched yet (approximate on the local broker)."""
        consumer = self._consumer
        if consumer is None:
            return 0
        total = 0
        for tp, part in list(self._parts.items()):
            if part.fetched is None:
                continue
            try:
                highwater = consumer.highwater(tp)
            except AssertionError:  # no longer assigned
                continue
            if highwater is not None:
                total += max(0, highwater - part.fetched)
        return total
