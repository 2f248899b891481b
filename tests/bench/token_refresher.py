"""token-refresher end to end (part of ``make bench``): results appended to
bench-results/token-refresher.json.

20 000 connections due for refresh at once, over every strategy that calls a provider
(refresh grant: Google Ads, Drive and Calendar, Klaviyo and Wise OAuth; rotating refresh grant:
Shopify, Slack; re-mint: Yotpo, PayPal), with every service as a process on loopback:
connection-store (sweep, outbox relay, ``token.refreshed`` consumer), token-refresher (default
limits: 64 calls at once, 16 per provider), the provider sandbox and the Kafka-protocol broker.

- end to end: the rows are seeded not due; one UPDATE makes all 20 000 due; timed from that
  UPDATE until the store holds credential version 2 for every row (sweep → outbox → relay →
  ``token.expiring`` → refresher → sandbox → ``token.refreshed`` → store). Sampled every 0.5 s:
  rows refreshed in the store, refreshes counted by the refresher's ``/metrics``;
- with provider latency: every row due once more with 200 ms added to each sandbox answer; the
  steady rate against concurrency ÷ latency (``refresh_latency_scaling_ratio``);
- sandbox raw rate, measured in the same run right after: refresh-grant requests straight to the
  sandbox's token endpoint (Google Ads), 64 at once, no hub code in the way: the ceiling of the
  figure above on this machine.

PostgreSQL: a fresh database on DATABASE_URL's server when set, otherwise an embedded server in
a temporary directory; broker: KAFKA_BOOTSTRAP_SERVERS when set, otherwise Tansu. Services log
at WARNING (20 000 INFO lines per service would be part of the measurement).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import platform
import secrets
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import httpx
from hub_catalog import AuthType, Catalog, Provider, load_catalog
from hub_contracts import EncryptedCredential
from hub_keyring import Binding, KeyRing
from hub_localstack.broker import TansuBroker
from hub_localstack.postgres import (
    OWNER_ROLE,
    PostgresServer,
    create_database,
    create_roles,
    drop_database,
)
from hub_localstack.services import ServiceProcess, hub_environment
from hub_localstack.settings import StackSettings
from hub_localstack.topics import create_topics
from hub_providers import OAuthClient, OutboundHttp, TokenSet
from prometheus_client.parser import text_string_to_metric_families
from provider_sandbox import example_value, platform_environment

from tests.bench.measure import cpu_seconds, figure, rss_mb

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results" / "token-refresher.json"
SHOP = "acme"
MIX: list[tuple[str, AuthType, int]] = [
    ("google_ads", AuthType.OAUTH2_AUTHORIZATION_CODE, 3000),
    ("google_drive", AuthType.OAUTH2_AUTHORIZATION_CODE, 3000),
    ("google_calendar", AuthType.OAUTH2_AUTHORIZATION_CODE, 3000),
    ("klaviyo", AuthType.OAUTH2_AUTHORIZATION_CODE, 2500),
    ("wise", AuthType.OAUTH2_AUTHORIZATION_CODE, 2500),
    ("yotpo", AuthType.TOKEN_EXCHANGE, 2000),
    ("paypal", AuthType.OAUTH2_CLIENT_CREDENTIALS, 2000),
    ("shopify", AuthType.OAUTH2_AUTHORIZATION_CODE, 1000),
    ("slack", AuthType.OAUTH2_AUTHORIZATION_CODE, 1000),
]
CONNECTIONS = sum(n for _, _, n in MIX)
RAW_REQUESTS = 5000
RAW_CONCURRENCY = 64

INSERT_SQL = """
INSERT INTO integration_connections
    (id, organization_id, provider, auth_type, access_token_encrypted, refresh_token_encrypted,
     credential_fields_encrypted, credential_version, token_expires_at, metadata, status,
     account_name, connected_at, last_sync_at, next_refresh_at, next_check_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, 1, $8, $9::jsonb, 'active',
        'Bench account', $10, $10, $11, NULL)"""

PROGRESS_SQL = """
SELECT count(*) FILTER (WHERE credential_version >= $1) AS refreshed,
       count(*) FILTER (WHERE credential_version > $1) AS twice,
       (SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS unsent
FROM integration_connections"""
LATENCY_MS = 200
"""The provider latency of the scaling run (``SANDBOX_LATENCY_MS`` semantics)."""
REFRESHER_CONCURRENCY = 64
"""token-refresher's default ``max_concurrency`` (16 per provider, 9 providers in the mix)."""


@contextlib.contextmanager
def _postgres() -> Iterator[tuple[str, str]]:
    external = StackSettings().database_url
    scratch: Path | None = None
    server: PostgresServer | None = None
    if external:
        admin, label = external, "DATABASE_URL"
    else:
        scratch = Path(tempfile.mkdtemp(prefix="hub-bench-refresher-pg-"))
        server = PostgresServer(scratch)
        server.start()
        admin, label = server.dsn, "embedded (hub_localstack.postgres)"
    name = f"bench_refresher_{uuid.uuid4().hex[:12]}"
    try:
        create_roles(admin)  # the services log in as LOGIN_ROLE, migrate as OWNER_ROLE
        yield create_database(admin, name, owner=OWNER_ROLE), label
    finally:
        with contextlib.suppress(Exception):
            drop_database(admin, name)
        if server:
            server.stop()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _broker(scratch: Path) -> Iterator[tuple[str, str]]:
    bootstrap = StackSettings().kafka_bootstrap_servers
    if bootstrap:
        yield bootstrap, "KAFKA_BOOTSTRAP_SERVERS"
        return
    with TansuBroker(scratch / "tansu.log") as broker:
        yield broker.bootstrap_servers, "tansu (local)"


async def _dance(http: OutboundHttp, provider: Provider) -> TokenSet:
    """One OAuth connection at the sandbox process."""
    environment = platform_environment(http.catalog)
    values = {c.name: environment[c.env] for c in provider.platform_credentials}
    values |= dict.fromkeys(provider.tenant_params, SHOP)
    client = OAuthClient(http, provider, values, redirect_uri="https://hub.example/callback")
    verifier = secrets.token_urlsafe(48)
    async with http.client(provider) as plain:
        page = await plain.get(client.authorization_url(state="bench", code_verifier=verifier))
    code = dict(parse_qsl(urlsplit(page.headers["location"]).query))[client.spec.code_param]
    return await client.exchange_code(code, code_verifier=verifier)


def _sealed(ring: KeyRing, org: uuid.UUID, provider: str, field: str, value: str) -> str:
    sealed: EncryptedCredential = ring.encrypt(value, Binding(org, provider, field))
    return json.dumps(sealed.model_dump(mode="json"))


async def _rows(catalog: Catalog, ring: KeyRing) -> list[tuple[Any, ...]]:
    """Every connection's row: rotating providers get a grant each, the others share one
    (a non-rotating refresh token can be used any number of times; re-mint needs none)."""
    http = OutboundHttp(
        catalog,
        transport=httpx.AsyncHTTPTransport(retries=0, limits=httpx.Limits(max_connections=32)),
    )
    gate = asyncio.Semaphore(32)

    async def dance(provider: Provider) -> TokenSet:
        async with gate:
            return await _dance(http, provider)

    now = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    try:
        for provider_id, auth_type, count in MIX:
            provider = catalog.get(provider_id)
            mode = provider.mode(auth_type)
            rotating = mode.refresh == "rotating_refresh_grant"
            fields: dict[str, str] = {}
            grants: list[TokenSet | None]
            if mode.refresh == "remint":
                fields = {f.name: example_value(f) for f in mode.fields}
                grants = [None] * count
            elif rotating:
                grants = list(await asyncio.gather(*(dance(provider) for _ in range(count))))
            else:
                grants = [await dance(provider)] * count
            for grant in grants:
                org = uuid.uuid4()
                access = refresh = None
                if grant is not None:
                    access = _sealed(
                        ring,
                        org,
                        provider_id,
                        "access_token",
                        grant.access_token.get_secret_value(),
                    )
                    assert grant.refresh_token is not None
                    refresh = _sealed(
                        ring,
                        org,
                        provider_id,
                        "refresh_token",
                        grant.refresh_token.get_secret_value(),
                    )
                sealed_fields = {
                    name: json.loads(_sealed(ring, org, provider_id, name, value))
                    for name, value in fields.items()
                }
                rows.append(
                    (
                        uuid.uuid4(),
                        org,
                        provider_id,
                        mode.type.value,
                        access,
                        refresh,
                        json.dumps(sealed_fields),
                        now + timedelta(hours=1),
                        json.dumps(dict.fromkeys(provider.tenant_params, SHOP)),
                        now - timedelta(days=1),
                        now + timedelta(days=30),
                    )
                )
    finally:
        await http.aclose()
    return rows


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def _metric(text: str, outcome: str) -> int:
    """``token_refresher_events_total`` of ``outcome``, over every provider."""
    return int(
        sum(
            value
            for labels, value in _samples(text, "token_refresher_events_total")
            if labels.get("outcome") == outcome
        )
    )


def _call_stats(text: str) -> dict[str, Any]:
    sums = {
        labels["provider"]: value
        for labels, value in _samples(text, "token_refresher_provider_call_seconds_sum")
    }
    counts = {
        labels["provider"]: value
        for labels, value in _samples(text, "token_refresher_provider_call_seconds_count")
    }
    return {
        provider: {
            "calls": int(counts[provider]),
            "mean_ms": round(1000 * sums.get(provider, 0.0) / max(1.0, counts[provider]), 1),
        }
        for provider in sorted(counts)
    }


async def _end_to_end(
    database_url: str, refresher: ServiceProcess, version: int = 2
) -> dict[str, Any]:
    """Make every row due and time it until each holds credential ``version``."""
    db = await asyncpg.connect(database_url)
    samples: list[dict[str, float]] = []
    try:
        async with httpx.AsyncClient(timeout=10) as client:

            async def refresher_count() -> int:
                text = (await client.get(f"{refresher.url}/metrics")).text
                return _metric(text, "refreshed") - already

            already = _metric((await client.get(f"{refresher.url}/metrics")).text, "refreshed")

            started = time.perf_counter()
            await db.execute("UPDATE integration_connections SET next_refresh_at = now()")
            first_at: float | None = None
            refresher_done_at: float | None = None
            while True:
                await asyncio.sleep(0.5)
                row = await db.fetchrow(PROGRESS_SQL, version)
                assert row is not None
                seen = await refresher_count()
                elapsed = time.perf_counter() - started
                samples.append(
                    {"t_s": round(elapsed, 1), "store": row["refreshed"], "refresher": seen}
                )
                if first_at is None and row["refreshed"]:
                    first_at = elapsed
                if refresher_done_at is None and seen >= CONNECTIONS:
                    refresher_done_at = elapsed
                if row["refreshed"] >= CONNECTIONS:
                    break
                if elapsed > 1800:
                    raise TimeoutError(f"only {row['refreshed']} of {CONNECTIONS} refreshed")
            elapsed = time.perf_counter() - started
            twice = row["twice"]
            metrics = (await client.get(f"{refresher.url}/metrics")).text
    finally:
        await db.close()
    rates = [
        (b["store"] - a["store"]) / (b["t_s"] - a["t_s"])
        for a, b in itertools.pairwise(samples)
        if b["t_s"] > a["t_s"] and b["store"] > a["store"]
    ]
    return {
        "connections": CONNECTIONS,
        "seconds": round(elapsed, 2),
        "refreshes_per_second": round(CONNECTIONS / elapsed, 1),
        "steady_refreshes_per_second_median": round(statistics.median(rates), 1) if rates else None,
        "first_refresh_in_store_s": round(first_at or 0, 2),
        "refresher_done_s": round(refresher_done_at or elapsed, 2),
        "refreshed_twice": twice,
        "refresher_outcomes": {
            outcome: _metric(metrics, outcome)
            for outcome in ("refreshed", "stale", "deferred_backlog", "deferred_rate_limited")
        },
        "provider_calls": _call_stats(metrics),
        "samples_every_0_5s": samples[:: max(1, len(samples) // 40)],
    }


async def _raw_token_rate(catalog: Catalog, sandbox_url: str) -> dict[str, Any]:
    """Refresh grants straight to the sandbox's token endpoint, ``RAW_CONCURRENCY`` at once."""
    google = catalog.get("google_ads")
    http = OutboundHttp(catalog)
    try:
        grant = await _dance(http, google)
    finally:
        await http.aclose()
    assert grant.refresh_token is not None
    environment = platform_environment(catalog)
    oauth = google.mode(AuthType.OAUTH2_AUTHORIZATION_CODE).oauth
    assert oauth is not None
    url = catalog.url(google, oauth.token_url, {})
    form = {
        "grant_type": "refresh_token",
        "refresh_token": grant.refresh_token.get_secret_value(),
        "client_id": environment["GOOGLE_ADS_CLIENT_ID"],
        "client_secret": environment["GOOGLE_ADS_CLIENT_SECRET"],
    }
    remaining = RAW_REQUESTS
    failures = 0
    limits = httpx.Limits(max_connections=RAW_CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                answer = await client.post(url, data=form)
                failures += answer.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(RAW_CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return {
        "requests": RAW_REQUESTS,
        "concurrency": RAW_CONCURRENCY,
        "failures": failures,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(RAW_REQUESTS / elapsed, 1),
    }


async def _ready(process: ServiceProcess) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=5) as client:
        while (await client.get(f"{process.url}/readyz")).status_code != 200:
            assert time.monotonic() < deadline, f"{process.name} not ready"
            await asyncio.sleep(0.2)


async def _bench(database_url: str, bootstrap: str, scratch: Path) -> dict[str, Any]:
    await create_topics(bootstrap, partitions=6)
    sandbox = ServiceProcess(
        "provider-sandbox",
        "provider_sandbox",
        {"PATH": os.environ["PATH"], "SANDBOX_HOST": "127.0.0.1"},
        port_variable="SANDBOX_PORT",
        log_dir=scratch,
        health_path="/_sandbox/health",
    )
    with sandbox:
        env = hub_environment(
            database_url,
            bootstrap,
            sandbox.url,
            scratch / "state",
            LOG_LEVEL="WARNING",
            CONNECTION_STORE_SWEEP_INTERVAL_S="0.5",
            # A refresh the refresher deferred (queue past its limit) is emitted again after this.
            CONNECTION_STORE_REFRESH_RETRY_S="60",
        )
        catalog = load_catalog(base_url_override=sandbox.url)
        ring = KeyRing.from_spec(env["CREDENTIAL_KEYS"])
        seeding = time.perf_counter()
        rows = await _rows(catalog, ring)
        store = ServiceProcess(
            "connection-store",
            "connection_store",
            env,
            port_variable="CONNECTION_STORE_PORT",
            log_dir=scratch,
        )
        refresher = ServiceProcess(
            "token-refresher",
            "token_refresher",
            env,
            port_variable="TOKEN_REFRESHER_PORT",
            log_dir=scratch,
        )
        with store:  # migrates the fresh database
            db = await asyncpg.connect(database_url)
            try:
                await db.executemany(INSERT_SQL, rows)
                await db.execute("VACUUM ANALYZE integration_connections")
            finally:
                await db.close()
            seeded_s = round(time.perf_counter() - seeding, 1)
            with refresher:
                await _ready(refresher)
                pids = [p.process.pid for p in (store, refresher) if p.process is not None]
                idle_rss = {
                    "connection_store": round(rss_mb(pids[0]), 1),
                    "token_refresher": round(rss_mb(pids[1]), 1),
                }
                load_before = os.getloadavg()[0]
                cpu_before = sum(cpu_seconds(pid) for pid in pids)
                end_to_end = await _end_to_end(database_url, refresher)
                cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
                end_to_end["hub_cpu_ms_per_refresh"] = round(1000 * cpu / CONNECTIONS, 3)
                end_to_end["idle_rss_mb"] = idle_rss
                end_to_end["load_average_1m"] = [
                    round(load_before, 2),
                    round(os.getloadavg()[0], 2),
                ]
                latency = await _with_latency(database_url, refresher, sandbox.url)
        raw = await _raw_token_rate(catalog, sandbox.url)
    return {
        "seed_seconds": seeded_s,
        "end_to_end": end_to_end,
        "sandbox_token_endpoint": raw,
        "with_provider_latency": latency,
    }


async def _with_latency(
    database_url: str, refresher: ServiceProcess, sandbox_url: str
) -> dict[str, Any]:
    """Every row due once more, with ``LATENCY_MS`` added to each provider answer: an async
    refresher keeps ``REFRESHER_CONCURRENCY`` calls in flight, so its steady rate should come
    close to concurrency ÷ latency."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as control:
        (await control.post("/_sandbox/latency", json={"ms": LATENCY_MS})).raise_for_status()
        try:
            run = await _end_to_end(database_url, refresher, version=3)
        finally:
            await control.post("/_sandbox/latency", json={"ms": 0})
    ideal = REFRESHER_CONCURRENCY / (LATENCY_MS / 1000)
    steady = run["steady_refreshes_per_second_median"] or run["refreshes_per_second"]
    return {
        "latency_ms": LATENCY_MS,
        "allowed_concurrency": REFRESHER_CONCURRENCY,
        "ideal_refreshes_per_second": ideal,
        "steady_refreshes_per_second_median": steady,
        "scaling_ratio": round(steady / ideal, 3),
        "run": {k: v for k, v in run.items() if k != "samples_every_0_5s"},
    }


async def figures(scale: float) -> dict[str, dict[str, object]]:
    """``refresh_per_s``, ``sandbox_token_per_s``, their ratio and the hub's CPU per refresh
    (store + refresher, ``/proc/<pid>/stat``) at ``scale`` * 20 000 due connections."""
    global MIX, CONNECTIONS, RAW_REQUESTS
    MIX = [(provider, auth, max(20, int(count * scale))) for provider, auth, count in MIX]
    CONNECTIONS = sum(n for _, _, n in MIX)
    RAW_REQUESTS = max(500, int(5000 * scale))
    measured = await asyncio.to_thread(run)
    end_to_end, raw = measured["end_to_end"], measured["sandbox_token_endpoint"]
    refresh, sandbox = end_to_end["refreshes_per_second"], raw["requests_per_second"]
    rss = end_to_end["idle_rss_mb"]
    scaling = measured["with_provider_latency"]["scaling_ratio"]
    return {
        "refresh_latency_scaling_ratio": figure(scaling, "ratio", 0.8, "higher"),
        "refresh_per_s": figure(refresh, "refreshes/s", 1000, "higher"),
        "sandbox_token_per_s": figure(sandbox, "requests/s", 2000, "higher"),
        "refresh_vs_sandbox_ratio": figure(refresh / sandbox, "ratio", 0.6, "higher"),
        "refresh_hub_cpu_ms": figure(end_to_end["hub_cpu_ms_per_refresh"], "ms", 1.5, "lower"),
        "idle_rss_mb_connection_store": figure(rss["connection_store"], "MB", 120, "lower"),
        "idle_rss_mb_token_refresher": figure(rss["token_refresher"], "MB", 120, "lower"),
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-refresher-") as scratch_dir:
        scratch = Path(scratch_dir)
        with _postgres() as (database_url, pg_label), _broker(scratch) as (bootstrap, kafka_label):
            figures = asyncio.run(_bench(database_url, bootstrap, scratch))
    result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "postgres": pg_label,
        "broker": kafka_label,
        "mix": {provider: count for provider, _, count in MIX},
        **figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history: list[Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append(result)
    RESULTS.write_text(json.dumps(history, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
