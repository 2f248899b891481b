"""Wiring: builds every object once (catalog, broker, database, use cases, routers, background
loops) and starts and stops them with the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, PlatformCredentials, load_catalog
from hub_keyring import KeyRing
from hub_runtime import create_broker, create_tracer_provider
from hub_runtime.asyncapi import serve_asyncapi
from hub_runtime.lag import watch_consumer_lag
from hub_runtime.login_role import prepare_database
from hub_runtime.loop import repeat
from opentelemetry.sdk.trace import TracerProvider

from connection_store import handlers, http
from connection_store.adapters.database import Database
from connection_store.adapters.listings import GatewayListings
from connection_store.adapters.measurements import measure
from connection_store.adapters.migrations import migrate
from connection_store.adapters.refresh_signals import PostgresRefreshSignals
from connection_store.adapters.relay import OUTBOX, Relay
from connection_store.adapters.store import PostgresStore
from connection_store.auth import ServiceTokens, user_verifier
from connection_store.domain import RateLimits
from connection_store.metrics import BACKLOG_CAP, OVERDUE_AFTER_S, StoreMetrics
from connection_store.service.connections import ConnectionEvents
from connection_store.service.credentials import Credentials
from connection_store.service.due import DueWork
from connection_store.service.integrations import Integrations
from connection_store.service.notifications import Notifications
from connection_store.service.ports import Listings
from connection_store.service.sweeps import Sweeper
from connection_store.settings import StoreSettings

TITLE = "connection-store"
Background = Callable[[], Coroutine[Any, Any, None]]


def create_app(
    settings: StoreSettings,
    *,
    catalog: Catalog | None = None,
    platform: PlatformCredentials | None = None,
    listings: Listings | None = None,
    ring: KeyRing | None = None,
    tracer_provider: TracerProvider | None = None,
    run_consumers: bool = True,
    run_background: bool = True,
    start_broker: bool = True,
) -> FastAPI:
    """``start_broker=False`` (with ``run_consumers`` and ``run_background`` off) serves the API
    with PostgreSQL alone: events still go to the outbox, nothing publishes them. ``platform``
    (the environment's by default) says which shared platform accounts are configured; ``ring``
    (``CREDENTIAL_KEYS`` by default) is what the credentials API decrypts with."""
    tracing = tracer_provider or create_tracer_provider(
        settings.service_name,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        traces_file=settings.otel_traces_file,
    )
    catalog = catalog or load_catalog(base_url_override=settings.provider_base_url_override)
    broker = create_broker(settings, tracer_provider=tracing)
    db = Database()
    store = PostgresStore(db)
    due = DueWork(
        catalog,
        check_interval_s=settings.check_interval_s,
        check_jitter=settings.check_jitter,
        refresh_retry_s=settings.refresh_retry_s,
    )
    if run_consumers:
        broker.include_router(
            handlers.router(settings, _events(settings, catalog, store), tracer_provider=tracing)
        )
    platform = platform or PlatformCredentials.from_environment(catalog)
    listings = listings or GatewayListings(settings.gateway_url)
    if ring is None and settings.credential_keys is not None:
        ring = KeyRing.from_spec(settings.credential_keys)
    metrics = _metrics(db, broker)
    signals = PostgresRefreshSignals(settings.database_url)
    credentials = Credentials(
        store,
        catalog,
        due,
        ring,
        signals,
        metrics,
        platform,
        wait_s=settings.credentials_wait_s,
        retry_after_s=settings.credentials_retry_after_s,
        poll_s=settings.credentials_poll_s,
    )
    api = _api(
        settings, catalog, store, due, platform.shared_providers(catalog), listings, credentials
    )
    background = (
        _background(settings, db, store, due, broker, tracing, metrics) if run_background else []
    )

    app = FastAPI(
        title=TITLE,
        version="1",
        description="Connection state of every brand's integrations.",
        lifespan=_lifespan(
            settings, db, api, broker if start_broker else None, background, tracing, signals
        ),
    )
    app.state.db = db  # tests reach the database through the app they started
    http.install(
        app,
        api,
        metrics,
        max_body_bytes=settings.max_body_bytes,
        tracer_provider=tracing,
    )
    serve_asyncapi(app, broker, title=TITLE)
    return app


def _metrics(db: Database, broker: KafkaBroker) -> StoreMetrics:
    """The families, with the PostgreSQL readings and the consumer lag refreshed per scrape."""
    metrics = StoreMetrics()

    async def refresh() -> None:
        if not db.is_open:
            return
        now = datetime.now(UTC)
        read = await measure(db, now, overdue_after_s=OVERDUE_AFTER_S, cap=BACKLOG_CAP)
        metrics.due.labels("refresh").set(read.refresh_due)
        metrics.due.labels("check").set(read.check_due)
        metrics.overdue.labels("refresh").set(read.refresh_overdue)
        metrics.overdue.labels("check").set(read.check_overdue)
        metrics.outbox_depth.set(read.outbox_unsent)
        metrics.outbox_age.set(read.outbox_oldest_age_s)
        metrics.connections.clear()
        for (provider, status), count in read.connections.items():
            metrics.connections.labels(provider, status).set(count)

    metrics.on_scrape(refresh)
    watch_consumer_lag(metrics, broker)
    return metrics


def _events(settings: StoreSettings, catalog: Catalog, store: PostgresStore) -> ConnectionEvents:
    """What the Kafka entry points call."""
    return ConnectionEvents(
        store,
        catalog,
        check_interval_s=settings.check_interval_s,
        check_jitter=settings.check_jitter,
    )


def _api(
    settings: StoreSettings,
    catalog: Catalog,
    store: PostgresStore,
    due: DueWork,
    shared: frozenset[str],
    listings: Listings,
    credentials: Credentials,
) -> http.Api:
    """What the routes call: the token verifier, the REST use cases, the per-service rate."""
    return http.Api(
        catalog=catalog,
        verifier=user_verifier(settings.jwt_secret, settings.jwt_audience, settings.jwt_issuer),
        service_token_secret=settings.service_token_secret,
        integrations=Integrations(store, catalog, due, shared=shared, listings=listings),
        notifications=Notifications(store, catalog),
        credentials=credentials,
        limits=RateLimits(settings.credentials_rate_per_s, settings.credentials_burst),
        service_tokens=ServiceTokens(settings.service_token_secret),
    )


def _background(
    settings: StoreSettings,
    db: Database,
    store: PostgresStore,
    due: DueWork,
    broker: KafkaBroker,
    tracing: TracerProvider,
    metrics: StoreMetrics,
) -> list[Background]:
    """The sweeps (and the audit's retention) and the outbox relay, each on its own timer."""
    sweeper = Sweeper(
        store,
        due,
        batch_size=settings.sweep_batch_size,
        tracer_provider=tracing,
        reads_retention_s=settings.credential_reads_retain_days * 86400.0,
        on_purged=metrics.purged_reads.inc,
    )
    relay = Relay(
        db.worker,
        broker,
        table=OUTBOX,
        batch_size=settings.outbox_batch_size,
        timeout_s=settings.outbox_ack_timeout_s,
        retain_sent_s=settings.outbox_retain_sent_s,
    )
    return [
        lambda: repeat(
            sweeper.tick, name="sweep", interval_s=settings.sweep_interval_s, max_backoff_s=60.0
        ),
        lambda: repeat(
            relay.tick,
            name="outbox relay",
            interval_s=settings.outbox_interval_s,
            max_backoff_s=30.0,
        ),
    ]


def _lifespan(
    settings: StoreSettings,
    db: Database,
    api: http.Api,
    broker: KafkaBroker | None,
    background: Sequence[Background],
    tracing: TracerProvider,
    signals: PostgresRefreshSignals,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Migrate, open the pool, start the broker and the loops; on the way out the reverse."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare_database(settings, migrate)
        await db.open(settings.database_url, size=settings.database_pool_size)
        api.ping = db.ping
        await signals.start()
        if broker is not None:
            await broker.start()
        tasks = [asyncio.create_task(work()) for work in background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if broker is not None:
                await broker.stop()
            api.ping = None
            await signals.stop()
            await db.close()
            tracing.shutdown()

    return lifespan
