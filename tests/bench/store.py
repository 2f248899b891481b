"""connection-store at scale (part of ``make bench``): results appended to
bench-results/connection-store.json.

- sweeps: the time to claim one batch of 500 due rows (``FOR UPDATE SKIP LOCKED``, rolled back)
  and to sweep one batch end to end (claim, 500 events to the outbox, reschedule, commit), for
  ``token.expiring`` and ``connection.check_due``, at 10 000 and at 1 000 000 connections, with
  the claim's EXPLAIN (ANALYZE, BUFFERS) figures: the work must not grow with the table;
- backlog: the capped due/unsent counts the sweep loop logs;
- list integrations: ``GET /v1/orgs/{org}/integrations`` p50/p99 with 50 concurrent clients
  against a uvicorn process at 1 000 000 rows, and the per-organization query underneath it
  through ``Database.tenant`` (50 concurrent tasks over the service's pool).

PostgreSQL: a fresh database on DATABASE_URL's server when it is set, otherwise an embedded
server in a temporary directory. The 1M seed is one ``generate_series`` INSERT.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from connection_store.adapters.database import Database, create_pool
from connection_store.adapters.migrations import migrate
from connection_store.adapters.schedule import CLAIM_CHECK_SQL, CLAIM_REFRESH_SQL
from connection_store.adapters.store import PostgresStore
from connection_store.service.due import DueWork
from connection_store.service.sweeps import Sweeper
from connection_store.settings import StoreSettings
from fastapi import FastAPI
from hub_catalog import load_catalog
from hub_contracts import EncryptedCredential
from hub_localstack.postgres import PostgresServer, create_database, drop_database
from hub_localstack.processes import free_port
from hub_localstack.settings import StackSettings

from tests.bench.measure import figure, wrk_get

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results" / "connection-store.json"
BATCH = 500
CONCURRENCY = 50
SIZES = (10_000, 1_000_000)
WRK_SECONDS = 10.0

# Ten providers per organization, as the catalog defines them (auth type, refreshable).
PROVIDERS = [
    ("google_ads", "oauth2_authorization_code", True),
    ("shopify", "oauth2_authorization_code", True),
    ("slack", "oauth2_authorization_code", True),
    ("meta_ads", "oauth2_authorization_code", True),  # long-lived: reminders
    ("yotpo", "token_exchange", True),
    ("google_drive", "oauth2_authorization_code", True),
    ("klaviyo", "api_key", False),
    ("stripe_connect", "oauth2_authorization_code", False),
    ("ga4", "api_key", False),
    ("resend", "api_key", False),
]

SEED_SQL = """
INSERT INTO integration_connections
    (id, organization_id, provider, auth_type, access_token_encrypted, refresh_token_encrypted,
     credential_version, token_expires_at, account_id, account_name, metadata, status,
     connected_at, last_sync_at, next_refresh_at, next_check_at)
SELECT gen_random_uuid(),
       md5('bench-org-' || (i / 10))::uuid,
       ($3::text[])[i % 10 + 1],
       ($4::text[])[i % 10 + 1],
       $5::jsonb, $5::jsonb, 1,
       $6::timestamptz + ((i % 86400) || ' s')::interval,
       'acct-' || i, 'Account ' || i, '{"customers": ["1234567890"]}'::jsonb,
       s.status,
       $6::timestamptz - interval '30 days', $6::timestamptz - interval '1 hour',
       CASE WHEN NOT ($7::boolean[])[i % 10 + 1] OR s.status = 'disconnected' THEN NULL
            WHEN (i * 7919) % 100 < 40 THEN $6::timestamptz - ((i % 3600) || ' s')::interval
            ELSE $6::timestamptz + ((i % 86400 + 1) || ' s')::interval END,
       CASE WHEN s.status = 'disconnected' THEN NULL
            WHEN (i * 104729) % 100 < 40 THEN $6::timestamptz - ((i % 3600) || ' s')::interval
            ELSE $6::timestamptz + ((i % 21600 + 1) || ' s')::interval END
FROM generate_series($1::bigint, $2::bigint - 1) AS i
CROSS JOIN LATERAL (SELECT CASE WHEN i % 25 = 0 THEN 'disconnected'
                                WHEN i % 25 IN (1, 2) THEN 'expired'
                                WHEN i % 25 IN (3, 4) THEN 'error'
                                ELSE 'active' END AS status) AS s
"""
"""Rows ``[$1, $2)``: 80 % active, 8 % error, 8 % expired (overdue rows a sweep must skip),
4 % disconnected; 40 % of the refreshable and of the checkable rows are due."""


def _org(i: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench-org-{i}".encode()).hexdigest())  # noqa: S324 (ids)


def _ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


@contextlib.contextmanager
def postgres() -> Iterator[tuple[str, str]]:
    """(superuser URL of a fresh benchmark database, what server it is)."""
    external = StackSettings().database_url
    scratch: Path | None = None
    server: PostgresServer | None = None
    if external:
        admin, label = external, "DATABASE_URL"
    else:
        scratch = Path(tempfile.mkdtemp(prefix="hub-bench-postgres-"))
        server = PostgresServer(scratch)
        server.start()
        admin, label = server.dsn, "embedded (hub_localstack.postgres)"
    name = f"bench_store_{uuid.uuid4().hex[:12]}"
    try:
        yield create_database(admin, name), label
    finally:
        with contextlib.suppress(Exception):
            drop_database(admin, name)
        if server:
            server.stop()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


async def seed(pool: asyncpg.Pool, start: int, stop: int, now: datetime) -> float:
    sealed = EncryptedCredential(key_id="bench", nonce=os.urandom(12), ciphertext=os.urandom(64))
    began = time.perf_counter()
    async with pool.acquire() as connection:
        await connection.execute(
            SEED_SQL,
            start,
            stop,
            [p for p, _, _ in PROVIDERS],
            [a for _, a, _ in PROVIDERS],
            sealed.model_dump(mode="json"),
            now,
            [r for _, _, r in PROVIDERS],
        )
        await connection.execute("VACUUM ANALYZE integration_connections")
    return round(time.perf_counter() - began, 2)


async def _claim(pool: asyncpg.Pool, sql: str, now: datetime, runs: int = 20) -> dict[str, Any]:
    """Claim one batch and roll back (rows stay due), ``runs`` times; plus EXPLAIN figures."""
    times: list[float] = []
    async with pool.acquire() as connection:
        for attempt in range(runs + 3):
            transaction = connection.transaction()
            await transaction.start()
            try:
                await connection.execute("SET LOCAL ROLE hub_worker")
                began = time.perf_counter()
                rows = await connection.fetch(sql, now, BATCH)
                elapsed = time.perf_counter() - began
            finally:
                await transaction.rollback()
            assert len(rows) == BATCH, f"only {len(rows)} due rows"
            if attempt >= 3:  # the first runs prepare the statement and warm the cache
                times.append(elapsed)
        transaction = connection.transaction()
        await transaction.start()
        try:
            await connection.execute("SET LOCAL ROLE hub_worker")
            plan = await connection.fetchval(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, now, BATCH
            )
        finally:
            await transaction.rollback()
    top = plan[0]
    scans = [n for n in _nodes(top["Plan"]) if "Index Name" in n or "Scan" in n["Node Type"]]
    return {
        **_ms(times),
        "explain": {
            "execution_ms": round(top["Execution Time"], 2),
            "shared_buffers_hit": top["Plan"].get("Shared Hit Blocks", 0),
            "shared_buffers_read": top["Plan"].get("Shared Read Blocks", 0),
            "scans": [
                f"{n['Node Type']} using {n.get('Index Name', '-')}: "
                f"{n.get('Actual Rows')} rows, {n.get('Rows Removed by Filter', 0)} filtered"
                for n in scans
            ],
        },
    }


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _timed(work: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await work()
        times.append(time.perf_counter() - began)
    return times


async def _sweeps(pool: asyncpg.Pool, now: datetime) -> dict[str, Any]:
    settings = StoreSettings(sweep_batch_size=BATCH, migrate_on_start=False)
    due = DueWork(
        load_catalog(),
        check_interval_s=settings.check_interval_s,
        check_jitter=settings.check_jitter,
        refresh_retry_s=settings.refresh_retry_s,
    )
    sweeper = Sweeper(PostgresStore(Database(pool)), due, batch_size=BATCH)
    total = await _count(pool)
    depth = await sweeper.backlog(now)
    claims = {
        "claim_token_expiring": await _claim(pool, CLAIM_REFRESH_SQL, now),
        "claim_check_due": await _claim(pool, CLAIM_CHECK_SQL, now),
    }
    # Full batches commit: 3 of each (10 000 rows hold about 1 900 due refreshes).
    refresh = await _timed(lambda: sweeper.refresh_due(now), 3)
    check = await _timed(lambda: sweeper.check_due(now), 3)
    return {
        "connections": total,
        **claims,
        "sweep_batch_token_expiring": _ms(refresh),
        "sweep_batch_check_due": _ms(check),
        "backlog_query": {
            **_ms(await _timed(lambda: sweeper.backlog(now), 20)),
            "result": depth.as_log(),
        },
    }


async def _count(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as connection:
        count: int = await connection.fetchval("SELECT count(*) FROM integration_connections")
    return count


async def _concurrently(
    request: Callable[[uuid.UUID], Awaitable[None]], orgs: list[uuid.UUID], per_client: int
) -> dict[str, Any]:
    """``CONCURRENCY`` clients, each sending ``per_client`` requests back to back."""
    times: list[float] = []

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(per_client):
            org = rng.choice(orgs)
            began = time.perf_counter()
            await request(org)
            times.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(CONCURRENCY)))
    elapsed = time.perf_counter() - began
    return {
        "clients": CONCURRENCY,
        **_ms(times),
        "requests_per_second": round(len(times) / elapsed),
    }


async def _tenant_query(dsn: str, orgs: list[uuid.UUID]) -> dict[str, Any]:
    """The list's query (one organization's rows) through ``Database.tenant``: RLS, hub_app."""
    size = StoreSettings().database_pool_size
    pool = await create_pool(dsn, size=size)
    db = Database(pool)

    async def request(org: uuid.UUID) -> None:
        async with db.tenant(org) as connection:
            rows = await connection.fetch(
                "SELECT * FROM integration_connections WHERE organization_id = $1", org
            )
        assert len(rows) == len(PROVIDERS)

    try:
        await _concurrently(request, orgs, 5)  # warm up
        return {"pool_size": size, **await _concurrently(request, orgs, 80)}
    finally:
        await pool.close()


def http_app() -> FastAPI:
    """``uvicorn --factory`` entry: the store's API with PostgreSQL alone (no broker, no loops)."""
    from connection_store.app import create_app

    return create_app(
        StoreSettings(), run_consumers=False, run_background=False, start_broker=False
    )


def _http_pending_reason() -> str | None:
    try:
        from connection_store import app
    except ImportError as error:  # pragma: no cover - depends on the tree
        return f"connection_store.app does not import: {error}"
    if "start_broker" not in inspect.signature(app.create_app).parameters:
        return "create_app cannot serve the API without a broker yet"
    try:
        import connection_store.http  # noqa: F401
    except ImportError:
        return "the REST API (connection_store.http) is not there yet"
    return None


@contextlib.asynccontextmanager
async def api_server(
    dsn: str, *, factory: str = "tests.bench.store:http_app", env: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, int]]:
    """The store's API as a uvicorn process (one worker) over ``dsn``: (base URL, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "CONNECTION_STORE_MIGRATE_ON_START": "false",
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    command = [sys.executable, "-m", "uvicorn", factory, "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    command += ["--no-access-log"]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as probe:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get("/readyz")).status_code == 200:
                        break
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("the connection-store API did not start")
                await asyncio.sleep(0.1)
        yield base, process.pid
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _http_list(dsn: str, orgs: list[uuid.UUID]) -> dict[str, Any]:
    secret = StoreSettings().jwt_secret.get_secret_value()
    expires = datetime.now(UTC) + timedelta(hours=1)
    tokens = {
        org: jwt.encode(
            {"sub": "bench", "org": str(org), "scope": "integrations:read", "exp": expires},
            secret,
            algorithm="HS256",
        )
        for org in orgs
    }
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with (
        api_server(dsn) as (base, _),
        httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client,
    ):

        async def request(org: uuid.UUID) -> None:
            response = await client.get(
                f"/v1/orgs/{org}/integrations",
                headers={"Authorization": f"Bearer {tokens[org]}"},
            )
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

        await _concurrently(request, orgs, 3)  # warm up
        result = await _concurrently(request, orgs, 40)
        paths = [(f"/v1/orgs/{org}/integrations", tokens[org]) for org in orgs]
        try:
            native = await asyncio.to_thread(wrk_get, base, paths, WRK_SECONDS, CONCURRENCY)
        except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
            print(f"list_rps: {error}", file=sys.stderr)
            native = None
    return {
        "native": native,
        "endpoint": "GET /v1/orgs/{org_id}/integrations",
        "server": f"uvicorn, 1 worker, pool {StoreSettings().database_pool_size}",
        **result,
    }


async def _bench(dsn: str) -> dict[str, Any]:
    await migrate(dsn)
    now = datetime.now(UTC)
    results: dict[str, Any] = {"seed_seconds": {}, "sweeps": {}}
    pool = await create_pool(dsn, size=4)
    try:
        seeded = 0
        for size in SIZES:
            results["seed_seconds"][f"{size:_}"] = await seed(pool, seeded, size, now)
            seeded = size
            results["sweeps"][f"{size:_}"] = await _sweeps(pool, now)
    finally:
        await pool.close()
    organizations = SIZES[-1] // 10
    picked = random.Random(7).sample(range(organizations), min(2000, organizations))
    orgs = [_org(i) for i in picked]
    listing: dict[str, Any] = {"connections": SIZES[-1], "organizations": SIZES[-1] // 10}
    listing["tenant_query"] = await _tenant_query(dsn, orgs)
    pending = _http_pending_reason()
    if pending:
        listing["http"] = {"pending": f"{pending}; the per-org query figure stands in for it"}
    else:
        listing["http"] = await _http_list(dsn, orgs)
    results["list_integrations"] = listing
    return results


async def figures(scale: float) -> dict[str, dict[str, object]]:
    """``list_rps``, ``list_p99_ms`` (wrk, 50 connections) at ``scale`` * 1 000 000 rows."""
    global SIZES, WRK_SECONDS
    SIZES = (10_000, max(20_000, int(1_000_000 * scale)))  # 10 000 hold full sweep batches
    WRK_SECONDS = max(3.0, 10 * scale)
    record = await asyncio.to_thread(run)
    http = record["list_integrations"]["http"]
    native = http.get("native")
    if native is None:
        return {}
    return {
        "list_rps": figure(native["requests_per_second"], "requests/s", 1000, "higher"),
        "list_p99_ms": figure(native["p99_ms"], "ms", 50, "lower"),
    }


def run() -> dict[str, Any]:
    """Run the benchmark, append the results to bench-results/connection-store.json."""
    began = time.perf_counter()
    with postgres() as (dsn, label):
        figures = asyncio.run(_bench(dsn))
    run_record = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "postgres": label,
        "batch_size": BATCH,
        **figures,
        "bench_seconds": round(time.perf_counter() - began, 1),
    }
    runs: list[dict[str, Any]] = []
    if RESULTS.is_file():
        previous = json.loads(RESULTS.read_text())
        runs = previous.get("runs", []) if isinstance(previous, dict) else []
    runs.append(run_record)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    return run_record


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
