"""Wiring: builds every object once (database, broker, clients, use cases, routers)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, load_catalog
from hub_keyring import KeyRing
from hub_providers import OutboundHttp
from hub_runtime import create_broker, create_tracer_provider
from hub_runtime.asyncapi import serve_asyncapi
from hub_runtime.http_api import install_error_handlers
from hub_runtime.lag import watch_consumer_lag
from hub_runtime.login_role import prepare_database
from opentelemetry.sdk.trace import TracerProvider

from notifier import handlers, http
from notifier.adapters.database import PostgresDatabase, migrate
from notifier.adapters.directory import StoreDirectory
from notifier.adapters.senders import ChannelSenders, SmtpConfig
from notifier.domain.deliveries import RetryPolicy
from notifier.domain.routing import PlatformChannels
from notifier.metrics import PrometheusMetrics
from notifier.service.dispatcher import Dispatcher
from notifier.service.planner import Planner
from notifier.service.ports import Directory
from notifier.service.triage import Triage
from notifier.service.worker import Worker
from notifier.settings import NotifierSettings


def create_app(
    settings: NotifierSettings,
    *,
    catalog: Catalog | None = None,
    outbound: OutboundHttp | None = None,
    directory: Directory | None = None,
    tracer_provider: TracerProvider | None = None,
    run_consumers: bool = True,
    run_worker: bool = True,
    start_broker: bool = True,
) -> FastAPI:
    """``outbound`` and ``directory`` replace the provider transport and connection-store in
    tests; ``run_worker=False`` leaves planning and delivering to the caller."""
    tracing = tracer_provider or create_tracer_provider(
        settings.service_name,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        traces_file=settings.otel_traces_file,
    )
    catalog = catalog or load_catalog(base_url_override=settings.provider_base_url_override)
    broker = create_broker(settings, tracer_provider=tracing)
    database = PostgresDatabase(settings.database_url, pool_size=settings.database_pool_size)
    providers = outbound or OutboundHttp(catalog)
    store = StoreDirectory(settings.store_url, settings.service_token_secret)
    metrics = PrometheusMetrics()
    worker = _worker(settings, catalog, database, directory or store, providers, metrics, tracing)
    triage = Triage(
        database,
        metrics,
        reminder_interval=timedelta(seconds=settings.reminder_interval_s),
        wake=worker.wake,
    )
    if run_consumers:
        broker.include_router(handlers.router(settings, triage, tracer_provider=tracing))

    app = FastAPI(
        title="notifier",
        version="1",
        description="Tells people when a connection needs attention (Slack, email).",
        lifespan=_lifespan(
            settings,
            database,
            broker if start_broker else None,
            worker if run_worker else None,
            clients=[store] if outbound is not None else [store, providers],
            tracing=tracing,
        ),
    )
    install_error_handlers(app)
    watch_consumer_lag(metrics, broker)
    app.include_router(http.router(database, worker, metrics))
    serve_asyncapi(app, broker, title="notifier")
    return app


def _worker(
    settings: NotifierSettings,
    catalog: Catalog,
    database: PostgresDatabase,
    directory: Directory,
    providers: OutboundHttp,
    metrics: PrometheusMetrics,
    tracing: TracerProvider,
) -> Worker:
    """The planner and the dispatcher, in the loop that runs them."""
    retry = RetryPolicy(settings.max_attempts, settings.retry_base_s, settings.retry_max_s)
    lease = timedelta(seconds=settings.send_lease_s)
    keys = settings.credential_keys
    senders = ChannelSenders(
        providers,
        KeyRing.from_spec(keys) if keys is not None else None,
        slack_webhook_url=settings.slack_webhook_url,
        resend_api_key=settings.resend_api_key,
        smtp=_smtp(settings),
    )
    planner = Planner(
        database,
        directory,
        metrics,
        platform=_platform_channels(settings),
        provider_names={p.id: p.name for p in catalog.providers},
        admin_base_url=settings.admin_base_url,
        retry=retry,
        lease=lease,
        batch_size=settings.batch_size,
    )
    dispatcher = Dispatcher(
        database,
        directory,
        senders,
        metrics,
        retry=retry,
        lease=lease,
        batch_size=settings.batch_size,
        tracer_provider=tracing,
    )
    return Worker(planner, dispatcher, interval_s=settings.worker_interval_s)


def _lifespan(
    settings: NotifierSettings,
    database: PostgresDatabase,
    broker: KafkaBroker | None,
    worker: Worker | None,
    *,
    clients: Sequence[StoreDirectory | OutboundHttp],
    tracing: TracerProvider,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Migrate, open, start; on the way out stop, close the HTTP clients we own, shut down."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare_database(settings, migrate)
        await database.open()
        if broker is not None:
            await broker.start()
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            if broker is not None:
                await broker.stop()
            for client in clients:
                await client.aclose()
            await database.close()
            tracing.shutdown()

    return lifespan


def _platform_channels(settings: NotifierSettings) -> PlatformChannels:
    return PlatformChannels(
        slack_webhook=settings.slack_webhook_url is not None,
        resend=settings.resend_api_key is not None,
        smtp=settings.smtp_host is not None,
        email_from=settings.email_from,
    )


def _smtp(settings: NotifierSettings) -> SmtpConfig | None:
    if settings.smtp_host is None:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_starttls,
        use_tls=settings.smtp_tls,
        timeout_s=settings.smtp_timeout_s,
    )
