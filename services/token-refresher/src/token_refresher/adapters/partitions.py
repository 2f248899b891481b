"""The ``token.expiring`` partitions this member owns, behind the FastStream subscriber: records
in flight (bounded), the finished prefix of each partition committed, and the hand-over on a
rebalance (new partitions wait for the projection; revoked ones for the calls already sent)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from token_refresher.domain import PartitionProgress, Ticket
from token_refresher.settings import RefresherSettings

log = logging.getLogger(__name__)

RecordHandler = Callable[[Any], Awaitable[None]]
"""Handles one aiokafka ``ConsumerRecord``; never raises for a bad record (it dead-letters)."""


@dataclass
class _Partition:
    progress: PartitionProgress = field(default_factory=PartitionProgress)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    revoking: bool = False
    fetched: int | None = None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: Partitions) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.owner.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.owner.assigned(set(assigned))


class Partitions:
    """Up to ``max_in_flight`` records handled at once, each in its own task; the finished prefix
    of each partition committed every ``commit_interval_s``, on revocation and at ``stop``."""

    def __init__(
        self,
        settings: RefresherSettings,
        *,
        before_processing: Callable[[], Awaitable[None]],
        drain: Callable[[float], Awaitable[int]],
    ) -> None:
        self.settings = settings
        self.before_processing = before_processing
        self.drain = drain
        self.listener = _Listener(self)
        """The subscriber's rebalance listener."""
        self.in_flight = 0
        self.joined = False
        self.commits = 0
        self._parts: dict[TopicPartition, _Partition] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._room = asyncio.Event()
        self._room.set()
        self._stopping = False
        self._committer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._committer = asyncio.create_task(self._commit_every_interval(), name="commits")

    @property
    def alive(self) -> bool:
        return self._committer is not None and not self._committer.done()

    @property
    def partitions(self) -> list[int]:
        return sorted(tp.partition for tp in self._parts)

    async def take(self, records: Iterable[Any], consumer: Any, handle: RecordHandler) -> None:
        """Start ``handle`` on each fetched record of an owned partition; wait for room while
        ``max_in_flight`` records are in flight (the subscriber fetches no more meanwhile)."""
        self._consumer = consumer
        for record in records:
            await self._room.wait()
            part = self._parts.get(TopicPartition(record.topic, record.partition))
            if part is None or part.revoking or self._stopping:
                continue  # not ours any more: never finished, so never committed
            self._dispatch(part, record, handle)
            part.fetched = record.offset + 1

    def _dispatch(self, part: _Partition, record: Any, handle: RecordHandler) -> None:
        ticket = part.progress.start(record.offset)
        if ticket is None:
            return
        self.in_flight += 1
        if self.in_flight >= self.settings.max_in_flight:
            self._room.clear()
        task = asyncio.create_task(self._work(part, ticket, record, handle))
        part.tasks.add(task)
        task.add_done_callback(part.tasks.discard)

    async def _work(
        self, part: _Partition, ticket: Ticket, record: Any, handle: RecordHandler
    ) -> None:
        try:
            await part.ready.wait()
            await handle(record)
            part.progress.finish(ticket)
        except asyncio.CancelledError:
            # Revoked or stopping: its offset stays uncommitted, so the next owner reads it again.
            log.debug("record left unfinished", extra={"offset": getattr(record, "offset", None)})
        except Exception:
            log.exception("record handler failed", extra={"offset": record.offset})
            part.progress.finish(ticket)
        finally:
            self.in_flight -= 1
            if self.in_flight < self.settings.max_in_flight:
                self._room.set()

    async def _commit_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.settings.commit_interval_s)
            await self._commit(self._parts)

    async def _commit(self, parts: dict[TopicPartition, _Partition]) -> None:
        pending = {
            tp: (part, point)
            for tp, part in list(parts.items())
            if (point := part.progress.pending_commit()) is not None
        }
        consumer = self._consumer
        if consumer is None or not pending:
            return
        try:
            await consumer.commit({tp: point for tp, (_, point) in pending.items()})
        except KafkaError as exc:
            log.warning("offset commit failed", extra={"error": type(exc).__name__})
            return
        self.commits += 1
        for part, point in pending.values():
            part.progress.committed = point

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
        """Before the subscriber stops: take nothing more, drain and commit what was owned."""
        self._stopping = True
        await self.revoked(set(self._parts))
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer

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
