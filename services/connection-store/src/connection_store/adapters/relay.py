"""The outbox relay: on one replica at a time (advisory lock), publish the unsent rows in id order,
mark exactly the rows the broker acknowledged, prune sent rows after ``retain_sent_s``
(at-least-once; README "Outbox")."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka.structs import RecordMetadata
from faststream.kafka import KafkaBroker
from opentelemetry import context, propagate

from connection_store.adapters.database import Database

log = logging.getLogger(__name__)

RELAY_LOCK_ID = 0x1B7E_0B0C
"""``pg_try_advisory_xact_lock`` key: one active relay across replicas (per-key order)."""

CLAIM_UNSENT_SQL = """
    SELECT id, topic, message_key, payload::text AS payload, headers
    FROM outbox
    WHERE sent_at IS NULL
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED"""
"""Oldest unsent rows first; an index range scan of the partial index ``outbox_unsent``."""

PRUNE_SENT_SQL = """
    DELETE FROM outbox
    WHERE id = ANY(ARRAY(
        SELECT id FROM outbox
        WHERE sent_at IS NOT NULL AND sent_at < $1
        ORDER BY sent_at
        LIMIT $2))"""
"""Delete one batch of rows sent before ``$1``; a range scan of ``outbox_sent`` (0002)."""


class RelayError(RuntimeError):
    """Some claimed rows were not acknowledged by the broker; they stay unsent."""


async def relay_once(
    db: Database, broker: KafkaBroker, *, batch_size: int, timeout_s: float = 30.0
) -> int:
    """Publish one batch of unsent events; return how many the broker acknowledged.

    Raises ``RelayError`` (after recording what was acknowledged) when some were not.
    """
    failure: BaseException | None = None
    async with db.worker() as connection:
        if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK_ID):
            return 0  # another replica is relaying
        rows = await connection.fetch(CLAIM_UNSENT_SQL, batch_size)
        if not rows:
            return 0
        acknowledged, failure = await _publish_all(broker, rows, timeout_s)
        if acknowledged:
            await connection.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", acknowledged
            )
    if failure is not None:
        raise RelayError(
            f"{len(rows) - len(acknowledged)} of {len(rows)} outbox events were not "
            f"acknowledged by the broker; they stay unsent: {type(failure).__name__}: {failure}"
        ) from failure
    return len(acknowledged)


async def _publish_all(
    broker: KafkaBroker, rows: Sequence[asyncpg.Record], timeout_s: float
) -> tuple[list[int], BaseException | None]:
    """Publish ``rows`` in order; return the ids acknowledged and the first failure, if any."""
    deadline = time.monotonic() + timeout_s
    pending: list[tuple[int, asyncio.Future[RecordMetadata]]] = []
    failure: BaseException | None = None
    try:
        async with asyncio.timeout(timeout_s):
            for row in rows:
                future = await _send(broker, row)
                future.add_done_callback(_retrieve)  # even if this round is cancelled
                pending.append((row["id"], future))
    except Exception as exc:  # the broker refused, or appending timed out: stop here
        failure = exc
    futures = [future for _, future in pending]
    if futures:
        await asyncio.wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    acknowledged = []
    for row_id, future in pending:
        if future.done() and not future.cancelled() and future.exception() is None:
            acknowledged.append(row_id)
            continue
        if failure is None:
            failure = (
                future.exception()
                if future.done() and not future.cancelled()
                else TimeoutError(f"no acknowledgement within {timeout_s:g} s")
            )
    return acknowledged, failure


async def _send(broker: KafkaBroker, row: asyncpg.Record) -> asyncio.Future[RecordMetadata]:
    """Append one row to the producer's batch, inside the trace context it was written in."""
    headers: dict[str, str] = row["headers"]
    token = context.attach(propagate.extract(headers))
    try:
        return await broker.publish(
            row["payload"].encode(),
            topic=row["topic"],
            key=row["message_key"].encode(),
            headers={"content-type": "application/json", **headers},
            no_confirm=True,
        )
    finally:
        context.detach(token)


def _retrieve(future: asyncio.Future[RecordMetadata]) -> None:
    """Consume a late outcome, so asyncio does not report it as never retrieved."""
    if not future.cancelled():
        future.exception()


async def prune_sent(db: Database, *, older_than_s: float, batch_size: int = 5000) -> int:
    """Delete rows sent more than ``older_than_s`` ago, one batch; return how many."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    async with db.worker() as connection:
        result: str = await connection.execute(PRUNE_SENT_SQL, cutoff, batch_size)
    return int(result.split()[-1])


class Relay:
    """One relay round per ``tick``; every ``prune_every_s`` also the rows sent more than
    ``retain_sent_s`` ago are deleted."""

    def __init__(
        self,
        db: Database,
        broker: KafkaBroker,
        *,
        batch_size: int,
        timeout_s: float = 30.0,
        retain_sent_s: float = 3600.0,
        prune_every_s: float = 60.0,
    ) -> None:
        self.db = db
        self.broker = broker
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.retain_sent_s = retain_sent_s
        self.prune_every_s = prune_every_s
        self._next_prune = time.monotonic() + prune_every_s

    async def tick(self) -> bool:
        """Relay one batch; true when it was full (more is waiting)."""
        sent = await relay_once(
            self.db, self.broker, batch_size=self.batch_size, timeout_s=self.timeout_s
        )
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + self.prune_every_s
            await self._prune_all()
        return sent >= self.batch_size

    async def _prune_all(self) -> None:
        try:
            pruned = 0
            while (batch := await prune_sent(self.db, older_than_s=self.retain_sent_s)) > 0:
                pruned += batch
        except Exception:
            log.exception("outbox prune failed; retrying later")
            return
        if pruned:
            log.info("outbox pruned", extra={"deleted": pruned})
