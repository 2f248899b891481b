"""Wiring: the only place that builds the pool, the broker, the API and the background loops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, load_catalog
from hub_runtime import create_broker, create_tracer_provider
from opentelemetry.sdk.trace import TracerProvider

from connection_store.adapters.database import Database, create_pool
from connection_store.adapters.migrations import migrate
from connection_store.adapters.outbox import run_relay
from connection_store.consumers import ConnectionEvents
from connection_store.http import install_api
from connection_store.settings import StoreSettings
from connection_store.sweeps import run_sweeps


@dataclass
class Components:
    """What the app runs; tests reach in to drive parts directly."""

    settings: StoreSettings
    catalog: Catalog
    broker: KafkaBroker
    tracer_provider: TracerProvider
    db: Database | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def create_app(
    settings: StoreSettings,
    *,
    catalog: Catalog | None = None,
    tracer_provider: TracerProvider | None = None,
    run_consumers: bool = True,
    run_background: bool = True,
    start_broker: bool = True,
) -> FastAPI:
    """``start_broker=False`` (with ``run_consumers`` and ``run_background`` off) serves the API
    with PostgreSQL alone: events still go to the outbox, nothing publishes them."""
    provider = tracer_provider or create_tracer_provider(
        settings.service_name, otlp_endpoint=settings.otel_exporter_otlp_endpoint
    )
    parts = Components(
        settings=settings,
        catalog=catalog or load_catalog(base_url_override=settings.provider_base_url_override),
        broker=create_broker(settings, tracer_provider=provider),
        tracer_provider=provider,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await migrate(settings.database_url)
        pool = await create_pool(settings.database_url, size=settings.database_pool_size)
        parts.db = Database(pool)
        if run_consumers:
            ConnectionEvents(parts.db, parts.catalog, settings).register(parts.broker)
        if start_broker:
            await parts.broker.start()
        if run_background:
            _spawn(
                parts,
                run_relay(
                    parts.db,
                    parts.broker,
                    interval_s=settings.outbox_interval_s,
                    batch_size=settings.outbox_batch_size,
                    timeout_s=settings.outbox_ack_timeout_s,
                    retain_sent_s=settings.outbox_retain_sent_s,
                ),
            )
            _spawn(parts, run_sweeps(parts.db, parts.catalog, settings, tracer_provider=provider))
        try:
            yield
        finally:
            for task in parts.tasks:
                task.cancel()
            await asyncio.gather(*parts.tasks, return_exceptions=True)
            if start_broker:
                await parts.broker.stop()
            await pool.close()
            provider.shutdown()

    app = FastAPI(
        title="connection-store",
        version="1",
        description="Connection state of every brand's integrations.",
        lifespan=lifespan,
    )
    app.state.components = parts
    install_api(app, max_body_bytes=settings.max_body_bytes)
    return app


def _spawn(parts: Components, work: Awaitable[None]) -> None:
    async def run() -> None:
        await work

    parts.tasks.append(asyncio.create_task(run()))


BackgroundLoop = Callable[[Components], Awaitable[None]]
