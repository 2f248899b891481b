"""`make bench`: foundation benchmarks, results in bench-results/foundation.json.

- key ring: AES-256-GCM encrypt + decrypt of one credential, per second;
- contracts: serialize + parse (registry) of one credential-bearing event, per second;
- bus: events published with ``publish_event`` and consumed through ``subscribe`` on the real
  local broker (or KAFKA_BOOTSTRAP_SERVERS), end to end, per second.

Then connection-store at scale (``tests/bench/store.py``), appended to
bench-results/connection-store.json, and health-monitor checks per second for 20 000 due
connections against the sandbox (``tests/bench/health_monitor.py``), in
bench-results/health-monitor.json, and oauth-gateway OAuth callbacks per second with the
gateway's callback p50/p99 at 100 concurrent flows (``tests/bench/oauth_gateway.py``), in
bench-results/oauth-gateway.json, and token-refresher refreshes per second end to end (sweep →
refresher → sandbox → store) for 20 000 due connections, with the sandbox token endpoint's raw
rate measured in the same run (``tests/bench/token_refresher.py``), appended to
bench-results/token-refresher.json.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub_contracts import Event, Topic, parse_event, serialize_event
from hub_contracts.examples import EXAMPLES
from hub_keyring import Binding, KeyRing
from hub_localstack.broker import TansuBroker
from hub_localstack.settings import StackSettings
from hub_localstack.topics import create_topics
from hub_runtime import ServiceSettings, create_broker, publish_event, subscribe

RESULTS = Path(__file__).resolve().parents[2] / "bench-results" / "foundation.json"
MODULES = ["console"]
"""Modules exposing ``async def figures(scale) -> {NAME: {value, unit, goal, better}}``."""


def bench_keyring(count: int = 20_000) -> dict[str, Any]:
    ring = KeyRing([("k1", os.urandom(32))])
    binding = Binding(uuid.uuid4(), "google_ads", "access_token")
    secret = "ya29." + "x" * 180
    started = time.perf_counter()
    for _ in range(count):
        ring.decrypt(ring.encrypt(secret, binding), binding)
    elapsed = time.perf_counter() - started
    return {"operations": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed)}


def bench_contracts(count: int = 20_000) -> dict[str, Any]:
    event = next(e for e in EXAMPLES if e.topic == Topic.TOKEN_REFRESHED)
    started = time.perf_counter()
    for _ in range(count):
        parse_event(serialize_event(event))
    elapsed = time.perf_counter() - started
    return {"events": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed)}


async def _bench_bus(bootstrap: str, count: int) -> dict[str, Any]:
    await create_topics(
        bootstrap, [Topic.TOKEN_REFRESHED.value, f"{Topic.TOKEN_REFRESHED.value}.dlq"], partitions=6
    )
    settings = ServiceSettings(
        service_name="bench",
        kafka_bootstrap_servers=bootstrap,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        kafka_fetch_max_wait_ms=10,
    )
    template = next(e for e in EXAMPLES if e.topic == Topic.TOKEN_REFRESHED)
    events = [
        template.model_copy(update={"event_id": uuid.uuid4(), "organization_id": uuid.uuid4()})
        for _ in range(count)
    ]
    wanted = {e.event_id for e in events}
    done = asyncio.Event()
    seen: set[uuid.UUID] = set()

    async def handler(event: Event) -> None:
        if event.event_id in wanted:
            seen.add(event.event_id)
            if len(seen) == count:
                done.set()

    broker = create_broker(settings)
    subscribe(
        broker,
        settings,
        topic=Topic.TOKEN_REFRESHED,
        group=f"bench.{uuid.uuid4().hex}",
        handler=handler,
    )
    async with broker:
        await broker.start()
        started = time.perf_counter()
        await asyncio.gather(*(publish_event(broker, e) for e in events))
        published = time.perf_counter() - started
        await asyncio.wait_for(done.wait(), timeout=300)
        elapsed = time.perf_counter() - started
    return {
        "events": count,
        "publish_seconds": round(published, 3),
        "end_to_end_seconds": round(elapsed, 3),
        "end_to_end_per_second": round(count / elapsed),
    }


def bench_bus(count: int = 5_000) -> dict[str, Any]:
    bootstrap = StackSettings().kafka_bootstrap_servers
    if bootstrap:
        return {"broker": "external", **asyncio.run(_bench_bus(bootstrap, count))}
    with tempfile.TemporaryDirectory() as scratch, TansuBroker(Path(scratch) / "t.log") as broker:
        return {
            "broker": "tansu (local)",
            **asyncio.run(_bench_bus(broker.bootstrap_servers, count)),
        }


def main() -> None:
    results = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "keyring_encrypt_decrypt": bench_keyring(),
        "event_serialize_parse": bench_contracts(),
        "bus_publish_consume": bench_bus(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {RESULTS}")

    from tests.bench import store

    print(json.dumps(store.run(), indent=2))
    print(f"appended to {store.RESULTS}")

    from tests.bench import health_monitor

    print(json.dumps(health_monitor.run(), indent=2))
    print(f"written to {health_monitor.RESULTS}")

    from tests.bench import oauth_gateway

    print(json.dumps(oauth_gateway.run(), indent=2))
    print(f"written to {oauth_gateway.RESULTS}")

    from tests.bench import token_refresher

    print(json.dumps(token_refresher.run(), indent=2))
    print(f"appended to {token_refresher.RESULTS}")

    for name in MODULES:
        module = importlib.import_module(f"tests.bench.{name}")
        print(json.dumps(asyncio.run(module.figures(1.0)), indent=2))


if __name__ == "__main__":
    main()
