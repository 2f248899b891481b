"""Wiring: the only place that builds the key ring, the outbound HTTP, the broker and the API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, load_catalog
from hub_keyring import KeyRing
from hub_providers import OutboundHttp, policy_for
from hub_providers.outbound import Resolver, resolve
from hub_runtime import create_broker, create_tracer_provider
from opentelemetry.sdk.trace import TracerProvider

from health_monitor import handlers
from health_monitor.adapters.events import BrokerPublisher
from health_monitor.adapters.prober import ProviderProber
from health_monitor.http import router
from health_monitor.service import HealthMonitor, Platform, Policy
from health_monitor.settings import MonitorSettings, PlatformCredentials


@dataclass
class Components:
    """What the app runs; tests reach in to drive parts directly."""

    settings: MonitorSettings
    catalog: Catalog
    broker: KafkaBroker
    http: OutboundHttp
    monitor: HealthMonitor
    started: bool = False


def policy(settings: MonitorSettings) -> Policy:
    return Policy(
        max_concurrency=settings.max_concurrency,
        per_provider_concurrency=settings.per_provider_concurrency,
        attempts=settings.attempts,
        retry_base_delay_s=settings.retry_base_delay_s,
        retry_max_delay_s=settings.retry_max_delay_s,
        memory_size=settings.memory_size,
        memory_grace_s=settings.memory_grace_s,
    )


def create_app(
    settings: MonitorSettings,
    *,
    catalog: Catalog | None = None,
    platform: Platform | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = resolve,
    tracer_provider: TracerProvider | None = None,
    start_broker: bool = True,
) -> FastAPI:
    """``transport``/``resolver`` replace the network (tests: the in-process sandbox);
    ``start_broker=False`` serves health and metrics only (nothing is consumed)."""
    provider = tracer_provider or create_tracer_provider(
        settings.service_name, otlp_endpoint=settings.otel_exporter_otlp_endpoint
    )
    catalog = catalog or load_catalog(base_url_override=settings.provider_base_url_override)
    outbound = OutboundHttp(
        catalog,
        policy_for(
            catalog,
            connect_timeout_s=settings.outbound_connect_timeout_s,
            total_timeout_s=settings.outbound_total_timeout_s,
            max_response_bytes=settings.outbound_max_response_bytes,
        ),
        transport=transport
        or httpx.AsyncHTTPTransport(
            verify=True,
            retries=0,
            limits=httpx.Limits(
                max_connections=settings.max_concurrency,
                max_keepalive_connections=settings.max_concurrency,
            ),
        ),
        resolver=resolver,
    )
    broker = create_broker(settings, tracer_provider=provider)
    monitor = HealthMonitor(
        catalog,
        KeyRing.from_spec(settings.credential_keys),
        platform or PlatformCredentials.from_environment(catalog),
        ProviderProber(outbound),
        BrokerPublisher(broker),
        policy=policy(settings),
        tracer_provider=provider,
    )
    parts = Components(settings, catalog, broker, outbound, monitor)
    if start_broker:
        handlers.register(broker, settings, monitor)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_broker:
            await broker.start()
            parts.started = True
        try:
            yield
        finally:
            parts.started = False
            if start_broker:
                await broker.stop()
            await outbound.aclose()
            provider.shutdown()

    app = FastAPI(
        title="health-monitor",
        version="1",
        description="Health checks of every brand's connections; transitions to the bus.",
        lifespan=lifespan,
    )
    app.state.components = parts
    app.include_router(router)
    return app
