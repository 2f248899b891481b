"""What ``/metrics`` reads from PostgreSQL at scrape time: the sweep backlog (due, overdue), the
outbox (depth, oldest age) and connections per provider and status. Bounded scans, worker role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from connection_store.adapters.database import Database

DUE_SQL = """
    SELECT
        (SELECT count(*) FROM (
            SELECT 1 FROM integration_connections
            WHERE status IN ('active', 'error') AND next_refresh_at <= $1
            ORDER BY next_refresh_at LIMIT $3) AS r) AS refresh_due,
        (SELECT count(*) FROM (
            SELECT 1 FROM integration_connections
            WHERE status IN ('active', 'error') AND next_refresh_at <= $2
            ORDER BY next_refresh_at LIMIT $3) AS r) AS refresh_overdue,
        (SELECT count(*) FROM (
            SELECT 1 FROM integration_connections
            WHERE status IN ('active', 'error') AND next_check_at <= $1
            ORDER BY next_check_at LIMIT $3) AS c) AS check_due,
        (SELECT count(*) FROM (
            SELECT 1 FROM integration_connections
            WHERE status IN ('active', 'error') AND next_check_at <= $2
            ORDER BY next_check_at LIMIT $3) AS c) AS check_overdue,
        (SELECT count(*) FROM (
            SELECT 1 FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $3) AS o)
            AS outbox_unsent,
        (SELECT created_at FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 1)
            AS outbox_oldest"""

CONNECTIONS_SQL = """
    SELECT provider, status, count(*) AS n FROM integration_connections GROUP BY provider, status"""


@dataclass(frozen=True)
class Measurements:
    refresh_due: int
    refresh_overdue: int
    check_due: int
    check_overdue: int
    outbox_unsent: int
    outbox_oldest_age_s: float
    connections: dict[tuple[str, str], int]


async def measure(db: Database, now: datetime, *, overdue_after_s: float, cap: int) -> Measurements:
    async with db.worker() as tx:
        row = await tx.fetchrow(DUE_SQL, now, now - timedelta(seconds=overdue_after_s), cap)
        rows = await tx.fetch(CONNECTIONS_SQL)
    assert row is not None
    oldest = row["outbox_oldest"]
    return Measurements(
        refresh_due=row["refresh_due"],
        refresh_overdue=row["refresh_overdue"],
        check_due=row["check_due"],
        check_overdue=row["check_overdue"],
        outbox_unsent=row["outbox_unsent"],
        outbox_oldest_age_s=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        connections={(r["provider"], r["status"]): r["n"] for r in rows},
    )
