"""The ``Journal`` port in PostgreSQL: the refresher's own table (``token_refresher_journal``,
an outbox with the shared relay's columns) and its migrations.

``record`` commits a ``token.refreshed`` right after the provider answered; the shared relay
(``hub_runtime.outbox.relay``) publishes it; ``drained`` returns once no row is unsent (the
barrier before a replica processes new partitions, so a dead owner's answers are published
before its redelivered ``token.expiring`` is judged).
"""

from __future__ import annotations

import asyncio
import logging
import time

from faststream.kafka import KafkaBroker
from hub_contracts import Event
from hub_runtime.migrations import migrate as _migrate
from hub_runtime.outbox import OutboxMessage
from hub_runtime.outbox.relay import (
    OutboxTable,
    Relay,
    enqueue_many,
    relay_once,
    unsent_count,
)
from hub_runtime.postgres import DATABASE_ERRORS, PostgresPool

log = logging.getLogger(__name__)

LOCK_ID = 0x7E0F_4E5A  # pg_advisory_lock key of token-refresher migrations
HISTORY_TABLE = "token_refresher_migrations"
JOURNAL = OutboxTable("token_refresher_journal", lock_id=0x7E0F_0B0C)
"""The journal and the advisory-lock key of its relay (one relaying replica)."""


async def migrate(dsn: str) -> list[str]:
    """Apply token-refresher's missing migrations; return the names applied now."""
    return await _migrate(
        dsn, package="token_refresher.migrations", history_table=HISTORY_TABLE, lock_id=LOCK_ID
    )


class PostgresJournal(PostgresPool):
    """Opens its pool with ``open`` (the app's start) and closes it with ``close``."""

    def __init__(
        self, dsn: str, *, pool_size: int, retry_s: float = 30.0, barrier_warn_s: float = 60.0
    ) -> None:
        super().__init__(dsn, pool_size=pool_size)
        self.retry_s = retry_s
        self.barrier_warn_s = barrier_warn_s

    async def record(self, event: Event) -> None:
        """Commit ``event`` to the journal, retrying a database that is away for ``retry_s``
        (the answer exists only in this process's memory meanwhile); raise after that."""
        deadline = time.monotonic() + self.retry_s
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.transaction() as tx:
                    await enqueue_many(tx, [OutboxMessage.of(event)], table=JOURNAL)
                return
            except DATABASE_ERRORS as exc:
                if time.monotonic() >= deadline:
                    raise
                log.warning(
                    "journal write failed; retrying",
                    extra={"attempt": attempt, "error": type(exc).__name__},
                )
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))

    def relay(self, broker: KafkaBroker, *, batch_size: int, timeout_s: float) -> Relay:
        return Relay(
            self.transaction,
            broker,
            table=JOURNAL,
            batch_size=batch_size,
            timeout_s=timeout_s,
            retain_sent_s=3600.0,
        )

    async def unsent(self) -> int:
        async with self.pool.acquire() as connection:
            return await unsent_count(connection, table=JOURNAL)

    async def drained(self, broker: KafkaBroker, *, batch_size: int, timeout_s: float) -> None:
        """Publish unsent rows (here, or wait while another replica's relay does) until none is
        left: every answer a dead replica journaled is on ``token.refreshed`` afterwards."""
        started = time.monotonic()
        warned_at = started
        while True:
            try:
                if await self.unsent() == 0:
                    return
                sent = await relay_once(
                    self.transaction,
                    broker,
                    table=JOURNAL,
                    batch_size=batch_size,
                    timeout_s=timeout_s,
                )
            except Exception as exc:  # the database or the broker away: hold the partitions
                log.warning("journal drain failed; retrying", extra={"error": type(exc).__name__})
                sent = 0
            if sent == 0:
                await asyncio.sleep(0.05)
            if time.monotonic() - warned_at > self.barrier_warn_s:
                warned_at = time.monotonic()
                log.warning(
                    "journal not drained yet; holding new partitions",
                    extra={"waited_s": round(warned_at - started, 1)},
                )

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")
