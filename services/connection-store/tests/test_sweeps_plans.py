"""Every sweep and relay query is an index range scan, whatever the table size.

The tables are seeded with what hurts a naive plan: many rows in states a sweep must not take
(expired, disconnected) whose due times lie in the past, many rows not due yet, and an outbox of
mostly sent rows. Each query is planned as a custom plan (values known) and as the generic plan
a long-lived prepared statement ends up with, and neither may scan a table sequentially.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from connection_store.adapters.relay import CLAIM_UNSENT_SQL, PRUNE_SENT_SQL
from connection_store.adapters.schedule import (
    BACKLOG_SQL,
    CLAIM_CHECK_SQL,
    CLAIM_REFRESH_SQL,
    RESCHEDULE_CHECK_SQL,
    RESCHEDULE_REFRESH_SQL,
)

pytestmark = pytest.mark.integration

NOW = "2026-06-01T00:00:00+00"
SEED = f"""
INSERT INTO integration_connections
    (id, organization_id, provider, auth_type, access_token_encrypted, credential_version,
     status, next_refresh_at, next_check_at)
SELECT gen_random_uuid(), gen_random_uuid(), 'google_ads', 'oauth2_authorization_code',
       '{{"format": 1}}', 1,
       CASE WHEN i % 10 < 4 THEN 'expired' WHEN i % 10 < 5 THEN 'disconnected'
            WHEN i % 10 < 6 THEN 'error' ELSE 'active' END,
       CASE WHEN i % 10 < 5 OR i % 40 = 9 THEN timestamptz '{NOW}' - (i || ' s')::interval
            ELSE timestamptz '{NOW}' + (i || ' s')::interval END,
       CASE WHEN i % 10 < 5 OR i % 40 = 9 THEN timestamptz '{NOW}' - (i || ' s')::interval
            ELSE timestamptz '{NOW}' + (i || ' s')::interval END
FROM generate_series(1, 40000) AS i;

INSERT INTO outbox (organization_id, topic, message_key, payload, sent_at)
SELECT gen_random_uuid(), 'token.expiring', 'k', '{{}}',
       CASE WHEN i % 100 = 0 THEN NULL
            ELSE timestamptz '{NOW}' - ((40000 - i) || ' s')::interval END
FROM generate_series(1, 40000) AS i;
ANALYZE integration_connections;
ANALYZE outbox;
"""  # noqa: S608 (constants only)
# 40 % expired and 10 % disconnected rows are overdue but not claimable; 1 000 active rows
# are due; the rest is due later.

IDS = "{ids}"  # 500 ids of the table, filled in when planning
DUES = f"array_fill(timestamptz '{NOW}', ARRAY[500])"

QUERIES: dict[str, tuple[str, str, str, set[str]]] = {
    # name: (sql, parameter types, arguments, indexes the plan must use)
    "claim refresh": (
        CLAIM_REFRESH_SQL,
        "timestamptz, int",
        f"'{NOW}', 500",
        {"integration_connections_refresh_sweep"},
    ),
    "claim check": (
        CLAIM_CHECK_SQL,
        "timestamptz, int",
        f"'{NOW}', 500",
        {"integration_connections_check_sweep"},
    ),
    "reschedule refresh": (
        RESCHEDULE_REFRESH_SQL,
        "uuid[], timestamptz[]",
        f"{IDS}, {DUES}",
        {"integration_connections_pkey"},
    ),
    "reschedule check": (
        RESCHEDULE_CHECK_SQL,
        "uuid[], timestamptz[]",
        f"{IDS}, {DUES}",
        {"integration_connections_pkey"},
    ),
    "backlog": (
        BACKLOG_SQL,
        "timestamptz, int",
        f"'{NOW}', 10000",
        {
            "integration_connections_refresh_sweep",
            "integration_connections_check_sweep",
            "outbox_unsent",
        },
    ),
    "relay claim": (CLAIM_UNSENT_SQL, "int", "500", {"outbox_unsent"}),
    "relay mark sent": (
        "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
        "bigint[]",
        "ARRAY[1, 2, 3]::bigint[]",
        {"outbox_pkey"},
    ),
    "outbox prune": (PRUNE_SENT_SQL, "timestamptz, int", f"'{NOW}', 5000", {"outbox_sent"}),
}


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.fixture
async def seeded(admin: asyncpg.Connection) -> None:
    """Seed once per module (the module has its own database)."""
    if not await admin.fetchval("SELECT count(*) FROM outbox WHERE message_key = 'k'"):
        await admin.execute("TRUNCATE integration_connections, outbox")
        await admin.execute(SEED)


async def _plan(c: asyncpg.Connection, name: str, mode: str) -> list[dict[str, Any]]:
    sql, types, arguments, _ = QUERIES[name]
    statement = "q_" + name.replace(" ", "_")
    async with c.transaction():
        if IDS in arguments:  # EXECUTE takes no subquery: a literal array
            ids = await c.fetch("SELECT id FROM integration_connections LIMIT 500")
            literal = "'{" + ",".join(str(r["id"]) for r in ids) + "}'::uuid[]"
            arguments = arguments.replace(IDS, literal)
        await c.execute(f"SET LOCAL plan_cache_mode = {mode}")
        await c.execute(f"PREPARE {statement} ({types}) AS {sql}")
        try:
            raw = await c.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE {statement} ({arguments})")
        finally:
            await c.execute(f"DEALLOCATE {statement}")
    return list(_nodes(raw[0]["Plan"]))


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize("name", list(QUERIES))
async def test_query_is_an_index_scan(
    admin: asyncpg.Connection, seeded: None, name: str, mode: str
) -> None:
    nodes = await _plan(admin, name, mode)

    seq_scans = [n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"]
    assert seq_scans == [], f"{name} ({mode}) scans a table: {nodes}"
    used = {n["Index Name"] for n in nodes if "Index Name" in n}
    assert QUERIES[name][3] <= used, f"{name} ({mode}) uses {used}"
    if name.startswith("claim"):
        assert not [n for n in nodes if n["Node Type"] == "Sort"], (
            "claim order comes from the index"
        )


async def test_claim_reads_only_the_rows_it_takes(admin: asyncpg.Connection, seeded: None) -> None:
    """The 20 000 overdue expired/disconnected rows are not even looked at."""
    transaction = admin.transaction()
    await transaction.start()
    try:
        raw = await admin.fetchval(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + CLAIM_REFRESH_SQL,
            datetime.fromisoformat(NOW).astimezone(UTC),
            500,
        )
    finally:
        await transaction.rollback()  # the claimed rows stay unlocked and unchanged

    [scan] = [n for n in _nodes(raw[0]["Plan"]) if n["Node Type"] == "Index Scan"]
    assert scan["Index Name"] == "integration_connections_refresh_sweep"
    assert scan["Actual Rows"] == 500
    assert scan.get("Rows Removed by Filter", 0) == 0
