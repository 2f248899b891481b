"""Wiring: the only place that builds the key ring, the outbound HTTP, the broker and the API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, PlatformCredentials, load_catalog
from hub_keyring import KeyRing
from hub_providers import OutboundHttp, PinnedTransport, policy_for
from hub_providers.outbound import Resolver, resolve
from hub_runtime import create_broker, create_tracer_provider
from hub_runtime.asyncapi import serve_asyncapi
from hub_runtime.lag import watch_consumer_lag
from hub_runtime.loop import repeat
from opentelemetry.sdk.trace import TracerProvider

from health_monitor import handlers, http
from health_monitor.adapters.prober import ProviderProber
from health_monitor.adapters.publisher import BrokerPublisher
from health_monitor.service import HealthMonitor, PlatformAccounts, Policy
from health_monitor.settings import MonitorSettings

TITLE = "health-monitor"


@dataclass(frozen=True)
class Components:
    """Every object the app runs, built once; tests build their own to drive parts directly."""

    catalog: Catalog
    tracer_provider: TracerProvider
    outbound: OutboundHttp
    broker: KafkaBroker
    monitor: HealthMonitor
    platform_accounts: PlatformAccounts


def build(
    settings: MonitorSettings,
    *,
    catalog: Catalog | None = None,
    platform_credentials: PlatformCredentials | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = resolve,
    tracer_provider: TracerProvider | None = None,
) -> Components:
    """``transport``/``resolver`` replace the network (tests: the in-process sandbox)."""
    tracer_provider = tracer_provider or create_tracer_provider(
        settings.service_name,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        traces_file=settings.otel_traces_file,
    )
    catalog = catalog or load_catalog(base_url_override=settings.provider_base_url_override)
    outbound = OutboundHttp.configured(
        catalog, settings, transport=transport or _transport(settings, catalog), resolver=resolver
    )
    broker = create_broker(settings, tracer_provider=tracer_provider)
    monitor = HealthMonitor(
        catalog,
        KeyRing.from_spec(settings.credential_keys),
        platform_credentials or PlatformCredentials.from_environment(catalog),
        ProviderProber(outbound),
        BrokerPublisher(broker),
        policy=_policy(settings),
        tracer_provider=tracer_provider,
    )
    accounts = PlatformAccounts(catalog, monitor, monitor.metrics)
    return Components(catalog, tracer_provider, outbound, broker, monitor, accounts)


def create_app(settings: MonitorSettings, *, components: Components | None = None) -> FastAPI:
    """The API, with the consumer on its broker; ``components`` default to ``build(settings)``."""
    parts = components or build(settings)
    parts.broker.include_router(handlers.router(settings, parts.monitor))
    app = FastAPI(
        title=TITLE,
        version="1",
        description="Health checks of every brand's connections; transitions to the bus.",
        lifespan=_lifespan(parts, settings),
    )
    watch_consumer_lag(parts.monitor.metrics, parts.broker)
    app.include_router(http.router(parts.broker, parts.monitor.metrics))
    serve_asyncapi(app, parts.broker, title=TITLE)
    return app


def _transport(settings: MonitorSettings, catalog: Catalog) -> httpx.AsyncBaseTransport:
    """Pooled, as many connections as provider calls may be in flight."""
    return PinnedTransport(
        policy_for(catalog).trusted_hosts,
        limits=httpx.Limits(
            max_connections=settings.max_concurrency,
            max_keepalive_connections=settings.max_concurrency,
        ),
    )


def _policy(settings: MonitorSettings) -> Policy:
    return Policy(
        max_concurrency=settings.max_concurrency,
        per_provider_concurrency=settings.per_provider_concurrency,
        attempts=settings.attempts,
        retry_base_delay_s=settings.retry_base_delay_s,
        retry_max_delay_s=settings.retry_max_delay_s,
        memory_size=settings.memory_size,
        memory_grace_s=settings.memory_grace_s,
    )


def _lifespan(parts: Components, settings: MonitorSettings) -> Callable[[FastAPI], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await parts.broker.start()
        accounts = asyncio.create_task(
            repeat(
                parts.platform_accounts.tick,
                name="platform account checks",
                interval_s=settings.platform_check_interval_s,
                max_backoff_s=settings.platform_check_interval_s,
            )
        )
        try:
            yield
        finally:
            accounts.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await accounts
            await parts.broker.stop()
            await parts.outbound.aclose()
            parts.tracer_provider.shutdown()

    return lifespan
