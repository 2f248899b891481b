"""Wiring: the only place that builds the pool, the broker, the outbound client and the API.

``create_app(settings)`` runs against PostgreSQL and the broker. Tests may pass ``flows`` and
``events`` (in-memory fakes: then neither is started), an ``outbound_transport`` (the provider
sandbox in process), ``platform`` credentials, a ``tracer_provider`` and a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, load_catalog
from hub_keyring import KeyRing
from hub_providers import OutboundHttp, policy_for
from hub_providers.outbound import Resolver, resolve
from hub_runtime import create_broker, create_tracer_provider
from opentelemetry.sdk.trace import TracerProvider
from starlette.middleware.cors import CORSMiddleware

from oauth_gateway import consumers, domain
from oauth_gateway.adapters.events import BrokerEvents
from oauth_gateway.adapters.flows import PostgresFlowStore, create_pool, migrate
from oauth_gateway.adapters.providers import CatalogProviders
from oauth_gateway.http import install_api
from oauth_gateway.service import (
    EventSink,
    FlowStore,
    KeyConnections,
    OAuthFlows,
    Revocations,
    Toolkit,
)
from oauth_gateway.service.toolkit import utcnow
from oauth_gateway.settings import GatewaySettings, PlatformCredentials
from oauth_gateway.telemetry import ServerSpans

log = logging.getLogger(__name__)


@dataclass
class Components:
    """What the app runs; tests reach in to drive parts directly."""

    settings: GatewaySettings
    catalog: Catalog
    tracer_provider: TracerProvider
    http: OutboundHttp
    tools: Toolkit
    keys: KeyConnections
    broker: KafkaBroker | None = None
    oauth: OAuthFlows | None = None
    database: PostgresFlowStore | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def create_app(
    settings: GatewaySettings,
    *,
    catalog: Catalog | None = None,
    platform: PlatformCredentials | None = None,
    tracer_provider: TracerProvider | None = None,
    outbound_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = resolve,
    flows: FlowStore | None = None,
    events: EventSink | None = None,
    run_consumers: bool = True,
    now: Callable[[], datetime] = utcnow,
) -> FastAPI:
    catalog = catalog or load_catalog(base_url_override=settings.provider_base_url_override)
    owns_tracer = tracer_provider is None
    tracer = tracer_provider or create_tracer_provider(
        settings.service_name, otlp_endpoint=settings.otel_exporter_otlp_endpoint
    )
    http = OutboundHttp(
        catalog,
        policy_for(
            catalog,
            connect_timeout_s=settings.outbound_connect_timeout_s,
            total_timeout_s=settings.outbound_total_timeout_s,
            max_response_bytes=settings.outbound_max_response_bytes,
        ),
        transport=outbound_transport,
        resolver=resolver,
    )
    broker: KafkaBroker | None = None
    sink: EventSink
    if events is None:
        broker = create_broker(settings, tracer_provider=tracer)
        sink = BrokerEvents(broker)
    else:
        sink = events
    tools = Toolkit(
        catalog=catalog,
        ring=KeyRing.from_spec(settings.credential_keys),
        providers=CatalogProviders(http),
        platform=platform or PlatformCredentials.from_environment(catalog),
        events=sink,
        now=now,
    )
    keys = KeyConnections(
        tools,
        retry_attempts=settings.provider_retry_attempts,
        retry_max_delay_s=settings.provider_retry_max_delay_s,
    )
    parts = Components(settings, catalog, tracer, http, tools, keys, broker=broker)
    if broker is not None and run_consumers:
        consumers.register(broker, settings, keys, Revocations(tools))

    def oauth_flows(store: FlowStore) -> OAuthFlows:
        return OAuthFlows(
            tools,
            store,
            domain.StateCodec(settings.state_secret),
            domain.ReturnUrls(settings.return_origins, settings.default_return_url),
            redirect_base=settings.redirect_base,
            flow_ttl=timedelta(seconds=settings.flow_ttl_s),
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = None
        if flows is None:
            if settings.migrate_on_start:
                applied = await migrate(settings.database_url)
                if applied:
                    log.info("migrations applied", extra={"migrations": applied})
            pool = await create_pool(settings.database_url, size=settings.database_pool_size)
            parts.database = PostgresFlowStore(pool)
            parts.tasks.append(asyncio.create_task(_purge(parts.database, settings)))
        if broker is not None:
            await broker.start()
        parts.oauth = oauth_flows(flows if flows is not None else _store(parts))
        try:
            yield
        finally:
            parts.oauth = None
            for task in parts.tasks:
                task.cancel()
            await asyncio.gather(*parts.tasks, return_exceptions=True)
            if broker is not None:
                await broker.stop()
            if pool is not None:
                await pool.close()
            await http.aclose()
            if owns_tracer:
                tracer.shutdown()

    app = FastAPI(
        title="oauth-gateway",
        version="1",
        description="Connect providers: OAuth with signed state and PKCE, API-key validation.",
        lifespan=lifespan,
    )
    app.state.components = parts
    install_api(app, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.return_origins,
        allow_credentials=True,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type"],
    )
    app.add_middleware(ServerSpans, tracer_provider=tracer)
    return app


def _store(parts: Components) -> PostgresFlowStore:
    assert parts.database is not None
    return parts.database


async def _purge(store: PostgresFlowStore, settings: GatewaySettings) -> None:
    while True:
        await asyncio.sleep(settings.purge_interval_s)
        try:
            removed = await store.purge(settings.flow_retention_s)
            if removed:
                log.info("expired flows purged", extra={"count": removed})
        except Exception as exc:
            log.warning("flow purge failed", extra={"error": type(exc).__name__})
