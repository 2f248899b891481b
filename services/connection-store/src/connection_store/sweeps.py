"""Sweeps: find the connections whose refresh or health check is due and emit the work.

Each sweep batch is one ``hub_worker`` transaction that

1. claims up to ``sweep_batch_size`` due rows, oldest first, ``FOR UPDATE SKIP LOCKED`` (a
   range scan of a partial index that holds only claimable rows, migration 0002);
2. writes one event per row to the outbox (``token.expiring`` or ``connection.check_due``);
3. moves the row's due time forward, so it is not due again in this due period.

Because claiming, emitting and rescheduling commit together, any number of store replicas can
sweep at once: a row locked by one replica is skipped by the others, and once that replica
commits, the row is no longer due (PostgreSQL re-checks ``next_*_at <= now`` on the newest row
version before locking it). A due item is emitted once per due period; a crash before commit
emits nothing and leaves the row due.

Refresh (``token.expiring``), rows with ``status IN ('active', 'error') AND next_refresh_at <= now``
(an outage or a permission problem must not stop the token from being kept fresh). The
consumers set ``next_refresh_at`` to the catalog's lead time before expiry.

- Refreshable credentials (``refresh_grant``, ``rotating_refresh_grant``, ``remint``): the event
  carries the ciphertext credentials; ``next_refresh_at`` moves to ``now + refresh_retry_s``.
  The refresher's ``token.refreshed`` sets a new ``next_refresh_at`` from the new expiry; if no
  answer comes (refresher down, event lost), the row is due again after the retry interval.
- Credentials that cannot be refreshed (``long_lived_reminder``, Meta): the event goes out at
  the reminder lead with ``credentials=None`` (the notifier needs none) and ``next_refresh_at``
  becomes NULL: one reminder per credential. Reconnecting (``connection.established``)
  schedules the next one from the new expiry; if nobody reconnects, the scheduled health check
  finds the expired token and ``connection.unhealthy`` tells the brand again.
- ``none`` (or a provider the catalog no longer knows how to refresh): nothing is emitted and
  ``next_refresh_at`` becomes NULL.

Health check (``connection.check_due``, trigger ``scheduled``), rows with ``status IN ('active',
'error') AND next_check_at <= now``: ``next_check_at`` moves to ``now + check_interval_s``
spread by ±``check_jitter``. ``last_checked_at`` is left alone: it records when a check result
arrived (health-monitor's verdict), not when one was requested.

A row that cannot become an event (provider missing from the catalog, invalid stored data) is
logged and rescheduled like the others, so it never blocks the rows behind it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from hub_catalog import AuthMode, Catalog, RefreshStrategy
from hub_contracts import ConnectionCheckDueV1, Credentials, Event, TokenExpiringV1
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, TracerProvider
from pydantic import ValidationError

from connection_store import domain
from connection_store.adapters import outbox
from connection_store.adapters.database import Database
from connection_store.settings import StoreSettings

log = logging.getLogger(__name__)

_COLUMNS = """id, organization_id, provider, auth_type, status, last_error_code,
    credential_version, token_expires_at, access_token_encrypted, refresh_token_encrypted,
    credential_fields_encrypted, metadata"""

CLAIM_REFRESH_SQL = f"""
    SELECT {_COLUMNS}
    FROM integration_connections
    WHERE status IN ('active', 'error') AND next_refresh_at <= $1
    ORDER BY next_refresh_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""  # noqa: S608 (constant column list)
"""Due refreshes, oldest first: a range scan of ``integration_connections_refresh_sweep``."""

CLAIM_CHECK_SQL = f"""
    SELECT {_COLUMNS}
    FROM integration_connections
    WHERE status IN ('active', 'error') AND next_check_at <= $1
    ORDER BY next_check_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""  # noqa: S608 (constant column list)
"""Due health checks, oldest first: a range scan of ``integration_connections_check_sweep``."""

RESCHEDULE_REFRESH_SQL = """
    UPDATE integration_connections AS c SET next_refresh_at = u.due
    FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, due)
    WHERE c.id = u.id AND c.id = ANY($1::uuid[])"""
"""New due times by primary key. The redundant ``c.id = ANY($1)`` lets the planner find the
rows through the primary key whatever the table size (joining on ``u.id`` alone, it prefers a
hash join over a sequential scan while the table is small)."""

RESCHEDULE_CHECK_SQL = """
    UPDATE integration_connections AS c SET next_check_at = u.due
    FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, due)
    WHERE c.id = u.id AND c.id = ANY($1::uuid[])"""

BACKLOG_SQL = """
    SELECT
        (SELECT count(*) FROM (
            SELECT 1 FROM integration_connections
            WHERE status IN ('active', 'error') AND next_refresh_at <= $1
            ORDER BY next_refresh_at LIMIT $2) AS r) AS refresh_due,
        (SELECT count(*) FROM (
            SELECT 1 FROM integration_connections
            WHERE status IN ('active', 'error') AND next_check_at <= $1
            ORDER BY next_check_at LIMIT $2) AS c) AS check_due,
        (SELECT count(*) FROM (
            SELECT 1 FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $2) AS o)
            AS outbox_unsent"""
"""Three bounded index scans: O(log n + cap), whatever the table size. The ORDER BY makes the
index the only sensible plan: without it a generic plan may pick a sequential scan that it
expects a LIMIT to cut short, which reads the whole table when little is due."""

BACKLOG_CAP = 10_000


@dataclass(frozen=True)
class Backlog:
    """Due rows not yet swept, and outbox rows not yet published, each counted up to ``cap``."""

    refresh_due: int
    check_due: int
    outbox_unsent: int
    cap: int = BACKLOG_CAP

    def as_log(self) -> dict[str, int | bool]:
        return {
            "refresh_due": self.refresh_due,
            "check_due": self.check_due,
            "outbox_unsent": self.outbox_unsent,
            "capped": max(self.refresh_due, self.check_due, self.outbox_unsent) >= self.cap,
        }


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


def _tracer(tracer_provider: TracerProvider | None) -> trace.Tracer:
    return trace.get_tracer(__name__, tracer_provider=tracer_provider)


def _credentials(row: asyncpg.Record) -> Credentials:
    return Credentials.model_validate(
        {
            "access_token": row["access_token_encrypted"],
            "refresh_token": row["refresh_token_encrypted"],
            "fields": row["credential_fields_encrypted"] or {},
        }
    )


def _mode(catalog: Catalog, row: asyncpg.Record) -> AuthMode:
    return domain.auth_mode(catalog.get(row["provider"]), row["auth_type"])


def _token_expiring(mode: AuthMode, row: asyncpg.Record) -> TokenExpiringV1:
    reminder = mode.refresh == RefreshStrategy.LONG_LIVED_REMINDER
    return TokenExpiringV1(
        organization_id=row["organization_id"],
        provider=row["provider"],
        connection_id=row["id"],
        credential_version=row["credential_version"],
        auth_type=mode.type.value,
        refresh_strategy=mode.refresh.value,
        token_expires_at=row["token_expires_at"],
        credentials=None if reminder else _credentials(row),
        metadata=row["metadata"] or {},
    )


def _check_due(mode: AuthMode, row: asyncpg.Record) -> ConnectionCheckDueV1:
    return ConnectionCheckDueV1(
        organization_id=row["organization_id"],
        provider=row["provider"],
        connection_id=row["id"],
        credential_version=row["credential_version"],
        auth_type=mode.type.value,
        trigger="scheduled",
        status=row["status"],
        last_error_code=row["last_error_code"],
        credentials=_credentials(row),
        metadata=row["metadata"] or {},
    )


@dataclass
class _Batch:
    """The events and new due times of one claimed batch."""

    kind: str
    messages: list[outbox.OutboxMessage] = field(default_factory=list)
    ids: list[Any] = field(default_factory=list)
    due: list[datetime | None] = field(default_factory=list)
    reminders: int = 0
    skipped: int = 0


async def _sweep_batch(
    db: Database,
    *,
    kind: str,
    claim_sql: str,
    reschedule_sql: str,
    now: datetime,
    limit: int,
    plan: Callable[[asyncpg.Record, _Batch], None],
    tracer: trace.Tracer,
) -> _Batch:
    """Claim, emit and reschedule one batch in one transaction (see the module docstring)."""
    batch = _Batch(kind)
    with tracer.start_as_current_span(f"sweep {kind}", kind=SpanKind.INTERNAL) as span:
        async with db.worker() as connection:
            rows = await connection.fetch(claim_sql, now, limit)
            if not rows:
                return batch
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
                        "hub.connection_id": str(row["id"]),
                        "hub.organization_id": str(row["organization_id"]),
                        "hub.provider": row["provider"],
                    },
                ):
                    plan(row, batch)
            await outbox.enqueue_many(connection, batch.messages)
            await connection.execute(reschedule_sql, batch.ids, batch.due)
        span.set_attribute("hub.sweep.claimed", len(rows))
        span.set_attribute("hub.sweep.emitted", len(batch.messages))
    if batch.skipped:
        log.warning(
            "due rows rescheduled without an event", extra={"kind": kind, "rows": batch.skipped}
        )
    return batch


def _skip(batch: _Batch, row: asyncpg.Record, reason: str, due: datetime | None) -> None:
    log.warning(
        "due row cannot be emitted; rescheduled",
        extra={
            "kind": batch.kind,
            "connection_id": str(row["id"]),
            "provider": row["provider"],
            "reason": reason,
        },
    )
    batch.ids.append(row["id"])
    batch.due.append(due)
    batch.skipped += 1


async def sweep_refresh_due(
    db: Database,
    catalog: Catalog,
    settings: StoreSettings,
    *,
    now: datetime | None = None,
    tracer_provider: TracerProvider | None = None,
) -> SweepResult:
    """One batch of due refreshes (and reminders) to ``token.expiring``."""
    now = now or datetime.now(UTC)
    retry_at = now + timedelta(seconds=settings.refresh_retry_s)

    def plan(row: asyncpg.Record, batch: _Batch) -> None:
        try:
            mode = _mode(catalog, row)
        except (KeyError, ValueError):
            _skip(batch, row, "provider or auth type not in the catalog", retry_at)
            return
        if mode.refresh == RefreshStrategy.NONE:
            _skip(batch, row, "the auth mode has no refresh strategy", None)
            return
        try:
            event: Event = _token_expiring(mode, row)
        except ValidationError as exc:
            _skip(batch, row, f"invalid stored data: {exc.error_count()} errors", retry_at)
            return
        batch.messages.append(outbox.message(event))
        batch.ids.append(row["id"])
        if mode.refresh == RefreshStrategy.LONG_LIVED_REMINDER:
            batch.due.append(None)
            batch.reminders += 1
        else:
            batch.due.append(retry_at)

    batch = await _sweep_batch(
        db,
        kind="token.expiring",
        claim_sql=CLAIM_REFRESH_SQL,
        reschedule_sql=RESCHEDULE_REFRESH_SQL,
        now=now,
        limit=settings.sweep_batch_size,
        plan=plan,
        tracer=_tracer(tracer_provider),
    )
    return SweepResult(
        token_expiring=len(batch.messages), reminders=batch.reminders, skipped=batch.skipped
    )


async def sweep_check_due(
    db: Database,
    catalog: Catalog,
    settings: StoreSettings,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
    tracer_provider: TracerProvider | None = None,
) -> SweepResult:
    """One batch of due health checks to ``connection.check_due``."""
    now = now or datetime.now(UTC)

    def plan(row: asyncpg.Record, batch: _Batch) -> None:
        due = domain.next_check_at(now, settings.check_interval_s, settings.check_jitter, rng)
        try:
            event: Event = _check_due(_mode(catalog, row), row)
        except (KeyError, ValueError) as exc:  # ValidationError is a ValueError
            reason = (
                f"invalid stored data: {exc.error_count()} errors"
                if isinstance(exc, ValidationError)
                else "provider or auth type not in the catalog"
            )
            _skip(batch, row, reason, due)
            return
        batch.messages.append(outbox.message(event))
        batch.ids.append(row["id"])
        batch.due.append(due)

    batch = await _sweep_batch(
        db,
        kind="connection.check_due",
        claim_sql=CLAIM_CHECK_SQL,
        reschedule_sql=RESCHEDULE_CHECK_SQL,
        now=now,
        limit=settings.sweep_batch_size,
        plan=plan,
        tracer=_tracer(tracer_provider),
    )
    return SweepResult(check_due=len(batch.messages), skipped=batch.skipped)


async def sweep(
    db: Database,
    catalog: Catalog,
    settings: StoreSettings,
    *,
    now: datetime | None = None,
    max_batches: int = 100,
    tracer_provider: TracerProvider | None = None,
) -> SweepResult:
    """Sweep both kinds until nothing is due (or ``max_batches`` batches of each were taken)."""
    total = SweepResult()
    for sweep_kind in (sweep_refresh_due, sweep_check_due):
        for _ in range(max_batches):
            result = await sweep_kind(
                db, catalog, settings, now=now, tracer_provider=tracer_provider
            )
            total += result
            if result.rows < settings.sweep_batch_size:
                break
    return total


async def backlog(db: Database, *, now: datetime | None = None, cap: int = BACKLOG_CAP) -> Backlog:
    """What is due and not yet swept, and what is not yet published, counted up to ``cap``."""
    async with db.worker() as connection:
        row = await connection.fetchrow(BACKLOG_SQL, now or datetime.now(UTC), cap)
    assert row is not None
    return Backlog(row["refresh_due"], row["check_due"], row["outbox_unsent"], cap)


async def run_sweeps(
    db: Database,
    catalog: Catalog,
    settings: StoreSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    stats: SweepStats | None = None,
    max_backoff_s: float = 60.0,
) -> None:
    """Sweep every ``sweep_interval_s`` (±10 %) forever; log and back off on errors.

    Each round logs what it emitted and the backlog left (at INFO when there was work, DEBUG
    otherwise) and records both in ``stats``.
    """
    stats = stats if stats is not None else SweepStats()
    failures = 0
    while True:
        started = time.monotonic()
        try:
            result = await sweep(db, catalog, settings, tracer_provider=tracer_provider)
            depth = await backlog(db)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            stats.last_error_at = datetime.now(UTC)
            log.error(
                "sweep failed; retrying",
                extra={"failures": failures},
                exc_info=exc if failures == 1 else None,
            )
        else:
            if failures:
                log.info("sweeps recovered", extra={"after_failures": failures})
            failures = 0
            stats.backlog = depth
            stats.last_sweep_at = datetime.now(UTC)
            stats.totals += result
            busy = result.rows or depth.refresh_due or depth.check_due
            level = logging.INFO if busy else logging.DEBUG
            log.log(
                level,
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
        delay = settings.sweep_interval_s * 2 ** min(failures, 10)
        delay = min(delay, max(max_backoff_s, settings.sweep_interval_s))
        await asyncio.sleep(delay * random.uniform(0.9, 1.1))
