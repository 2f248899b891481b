"""Credentials for hub services at scale (part of ``make bench``): fresh-credential reads,
``GET /v1/orgs/{org}/integrations/{provider}/credentials``, against one uvicorn process of the
store at 1 000 000 stored connections (``scale`` of that), driven by ``wrk``. Results appended
to bench-results/credentials.json.

- ``vend_rps``: what one store process answers with 50 connections and no pause (closed loop);
- ``vend_p99_ms``: the p99 when wrk offers about 1 000 requests/s (each connection pauses);
- ``vend_cpu_ms_per_read``: the store process's own CPU time (``/proc``) over the paced run,
  per read (decryption, audit insert, JSON, the two pooled transactions' client side).

The seed: the store benchmark's rows (ciphertext that no key opens: never read here), plus 2 000
organizations whose Google Ads (fresh token) and Klaviyo (API key) credentials are sealed under
the benchmark's key ring, each read once in turn; every read is audited as in production.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from connection_store.adapters.database import create_pool
from connection_store.adapters.migrations import migrate
from connection_store.auth import CREDENTIALS_READ, MAX_SERVICE_LIFETIME_S, issue_service_token
from connection_store.settings import StoreSettings
from fastapi import FastAPI
from hub_keyring import Binding, KeyRing, new_key_spec
from pydantic import SecretStr

from tests.bench.measure import cpu_seconds, figure, wrk_get
from tests.bench.store import api_server, postgres, seed

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results" / "credentials.json"
HOT_ORGS = 2000
CONNECTIONS = 50
TARGET_RPS = 1000.0
SPEC = new_key_spec("bench")
SERVICE_SECRET = "bench-service-token-secret-0123456789abcdef"


def http_app() -> FastAPI:
    """``uvicorn --factory`` entry: the store's API with PostgreSQL alone (no broker, no loops)."""
    from connection_store.app import create_app

    return create_app(
        StoreSettings(), run_consumers=False, run_background=False, start_broker=False
    )


async def _hot_rows(pool: asyncpg.Pool, now: datetime) -> list[uuid.UUID]:
    """``HOT_ORGS`` organizations with a readable Google Ads and Klaviyo credential each."""
    ring = KeyRing.from_spec(SPEC)
    orgs = [uuid.uuid4() for _ in range(HOT_ORGS)]
    rows: list[tuple[Any, ...]] = []
    for org in orgs:
        token = ring.encrypt(
            "ya29." + os.urandom(24).hex(), Binding(org, "google_ads", "access_token")
        )
        key = ring.encrypt("pk_" + os.urandom(16).hex(), Binding(org, "klaviyo", "private_api_key"))
        rows.append(
            (
                uuid.uuid4(),
                org,
                "google_ads",
                "oauth2_authorization_code",
                json.dumps(token.model_dump(mode="json")),
                "{}",
                now + timedelta(hours=6),
            )
        )
        rows.append(
            (
                uuid.uuid4(),
                org,
                "klaviyo",
                "api_key",
                None,
                json.dumps({"private_api_key": key.model_dump(mode="json")}),
                None,
            )
        )
    async with pool.acquire() as connection:
        await connection.executemany(
            """INSERT INTO integration_connections
                   (id, organization_id, provider, auth_type, access_token_encrypted,
                    credential_fields_encrypted, credential_version, token_expires_at,
                    account_id, account_name, status, connected_at)
               VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, 1, $7,
                       'acct', 'Account', 'active', now())""",
            rows,
        )
        await connection.execute("ANALYZE integration_connections")
    return orgs


async def _bench(dsn: str, size: int, seconds: float) -> dict[str, Any]:
    await migrate(dsn)
    now = datetime.now(UTC)
    pool = await create_pool(dsn, size=4)
    try:
        seeded = await seed(pool, 0, size, now)
        orgs = await _hot_rows(pool, now)
    finally:
        await pool.close()
    env = {
        "CREDENTIAL_KEYS": SPEC,
        "HUB_SERVICE_TOKEN_SECRET": SERVICE_SECRET,
        "CONNECTION_STORE_CREDENTIALS_RATE_PER_S": "1000000",
        "CONNECTION_STORE_CREDENTIALS_BURST": "1000000",
    }
    token = issue_service_token(
        SecretStr(SERVICE_SECRET),
        "bench-sync",
        (CREDENTIALS_READ,),
        providers=["google_ads", "klaviyo"],
        lifetime=timedelta(seconds=MAX_SERVICE_LIFETIME_S),
    )
    paths = [
        (f"/v1/orgs/{org}/integrations/{provider}/credentials?min_ttl_s=300", token)
        for org in orgs
        for provider in ("google_ads", "klaviyo")
    ]
    async with api_server(dsn, factory="tests.bench.credentials:http_app", env=env) as (base, pid):
        await asyncio.to_thread(wrk_get, base, paths, 2, CONNECTIONS)  # warm up
        closed = await asyncio.to_thread(wrk_get, base, paths, seconds, CONNECTIONS)
        cpu_before = cpu_seconds(pid)
        paced = await asyncio.to_thread(
            wrk_get, base, paths, seconds, CONNECTIONS, rate_per_s=TARGET_RPS
        )
        cpu_used = cpu_seconds(pid) - cpu_before
    reads = max(1, paced["requests"])
    return {
        "connections": size + 2 * HOT_ORGS,
        "seed_seconds": seeded,
        "closed_loop": closed,
        "paced": {**paced, "offered_per_s": TARGET_RPS},
        "cpu_ms_per_read": round(cpu_used * 1000 / reads, 3),
        "server": f"uvicorn, 1 worker, pool {StoreSettings().database_pool_size}",
    }


async def figures(scale: float) -> dict[str, dict[str, object]]:
    """``vend_rps``, ``vend_p99_ms`` (at ~1 000 offered/s), ``vend_cpu_ms_per_read``."""
    size = max(10_000, int(1_000_000 * scale))
    seconds = max(3.0, 10 * scale)
    record = await asyncio.to_thread(run, size, seconds)
    for label in ("closed_loop", "paced"):
        if record[label]["non_2xx"] or record[label]["errors"]:
            raise RuntimeError(f"{label}: {record[label]}")
    return {
        "vend_rps": figure(
            record["closed_loop"]["requests_per_second"], "requests/s", 1000, "higher"
        ),
        "vend_p99_ms": figure(record["paced"]["p99_ms"], "ms", 10, "lower"),
        "vend_cpu_ms_per_read": figure(record["cpu_ms_per_read"], "ms", 2, "lower"),
    }


def run(size: int, seconds: float) -> dict[str, Any]:
    """Run the benchmark, append the results to bench-results/credentials.json."""
    began = time.perf_counter()
    with postgres() as (dsn, label):
        measured = asyncio.run(_bench(dsn, size, seconds))
    record = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "postgres": label,
        **measured,
        "bench_seconds": round(time.perf_counter() - began, 1),
    }
    runs: list[dict[str, Any]] = []
    if RESULTS.is_file():
        previous = json.loads(RESULTS.read_text())
        runs = previous.get("runs", []) if isinstance(previous, dict) else []
    runs.append(record)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": runs}, indent=2, default=str) + "\n")
    return record


if __name__ == "__main__":
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 0.01
    print(json.dumps(run(max(10_000, int(1_000_000 * scale)), 3.0), indent=2, default=str))
