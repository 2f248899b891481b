"""Sweeps: claim the rows whose refresh or health check is due, emit one event each and move
their due time forward, all in one transaction per batch, so replicas can sweep at once and each
due item is emitted once per due period (README "Sweeps")."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hub_runtime.outbox import OutboxMessage
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, TracerProvider

from connection_store.domain import ConnectionRow
from connection_store.service.due import DueWork, Planned
from connection_store.service.ports import Backlog, Due, Store

log = logging.getLogger(__name__)

BACKLOG_CAP = 10_000
_EVENT: dict[Due, str] = {"refresh": "token.expiring", "check": "connection.check_due"}


@dataclass(frozen=True)
class SweepResult:
    """What one sweep (all batches of both kinds) did."""

    token_expiring: int = 0
    reminders: int = 0
    """Of ``token_expiring``: events of credentials that cannot be refreshed."""
    check_due: int = 0
    skipped: int = 0
    """Due rows rescheduled without an event (no refresh strategy, unknown provider, bad data)."""

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(
            self.token_expiring + other.token_expiring,
            self.reminders + other.reminders,
            self.check_due + other.check_due,
            self.skipped + other.skipped,
        )

    @property
    def rows(self) -> int:
        return self.token_expiring + self.check_due + self.skipped


@dataclass
class SweepStats:
    """The sweep loop's latest figures, for a metric or a health endpoint."""

    backlog: Backlog | None = None
    last_sweep_at: datetime | None = None
    last_error_at: datetime | None = None
    totals: SweepResult = field(default_factory=SweepResult)


@dataclass
class Sweeper:
    store: Store
    due: DueWork
    batch_size: int
    tracer_provider: TracerProvider | None = None
    stats: SweepStats = field(default_factory=SweepStats)
    reads_retention_s: float | None = None
    """The audit of credential reads older than this is purged on every tick."""
    on_purged: Callable[[int], None] | None = None

    async def refresh_due(self, now: datetime | None = None) -> SweepResult:
        """One batch of due refreshes (and reminders) to ``token.expiring``."""
        now = now or datetime.now(UTC)
        plans = await self._batch("refresh", now, lambda row: self.due.refresh(row, now))
        emitted = [p for p in plans if p.event is not None]
        return SweepResult(
            token_expiring=len(emitted),
            reminders=sum(p.reminder for p in emitted),
            skipped=len(plans) - len(emitted),
        )

    async def check_due(
        self, now: datetime | None = None, *, rng: random.Random | None = None
    ) -> SweepResult:
        """One batch of due health checks to ``connection.check_due``."""
        now = now or datetime.now(UTC)
        plans = await self._batch(
            "check", now, lambda row: self.due.check(row, now, trigger="scheduled", rng=rng)
        )
        emitted = sum(p.event is not None for p in plans)
        return SweepResult(check_due=emitted, skipped=len(plans) - emitted)

    async def sweep(self, now: datetime | None = None, *, max_batches: int = 100) -> SweepResult:
        """Both kinds until nothing is due (or ``max_batches`` batches of each were taken)."""
        total = SweepResult()
        for one_batch in (self.refresh_due, self.check_due):
            for _ in range(max_batches):
                result = await one_batch(now)
                total += result
                if result.rows < self.batch_size:
                    break
        return total

    async def backlog(self, now: datetime | None = None, *, cap: int = BACKLOG_CAP) -> Backlog:
        """What is due and not yet swept, and what is not yet published, counted up to ``cap``."""
        async with self.store.worker() as tx:
            return await tx.schedule.backlog(now or datetime.now(UTC), cap)

    async def purge_reads(self, now: datetime | None = None, *, batch: int = 5000) -> int:
        """Delete the audit of credential reads past ``reads_retention_s``, a batch per
        transaction, at most ten batches a tick."""
        if self.reads_retention_s is None:
            return 0
        before = (now or datetime.now(UTC)) - timedelta(seconds=self.reads_retention_s)
        total = 0
        for _ in range(10):
            async with self.store.worker() as tx:
                purged = await tx.read_retention.purge(before, batch)
            total += purged
            if purged < batch:
                break
        if total and self.on_purged is not None:
            self.on_purged(total)
        return total

    async def tick(self) -> bool:
        """One sweep and the backlog left, logged and kept in ``stats``, and the audit's purge;
        never more to do at once (a sweep drains what is due)."""
        started = time.monotonic()
        try:
            result = await self.sweep()
            await self.purge_reads()
            depth = await self.backlog()
        except Exception:
            self.stats.last_error_at = datetime.now(UTC)
            raise
        self.stats.backlog = depth
        self.stats.last_sweep_at = datetime.now(UTC)
        self.stats.totals += result
        busy = result.rows or depth.refresh_due or depth.check_due
        log.log(
            logging.INFO if busy else logging.DEBUG,
            "sweep",
            extra={
                "token_expiring": result.token_expiring,
                "reminders": result.reminders,
                "check_due": result.check_due,
                "skipped": result.skipped,
                "seconds": round(time.monotonic() - started, 3),
                **depth.as_log(),
            },
        )
        return False

    async def _batch(
        self, due: Due, now: datetime, plan: Callable[[ConnectionRow], Planned]
    ) -> list[Planned]:
        """Claim, emit and reschedule one batch in one transaction."""
        kind = _EVENT[due]
        tracer = trace.get_tracer(__name__, tracer_provider=self.tracer_provider)
        plans: list[Planned] = []
        times: list[tuple[uuid.UUID, datetime | None]] = []
        messages: list[OutboxMessage] = []
        with tracer.start_as_current_span(f"sweep {kind}", kind=SpanKind.INTERNAL) as span:
            async with self.store.worker() as tx:
                rows = await tx.schedule.claim(due, now, self.batch_size)
                if not rows:
                    return []
                link = [Link(span.get_span_context())]
                for row in rows:
                    # One trace per due item (linked to the sweep), so a refresh or a check is
                    # followed on its own through the refresher or the health monitor.
                    with tracer.start_as_current_span(
                        f"{kind} due",
                        context=Context(),
                        kind=SpanKind.PRODUCER,
                        links=link,
                        attributes={
                            "hub.connection_id": str(row.id),
                            "hub.organization_id": str(row.organization_id),
                            "hub.provider": row.provider,
                        },
                    ):
                        planned = plan(row)
                        if planned.event is not None:
                            messages.append(OutboxMessage.of(planned.event))
                        elif planned.skipped is not None:
                            _log_skip(kind, row, planned.skipped)
                    plans.append(planned)
                    times.append((row.id, planned.next_at))
                await tx.outbox.add(messages)
                await tx.schedule.reschedule(due, times)
            span.set_attribute("hub.sweep.claimed", len(rows))
            span.set_attribute("hub.sweep.emitted", len(messages))
        if len(messages) < len(plans):
            log.warning(
                "due rows rescheduled without an event",
                extra={"kind": kind, "rows": len(plans) - len(messages)},
            )
        return plans


def _log_skip(kind: str, row: ConnectionRow, reason: str) -> None:
    log.warning(
        "due row cannot be emitted; rescheduled",
        extra={
            "kind": kind,
            "connection_id": str(row.id),
            "provider": row.provider,
            "reason": reason,
        },
    )
