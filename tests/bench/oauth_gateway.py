"""oauth-gateway under load: OAuth callbacks per second and the gateway's callback latency at
100 concurrent flows, against the provider sandbox.

The gateway and the sandbox run as processes (``python -m ...``) on the real PostgreSQL and the
local broker (or ``DATABASE_URL`` / ``KAFKA_BOOTSTRAP_SERVERS``). Each flow is prepared as a
browser would (start with its own cookie, the sandbox's authorize page), then the callbacks are
fired 100 at a time. A callback's latency is the gateway's whole job: claim the flow in
PostgreSQL, exchange the code and read the identity at the sandbox, encrypt, publish
``connection.established`` (acks=all), answer 303. Providers rotate over every OAuth provider of
the catalog (Meta's costs two token calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from hub_catalog import load_catalog
from hub_localstack.broker import TansuBroker
from hub_localstack.postgres import PostgresServer
from hub_localstack.services import ServiceProcess, hub_environment
from hub_localstack.settings import StackSettings
from hub_localstack.topics import create_topics

from tests.bench.measure import cpu_seconds, figure, rss_mb

RESULTS = Path(__file__).resolve().parents[2] / "bench-results" / "oauth-gateway.json"
JWT_SECRET = "bench-platform-jwt-secret-" + "b" * 32
COOKIE = "hub_oauth_browser"


def _token(org: uuid.UUID) -> str:
    claims = {
        "sub": "bench",
        "org": str(org),
        "scope": "integrations:write",
        "exp": datetime.now(UTC) + timedelta(hours=1),
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def _prepare(
    client: httpx.AsyncClient, gateway: str, provider: str, limit: asyncio.Semaphore
) -> tuple[str, str]:
    """Start one flow and pass the authorize page: (callback URL, the browser's cookie)."""
    org = uuid.uuid4()
    body = {"shop": "acme.myshopify.com"} if provider == "shopify" else {}
    async with limit:
        started = await client.post(
            f"{gateway}/v1/orgs/{org}/integrations/{provider}/oauth/start",
            json=body,
            headers={"Authorization": f"Bearer {_token(org)}", "Cookie": ""},
        )
        started.raise_for_status()
        cookie = started.cookies[COOKIE]
        authorize = await client.get(started.json()["auth_url"])
    assert authorize.status_code == 302, authorize.text
    return authorize.headers["location"], cookie


async def _callback(
    client: httpx.AsyncClient, url: str, cookie: str, limit: asyncio.Semaphore
) -> tuple[float, bool]:
    async with limit:
        began = time.perf_counter()
        answer = await client.get(url, headers={"Cookie": f"{COOKIE}={cookie}"})
        elapsed = time.perf_counter() - began
    return elapsed, answer.status_code == 303 and "status=connected" in answer.headers.get(
        "location", ""
    )


async def _run(gateway: str, flows: int, concurrency: int, pids: dict[str, int]) -> dict[str, Any]:
    providers = [p.id for p in load_catalog().oauth_providers()]
    # Idle connections expire before the servers' (uvicorn: 5 s), so none is reused as it closes.
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=1.0
    )
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        # Warm up: pools, first-call paths, the consumer group join.
        warm = [await _prepare(client, gateway, p, limit) for p in providers]
        await asyncio.gather(*(_callback(client, url, c, limit) for url, c in warm))
        prepared = await asyncio.gather(
            *(_prepare(client, gateway, providers[i % len(providers)], limit) for i in range(flows))
        )
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        results = await asyncio.gather(*(_callback(client, url, c, limit) for url, c in prepared))
        wall = time.perf_counter() - started
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    latencies = sorted(seconds * 1000 for seconds, _ in results)
    connected = sum(ok for _, ok in results)
    return {
        "flows": flows,
        "concurrency": concurrency,
        "providers": len(providers),
        "connected": connected,
        "seconds": round(wall, 3),
        "callbacks_per_second": round(flows / wall, 1),
        "callback_latency_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
            "max": round(latencies[-1], 1),
        },
        "cpu_ms_per_callback": {name: round(used * 1000 / flows, 2) for name, used in cpu.items()},
    }


def _pid(service: ServiceProcess) -> int:
    assert service.process is not None
    return service.process.pid


def bench_oauth_gateway(flows: int = 1000, concurrency: int = 100) -> dict[str, Any]:
    stack = StackSettings()
    with contextlib.ExitStack() as running, tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        database_url = stack.database_url
        if not database_url:
            postgres = running.enter_context(PostgresServer(scratch / "postgres"))
            database_url = postgres.create_database(f"bench_{uuid.uuid4().hex[:12]}")
        bootstrap = stack.kafka_bootstrap_servers
        if not bootstrap:
            bootstrap = running.enter_context(TansuBroker(scratch / "tansu.log")).bootstrap_servers
        asyncio.run(create_topics(bootstrap))
        sandbox = running.enter_context(
            ServiceProcess(
                "provider-sandbox",
                "provider_sandbox",
                {"SANDBOX_HOST": "127.0.0.1"},
                port_variable="SANDBOX_PORT",
                log_dir=scratch,
                health_path="/_sandbox/health",
            )
        )
        env = hub_environment(
            database_url,
            bootstrap,
            sandbox.url,
            scratch / "state",
            PLATFORM_JWT_SECRET=JWT_SECRET,
            LOG_LEVEL="WARNING",
        )
        gateway = running.enter_context(
            ServiceProcess(
                "oauth-gateway",
                "oauth_gateway",
                env,
                port_variable="OAUTH_GATEWAY_PORT",
                log_dir=scratch,
            )
        )
        pids = {"gateway": _pid(gateway), "sandbox": _pid(sandbox)}
        idle_rss = rss_mb(pids["gateway"])
        result = asyncio.run(_run(gateway.url, flows, concurrency, pids))
    where = "external" if stack.database_url or stack.kafka_bootstrap_servers else "local"
    return {"stack": where, "gateway_processes": 1, "idle_rss_mb": round(idle_rss, 1), **result}


async def figures(scale: float) -> dict[str, dict[str, object]]:
    """``callbacks_per_s``, ``callback_p99_ms``, ``callback_gateway_cpu_ms`` at 100 concurrent
    flows, ``scale`` * 1000 callbacks."""
    flows = max(200, int(1000 * scale))
    measured = await asyncio.to_thread(bench_oauth_gateway, flows)
    return {
        "callbacks_per_s": figure(measured["callbacks_per_second"], "callbacks/s", 300, "higher"),
        "callback_p99_ms": figure(measured["callback_latency_ms"]["p99"], "ms", 300, "lower"),
        "callback_gateway_cpu_ms": figure(
            measured["cpu_ms_per_callback"]["gateway"], "ms", 3, "lower"
        ),
        "idle_rss_mb_oauth_gateway": figure(measured["idle_rss_mb"], "MB", 120, "lower"),
    }


def run() -> dict[str, Any]:
    results = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "oauth_callbacks": bench_oauth_gateway(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
