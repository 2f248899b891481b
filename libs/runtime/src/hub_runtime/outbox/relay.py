"""The outbox relay, shared by every service with an outbox table: on one replica at a time
(advisory lock), publish the unsent rows in id order, mark exactly the rows the broker
acknowledged, prune sent rows after ``retain_sent_s`` (at-least-once).

A service names its table and lock (``OutboxTable``) and hands over how to open a transaction
that may read every row (``Transaction``: the store's ``hub_worker`` role, the gateway's pool).
The table has the columns of the store's ``outbox`` (0001): ``id`` (identity), ``organization_id``,
``topic``, ``message_key``, ``payload`` (JSONB), ``headers`` (JSONB), ``created_at``, ``sent_at``,
with partial indexes on ``id WHERE sent_at IS NULL`` and ``sent_at WHERE sent_at IS NOT NULL``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka.structs import RecordMetadata
from asyncpg.pool import PoolConnectionProxy
from faststream.kafka import KafkaBroker
from hub_contracts import message_key
from opentelemetry import context, propagate

from hub_runtime.outbox import OutboxMessage

log = logging.getLogger(__name__)

Connection = asyncpg.Connection | PoolConnectionProxy
Transaction = Callable[[], AbstractAsyncContextManager[Connection]]
"""Opens a transaction that sees every outbox row (a new one per call)."""

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class OutboxTable:
    """One service's outbox: its table and the advisory-lock key of its relay."""

    name: str
    lock_id: int

    def __post_init__(self) -> None:
        if not _TABLE_NAME.fullmatch(self.name):
            raise ValueError(f"bad outbox table name {self.name!r}")

    @property
    def claim_sql(self) -> str:
        """Oldest unsent rows first; an index range scan of the partial unsent index."""
        return f"""
    SELECT id, topic, message_key, payload::text AS payload, headers
    FROM {self.name}
    WHERE sent_at IS NULL
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED"""  # noqa: S608 - checked table name

    @property
    def prune_sql(self) -> str:
        """Delete one batch of rows sent before ``$1``; a range scan of the sent index."""
        return f"""
    DELETE FROM {self.name}
    WHERE id = ANY(ARRAY(
        SELECT id FROM {self.name}
        WHERE sent_at IS NOT NULL AND sent_at < $1
        ORDER BY sent_at
        LIMIT $2))"""  # noqa: S608 - checked table name


class RelayError(RuntimeError):
    """Some claimed rows were not acknowledged by the broker; they stay unsent."""


async def enqueue_many(
    connection: Connection, messages: Sequence[OutboxMessage], *, table: OutboxTable
) -> None:
    """Write several messages in one statement (one round trip), in the given order, in the
    caller's transaction."""
    if not messages:
        return
    await connection.execute(
        f"""INSERT INTO {table.name} (organization_id, topic, message_key, payload, headers)
           SELECT organization_id, topic, message_key, payload::jsonb, headers::jsonb
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
                WITH ORDINALITY AS m(organization_id, topic, message_key, payload, headers, n)
           ORDER BY n""",  # noqa: S608 - checked table name
        [m.event.organization_id for m in messages],
        [m.event.topic.value for m in messages],
        [message_key(m.event.organization_id, m.event.provider).decode() for m in messages],
        [m.event.model_dump_json() for m in messages],
        [json.dumps(m.headers) for m in messages],
    )


async def unsent_count(connection: Connection, *, table: OutboxTable, cap: int = 10_000) -> int:
    """Unsent rows, counted up to ``cap`` (cheap: a bounded scan of the unsent index)."""
    count: int = await connection.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM {table.name} "  # noqa: S608 - checked table name
        "WHERE sent_at IS NULL LIMIT $1) AS unsent",
        cap,
    )
    return count


async def relay_once(
    transaction: Transaction,
    broker: KafkaBroker,
    *,
    table: OutboxTable,
    batch_size: int,
    timeout_s: float = 30.0,
) -> int:
    """Publish one batch of unsent events; return how many the broker acknowledged.

    Raises ``RelayError`` (after recording what was acknowledged) when some were not.
    """
    failure: BaseException | None = None
    async with transaction() as connection:
        if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1)", table.lock_id):
            return 0  # another replica is relaying
        rows = await connection.fetch(table.claim_sql, batch_size)
        if not rows:
            return 0
        acknowledged, failure = await _publish_all(broker, rows, timeout_s)
        if acknowledged:
            await connection.execute(
                f"UPDATE {table.name} SET sent_at = now() WHERE id = ANY($1::bigint[])",  # noqa: S608 - checked table name
                acknowledged,
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
    headers = row["headers"]
    if isinstance(headers, str):  # a connection without the JSON codec
        headers = json.loads(headers)
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


async def prune_sent(
    transaction: Transaction, *, table: OutboxTable, older_than_s: float, batch_size: int = 5000
) -> int:
    """Delete rows sent more than ``older_than_s`` ago, one batch; return how many."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    async with transaction() as connection:
        result: str = await connection.execute(table.prune_sql, cutoff, batch_size)
    return int(result.split()[-1])


class Relay:
    """One relay round per ``tick``; every ``prune_every_s`` also the rows sent more than
    ``retain_sent_s`` ago are deleted. Run it with ``hub_runtime.loop.repeat(relay.tick, ...)``."""

    def __init__(
        self,
        transaction: Transaction,
        broker: KafkaBroker,
        *,
        table: OutboxTable,
        batch_size: int,
        timeout_s: float = 30.0,
        retain_sent_s: float = 3600.0,
        prune_every_s: float = 60.0,
    ) -> None:
        self.transaction = transaction
        self.broker = broker
        self.table = table
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.retain_sent_s = retain_sent_s
        self.prune_every_s = prune_every_s
        self._next_prune = time.monotonic() + prune_every_s

    async def tick(self) -> bool:
        """Relay one batch; true when it was full (more is waiting)."""
        sent = await relay_once(
            self.transaction,
            self.broker,
            table=self.table,
            batch_size=self.batch_size,
            timeout_s=self.timeout_s,
        )
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + self.prune_every_s
            await self._prune_all()
        return sent >= self.batch_size

    async def _prune_all(self) -> None:
        try:
            pruned = 0
            while (
                batch := await prune_sent(
                    self.transaction, table=self.table, older_than_s=self.retain_sent_s
                )
            ) > 0:
                pruned += batch
        except Exception:
            log.exception("outbox prune failed; retrying later", extra={"table": self.table.name})
            return
        if pruned:
            log.info("outbox pruned", extra={"table": self.table.name, "deleted": pruned})
