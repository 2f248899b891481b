"""health-monitor throughput (part of ``make bench``): results in
bench-results/health-monitor.json.

20 000 due connections spread over every tenant provider whose health can be proved (request or
token mint; best-effort providers make no call and are left out), against the provider sandbox
as a process on loopback:

- service: ``python -m health_monitor`` as a process; the 20 000 ``connection.check_due`` events
  are published as the store's sweep would publish them; timed from the first publish to the
  last check counted by the monitor's ``/metrics``; 5 % of the connections were ``error`` before,
  so they also publish ``connection.recovered``;
- check path: ``HealthMonitor.check`` in this process (decrypt, request, classify), no broker,
  with the same concurrency limits;
- canned answers: the same check path with every provider answering from memory: the
  monitor's own cost per check (the sandbox, one Python process, answers ~265 requests/s on
  this 2-core machine and bounds the first two figures).

Broker: KAFKA_BOOTSTRAP_SERVERS when set, otherwise a Tansu broker in a temporary directory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import platform
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from health_monitor.adapters.prober import ProviderProber
from health_monitor.domain import Plan, plan
from health_monitor.service import HealthMonitor, Policy
from hub_catalog import Catalog, PlatformCredentials, Provider, load_catalog
from hub_contracts import ALL_TOPICS, ConnectionCheckDueV1, Credentials, Event, dlq_topic
from hub_keyring import Binding, KeyRing
from hub_localstack.broker import TansuBroker
from hub_localstack.services import TEST_KAFKA_SETTINGS, ServiceProcess
from hub_localstack.settings import StackSettings
from hub_localstack.topics import create_topics
from hub_providers import OAuthClient, OutboundHttp
from hub_runtime import ServiceSettings, create_broker, publish_event
from hub_runtime.metrics import sample
from provider_sandbox import example_value, platform_environment

from tests.bench.measure import figure, rss_mb

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results" / "health-monitor.json"
CONNECTIONS = 20_000
MAX_CONCURRENCY = 64
PER_PROVIDER = 16
SHOP = "acme"


def _key_spec() -> str:
    return f"bench1:{base64.b64encode(os.urandom(32)).decode()}"


@contextlib.contextmanager
def _sandbox(log_dir: Path) -> Iterator[ServiceProcess]:
    env = {"PATH": os.environ["PATH"], "SANDBOX_HOST": "127.0.0.1"}
    with ServiceProcess(
        "provider-sandbox",
        "provider_sandbox",
        env,
        port_variable="SANDBOX_PORT",
        log_dir=log_dir,
        health_path="/_sandbox/health",
    ) as sandbox:
        yield sandbox


@contextlib.contextmanager
def _broker(scratch: Path) -> Iterator[str]:
    bootstrap = StackSettings().kafka_bootstrap_servers
    if bootstrap:
        yield bootstrap
        return
    with TansuBroker(scratch / "tansu.log") as broker:
        yield broker.bootstrap_servers


async def _credential(http: OutboundHttp, catalog: Catalog, provider: Provider) -> dict[str, str]:
    """One credential per provider, shared by its connections: an OAuth token issued by the
    sandbox, or typed values of the fields' shape."""
    mode = provider.auth
    if mode.oauth is None:
        return {field.name: example_value(field) for field in mode.fields}
    environment = platform_environment(catalog)
    values = {c.name: environment[c.env] for c in provider.platform_credentials}
    values |= dict.fromkeys(provider.tenant_params, SHOP)
    client = OAuthClient(http, provider, values, redirect_uri="https://hub.example/callback")
    verifier = secrets.token_urlsafe(48)
    async with http.client(provider) as plain:
        page = await plain.get(client.authorization_url(state="bench", code_verifier=verifier))
    code = dict(parse_qsl(urlsplit(page.headers["location"]).query))[mode.oauth.code_param]
    tokens = await client.exchange_code(code, code_verifier=verifier)
    return {"access_token": tokens.access_token.get_secret_value()}


def _due(ring: KeyRing, provider: Provider, values: dict[str, str], status: str) -> Event:
    org = uuid.uuid4()

    def seal(name: str) -> Any:
        return ring.encrypt(values[name], Binding(org, provider.id, name))

    tokens = {name: seal(name) for name in ("access_token",) if name in values}
    fields = {name: seal(name) for name in values if name not in tokens}
    return ConnectionCheckDueV1(
        organization_id=org,
        provider=provider.id,
        connection_id=uuid.uuid4(),
        credential_version=1,
        auth_type=provider.auth.type.value,
        trigger="scheduled",
        status=status,  # type: ignore[arg-type]
        last_error_code="provider_unavailable" if status == "error" else None,
        credentials=Credentials(fields=fields, **tokens),
        metadata=dict.fromkeys(provider.tenant_params, SHOP),
    )


async def _events(catalog: Catalog, sandbox_url: str, ring: KeyRing) -> list[Event]:
    provers = [p for p in catalog.tenant_providers() if plan(p, p.auth) != Plan.SHAPE]
    async with _outbound(catalog) as http:
        credentials = {p.id: await _credential(http, catalog, p) for p in provers}
    return [
        _due(
            ring,
            provers[index % len(provers)],
            credentials[provers[index % len(provers)].id],
            "error" if index % 20 == 0 else "active",
        )
        for index in range(CONNECTIONS)
    ]


@contextlib.asynccontextmanager
async def _outbound(catalog: Catalog) -> AsyncIterator[OutboundHttp]:
    http = OutboundHttp(
        catalog,
        transport=httpx.AsyncHTTPTransport(
            retries=0, limits=httpx.Limits(max_connections=MAX_CONCURRENCY)
        ),
    )
    try:
        yield http
    finally:
        await http.aclose()


async def _sandbox_calls(sandbox_url: str) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        counts: dict[str, dict[str, int]] = (
            await client.get(f"{sandbox_url}/_sandbox/calls")
        ).json()
    return sum(c.get("health", 0) + c.get("mint", 0) for c in counts.values())


def _checks_total(metrics: str) -> int:
    return int(sample(metrics, "health_monitor_checks_total"))


async def _bench_service(
    bootstrap: str, sandbox_url: str, spec: str, events: list[Event], log_dir: Path
) -> dict[str, Any]:
    names = [*ALL_TOPICS, *map(dlq_topic, ALL_TOPICS)]
    await create_topics(bootstrap, names, partitions=6)
    env = {
        "PATH": os.environ["PATH"],
        **platform_environment(load_catalog()),
        **TEST_KAFKA_SETTINGS,
        "HUB_ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PROVIDER_BASE_URL_OVERRIDE": sandbox_url,
        "CREDENTIAL_KEYS": spec,
        "HEALTH_MONITOR_MAX_CONCURRENCY": str(MAX_CONCURRENCY),
        "HEALTH_MONITOR_PER_PROVIDER_CONCURRENCY": str(PER_PROVIDER),
    }
    calls_before = await _sandbox_calls(sandbox_url)
    settings = ServiceSettings(kafka_bootstrap_servers=bootstrap, service_name="bench")
    with ServiceProcess(
        "health-monitor",
        "health_monitor",
        env,
        port_variable="HEALTH_MONITOR_PORT",
        log_dir=log_dir,
    ) as monitor:
        assert monitor.process is not None
        idle_rss = rss_mb(monitor.process.pid)
        async with create_broker(settings) as producer, httpx.AsyncClient(timeout=10) as http:
            await producer.start()
            started = time.perf_counter()
            for start in range(0, len(events), 1000):
                await asyncio.gather(
                    *(publish_event(producer, e) for e in events[start : start + 1000])
                )
            published = time.perf_counter() - started
            checked = 0
            deadline = started + 600
            while checked < len(events) and time.perf_counter() < deadline:
                await asyncio.sleep(0.25)
                metrics = (await http.get(f"{monitor.url}/metrics")).text
                checked = _checks_total(metrics)
            elapsed = time.perf_counter() - started
    recovered = sample(
        metrics,
        "health_monitor_events_total",
        event_type="connection.recovered",
        reason="recovered",
    )
    return {
        "connections": len(events),
        "idle_rss_mb": round(idle_rss, 1),
        "checked": checked,
        "provider_calls": await _sandbox_calls(sandbox_url) - calls_before,
        "recovered_events": int(recovered),
        "publish_seconds": round(published, 3),
        "seconds": round(elapsed, 3),
        "checks_per_second": round(checked / elapsed),
    }


async def _bench_check_path(sandbox_url: str, ring: KeyRing, events: list[Event]) -> dict[str, Any]:
    catalog = load_catalog(base_url_override=sandbox_url)

    class Drop:
        async def publish(self, event: Event) -> None:
            return None

    async with _outbound(catalog) as http:
        monitor = HealthMonitor(
            catalog,
            ring,
            PlatformCredentials(platform_environment(catalog)),
            ProviderProber(http),
            Drop(),
            policy=Policy(max_concurrency=MAX_CONCURRENCY, per_provider_concurrency=PER_PROVIDER),
        )
        started = time.perf_counter()
        reports = await asyncio.gather(*(monitor.check(e) for e in events))  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
    outcomes: dict[str, int] = {}
    for report in reports:
        outcomes[report.verdict.outcome.value] = outcomes.get(report.verdict.outcome.value, 0) + 1
    return {
        "connections": len(events),
        "outcomes": outcomes,
        "seconds": round(elapsed, 3),
        "checks_per_second": round(len(events) / elapsed),
    }


async def _bench_canned(ring: KeyRing, events: list[Event]) -> dict[str, Any]:
    """The monitor's own cost per check: the same path with every provider answering at once
    from memory (a success body for every catalog request), so the sandbox is not the limit."""
    catalog = load_catalog()
    body = {"ok": True, "code": 0, "access_token": "canned", "expires_in": 3600}

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    class Drop:
        async def publish(self, event: Event) -> None:
            return None

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    http = OutboundHttp(catalog, transport=transport, resolver=public)
    monitor = HealthMonitor(
        catalog,
        ring,
        PlatformCredentials(platform_environment(catalog)),
        ProviderProber(http),
        Drop(),
        policy=Policy(max_concurrency=MAX_CONCURRENCY, per_provider_concurrency=PER_PROVIDER),
    )
    started = time.perf_counter()
    reports = await asyncio.gather(*(monitor.check(e) for e in events))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    healthy = sum(1 for r in reports if r.verdict.outcome.value == "healthy")
    return {
        "connections": len(events),
        "healthy": healthy,
        "seconds": round(elapsed, 3),
        "checks_per_second": round(len(events) / elapsed),
    }


async def figures(scale: float) -> dict[str, dict[str, object]]:
    """``checks_per_s`` through the broker at ``scale`` * 20 000 due connections."""
    global CONNECTIONS
    CONNECTIONS = max(500, int(20_000 * scale))
    service = (await asyncio.to_thread(run))["service_kafka_to_checks"]
    return {
        "checks_per_s": figure(service["checks_per_second"], "checks/s", 2000, "higher"),
        "idle_rss_mb_health_monitor": figure(service["idle_rss_mb"], "MB", 120, "lower"),
    }


def run() -> dict[str, Any]:
    spec = _key_spec()
    ring = KeyRing.from_spec(spec)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        with _sandbox(scratch) as sandbox, _broker(scratch) as bootstrap:
            catalog = load_catalog(base_url_override=sandbox.url)
            events = asyncio.run(_events(catalog, sandbox.url, ring))
            providers = sorted({e.provider for e in events})
            check_path = asyncio.run(_bench_check_path(sandbox.url, ring, events))
            canned = asyncio.run(_bench_canned(ring, events))
            service = asyncio.run(_bench_service(bootstrap, sandbox.url, spec, events, scratch))
    results = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "providers": providers,
        "limits": {"max_concurrency": MAX_CONCURRENCY, "per_provider_concurrency": PER_PROVIDER},
        "service_kafka_to_checks": service,
        "check_path_in_process": check_path,
        "check_path_canned_answers": canned,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
    sys.exit(0)
