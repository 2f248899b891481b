"""The ``token.refreshed`` projection: every partition read from the beginning, with no consumer
group, into ``SettledVersions``; ``caught_up()`` is the barrier new partitions wait behind."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from hub_contracts import ContractError, TokenRefreshedV1, Topic, parse_event

from token_refresher.domain import SettledVersions
from token_refresher.settings import RefresherSettings

log = logging.getLogger(__name__)


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
    """``caught_up()`` waits until two fetch answers per partition arrived after the call and
    everything up to their high watermark was applied: the second answer was requested after
    the call, so it reflects every ``token.refreshed`` acknowledged before it."""

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
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
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
