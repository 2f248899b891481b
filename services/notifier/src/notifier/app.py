"""Wiring: the only place that builds the pool, the broker, the senders and the worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, load_catalog
from hub_keyring import KeyRing
from hub_providers import OutboundHttp
from hub_runtime import create_broker, create_tracer_provider
from opentelemetry.sdk.trace import TracerProvider

from notifier.adapters.postgres import PostgresRepository, create_pool, migrate
from notifier.adapters.senders import ChannelSenders, SmtpConfig
from notifier.adapters.store import StoreDirectory
from notifier.domain import Platform, RetryPolicy
from notifier.handlers import Handlers
from notifier.http import router
from notifier.metrics import PrometheusMetrics
from notifier.service import Directory, Notifier
from notifier.settings import NotifierSettings
from notifier.worker import Worker


@dataclass
class Components:
    """What the app runs; tests reach in to drive parts directly."""

    settings: NotifierSettings
    catalog: Catalog
    broker: KafkaBroker
    metrics: PrometheusMetrics
    pool: asyncpg.Pool | None = None
    notifier: Notifier | None = None
    worker: Worker | None = None
    worker_task: asyncio.Task[None] | None = None


def platform(settings: NotifierSettings) -> Platform:
    return Platform(
        slack_webhook=settings.slack_webhook_url is not None,
        resend=settings.resend_api_key is not None,
        smtp=settings.smtp_host is not None,
        email_from=settings.email_from,
    )


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
    tests; ``run_worker=False`` leaves planning and delivering to the test (``worker.once()``)."""
    provider = tracer_provider or create_tracer_provider(
        settings.service_name, otlp_endpoint=settings.otel_exporter_otlp_endpoint
    )
    parts = Components(
        settings=settings,
        catalog=catalog or load_catalog(base_url_override=settings.provider_base_url_override),
        broker=create_broker(settings, tracer_provider=provider),
        metrics=PrometheusMetrics(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await migrate(settings.database_url)
        parts.pool = await create_pool(settings.database_url, size=settings.database_pool_size)
        http = outbound or OutboundHttp(parts.catalog)
        store = StoreDirectory(settings.store_url, settings.service_token_secret)
        keys = settings.credential_keys
        notifier = Notifier(
            repository=PostgresRepository(parts.pool),
            directory=directory or store,
            senders=ChannelSenders(
                http,
                KeyRing.from_spec(keys) if keys is not None else None,
                slack_webhook_url=settings.slack_webhook_url,
                resend_api_key=settings.resend_api_key,
                smtp=_smtp(settings),
            ),
            platform=platform(settings),
            provider_names={p.id: p.name for p in parts.catalog.providers},
            admin_base_url=settings.admin_base_url,
            reminder_interval=timedelta(seconds=settings.reminder_interval_s),
            retry=RetryPolicy(settings.max_attempts, settings.retry_base_s, settings.retry_max_s),
            send_lease=timedelta(seconds=settings.send_lease_s),
            batch_size=settings.batch_size,
            metrics=parts.metrics,
        )
        parts.notifier = notifier
        parts.worker = Worker(notifier, interval_s=settings.worker_interval_s)
        notifier.wake = parts.worker.wake
        if run_consumers:
            Handlers(notifier).register(parts.broker, settings)
        if start_broker:
            await parts.broker.start()
        if run_worker:
            parts.worker_task = asyncio.create_task(parts.worker.run())
        try:
            yield
        finally:
            if parts.worker_task is not None:
                parts.worker_task.cancel()
                await asyncio.gather(parts.worker_task, return_exceptions=True)
            if start_broker:
                await parts.broker.stop()
            await store.aclose()
            if outbound is None:
                await http.aclose()
            await parts.pool.close()
            provider.shutdown()

    app = FastAPI(
        title="notifier",
        version="1",
        description="Tells people when a connection needs attention (Slack, email).",
        lifespan=lifespan,
    )
    app.state.components = parts
    app.include_router(router)
    return app


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
