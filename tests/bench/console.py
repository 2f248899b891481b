"""admin-console (part of ``make bench``): the hub page's server time for an organization with
every tenant integration connected, p95 (goal ≤ 50 ms).

The console and connection-store apps run in this process over ``httpx.ASGITransport`` (the
console's store client is pointed at the store app), so the time is the server's: the console
route, its call to ``GET /v1/orgs/{org}/integrations`` against PostgreSQL, and the rendering.
The organization's connections are made by the store's own consumer of
``connection.established``. PostgreSQL: DATABASE_URL's server, or an embedded one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from admin_console.app import create_app as create_console
from admin_console.settings import ConsoleSettings
from connection_store import handlers
from connection_store.adapters.database import Database, create_pool
from connection_store.adapters.migrations import migrate
from connection_store.adapters.store import PostgresStore
from connection_store.app import create_app as create_store
from connection_store.service.connections import ConnectionEvents
from connection_store.settings import StoreSettings
from hub_catalog import load_catalog
from hub_contracts import (
    Account,
    ConnectionEstablishedV1,
    Credentials,
    EncryptedCredential,
    connection_id,
)
from hub_localstack.postgres import PostgresServer, create_database, drop_database
from hub_localstack.settings import StackSettings

HUB = "/admin/settings/integrations"


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    external = StackSettings().database_url
    if external:
        yield external
        return
    base = Path(tempfile.mkdtemp(prefix="bench-console-pg-"))
    try:
        with PostgresServer(base) as server:
            yield server.dsn
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def _connect_everything(url: str, settings: StoreSettings, org: uuid.UUID) -> int:
    catalog = load_catalog()
    pool = await create_pool(url, size=2)
    try:
        events = ConnectionEvents(
            PostgresStore(Database(pool)),
            catalog,
            check_interval_s=settings.check_interval_s,
            check_jitter=settings.check_jitter,
        )
        providers = catalog.tenant_providers()
        for provider in providers:
            sealed = EncryptedCredential(key_id="k1", nonce=os.urandom(12), ciphertext=b"x" * 48)
            await events.established(
                handlers.ESTABLISHED,
                ConnectionEstablishedV1(
                    organization_id=org,
                    provider=provider.id,
                    connection_id=connection_id(org, provider.id),
                    auth_type=provider.auth.type.value,
                    credentials=Credentials(access_token=sealed),
                    account=Account(id="1", name=f"{provider.name} account"),
                ),
            )
        return len(providers)
    finally:
        await pool.close()


async def _measure(url: str, requests: int) -> dict[str, Any]:
    await migrate(url)
    store_settings = StoreSettings(database_url=url, migrate_on_start=False)
    org = uuid.uuid4()
    connected = await _connect_everything(url, store_settings, org)
    store = create_store(
        store_settings, run_consumers=False, run_background=False, start_broker=False
    )
    console_settings = ConsoleSettings(environment="development", log_level="WARNING")
    console = create_console(console_settings, store_transport=httpx.ASGITransport(app=store))
    async with (
        store.router.lifespan_context(store),
        console.router.lifespan_context(console),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=console), base_url="http://console"
        ) as browser,
    ):
        signed = await browser.get(f"/dev/sign-in?org={org}")
        assert signed.status_code == 303, signed.text
        for _ in range(5):  # warm: the catalog is fetched once, the pool opens
            await browser.get(HUB)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            page = await browser.get(HUB)
            times.append((time.perf_counter() - started) * 1000)
            assert page.status_code == 200
        assert page.text.count('class="row"') == connected, "every integration listed"
        assert page.text.count(">Connected<") == connected, "every integration connected"
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "connected": connected,
    }


async def figures(scale: float) -> dict[str, dict[str, object]]:
    requests = max(40, int(400 * scale))
    with _postgres() as server:
        name = f"bench_console_{uuid.uuid4().hex[:10]}"
        url = create_database(server, name)
        try:
            measured = await _measure(url, requests)
        finally:
            drop_database(server, name)
    return {
        "console_hub_p95_ms": {
            "value": round(measured["p95"], 2),
            "unit": "ms",
            "goal": 50.0,
            "better": "lower",
        },
    }


if __name__ == "__main__":
    import sys

    print(asyncio.run(figures(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)))
