"""Wiring: builds every object once — the outbound client, the broker, the flow store, the use
cases, the consumers and the API — and starts and stops them with the app.

Tests may pass ``flows`` and ``events`` (in-memory fakes: then neither PostgreSQL nor the broker
is used), an ``outbound_transport`` (the provider sandbox in process), ``platform`` credentials,
a ``tracer_provider`` and a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, PlatformCredentials, load_catalog
from hub_keyring import KeyRing, SubmissionKeys
from hub_providers import OutboundHttp
from hub_providers.outbound import Resolver, resolve
from hub_runtime import create_broker, create_tracer_provider
from hub_runtime.asyncapi import serve_asyncapi
from hub_runtime.bearer import TokenVerifier
from hub_runtime.lag import watch_consumer_lag
from hub_runtime.login_role import prepare_database
from hub_runtime.loop import repeat
from hub_runtime.outbox.relay import Relay
from opentelemetry.sdk.trace import TracerProvider

from oauth_gateway import domain, handlers, http
from oauth_gateway.adapters.credentials import StoreCredentials
from oauth_gateway.adapters.events import BrokerEvents, OutboxEvents
from oauth_gateway.adapters.listings import CatalogListings
from oauth_gateway.adapters.pending_flows import OUTBOX, PostgresPendingFlows, migrate
from oauth_gateway.adapters.providers import CatalogProviders
from oauth_gateway.errors import REALM
from oauth_gateway.metrics import GatewayMetrics
from oauth_gateway.service import (
    Events,
    KeyConnections,
    OAuthFlows,
    PendingFlows,
    Resources,
    Revocations,
)
from oauth_gateway.service.ports import SealedCredentials
from oauth_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

TITLE = "oauth-gateway"
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: GatewaySettings,
    *,
    catalog: Catalog | None = None,
    platform: PlatformCredentials | None = None,
    tracer_provider: TracerProvider | None = None,
    outbound_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = resolve,
    flows: PendingFlows | None = None,
    events: Events | None = None,
    credentials: SealedCredentials | None = None,
    now: Callable[[], datetime] = utcnow,
) -> FastAPI:
    catalog = catalog or load_catalog(base_url_override=settings.provider_base_url_override)
    platform = platform or PlatformCredentials.from_environment(catalog)
    tracer = tracer_provider or create_tracer_provider(
        settings.service_name,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        traces_file=settings.otel_traces_file,
    )
    outbound = OutboundHttp.configured(
        catalog, settings, transport=outbound_transport, resolver=resolver
    )
    broker = create_broker(settings, tracer_provider=tracer) if events is None else None
    database = (
        PostgresPendingFlows(settings.database_url, pool_size=settings.database_pool_size)
        if flows is None
        else None
    )
    ring = KeyRing.from_spec(settings.credential_keys)
    providers = CatalogProviders(outbound)
    sink: Events
    if events is not None:
        sink = events
    elif database is not None:
        sink = OutboxEvents(database)
    else:
        sink = BrokerEvents(_present(broker))
    keys = KeyConnections(
        catalog=catalog,
        platform=platform,
        ring=ring,
        providers=providers,
        events=sink,
        retry_attempts=settings.provider_retry_attempts,
        retry_max_delay_s=settings.provider_retry_max_delay_s,
        submission_keys=(
            SubmissionKeys.from_spec(settings.submission_keys)
            if settings.submission_keys is not None
            else None
        ),
        accept_symmetric=settings.symmetric_submissions,
    )
    metrics = GatewayMetrics()
    if broker is not None:
        watch_consumer_lag(metrics, broker)
    oauth = OAuthFlows(
        catalog=catalog,
        platform=platform,
        ring=ring,
        providers=providers,
        events=sink,
        flows=flows if flows is not None else _present(database),
        codec=domain.StateCodec(settings.state_secret),
        returns=domain.ReturnUrls(settings.return_origins, settings.default_return_url),
        redirect_base=settings.redirect_base,
        flow_ttl=timedelta(seconds=settings.flow_ttl_s),
        now=now,
        metrics=metrics,
        expiry_batch=settings.expiry_batch,
        claim_grace_s=settings.claim_grace_s,
    )
    owned_store = None
    store = credentials
    if store is None:
        owned_store = store = StoreCredentials(settings.store_url, settings.service_token_secret)
    resources = Resources(
        catalog=catalog,
        platform=platform,
        ring=ring,
        credentials=store,
        listings=CatalogListings(outbound),
        ttl_s=settings.resource_cache_s,
    )
    api = http.Api(settings, _verifier(settings), oauth, keys, resources)
    app = FastAPI(
        title=TITLE,
        version="1",
        description="Connect providers: OAuth with signed state and PKCE, API-key validation.",
        lifespan=_lifespan(
            settings,
            api,
            outbound=outbound,
            owned_store=owned_store,
            database=database,
            broker=broker,
            owned_tracer=tracer if tracer_provider is None else None,
        ),
    )
    http.install(app, api, metrics, tracer_provider=tracer)
    if broker is not None:
        revocations = Revocations(
            catalog=catalog, platform=platform, ring=ring, providers=providers
        )
        broker.include_router(handlers.router(settings, keys, revocations, tracer_provider=tracer))
        serve_asyncapi(app, broker, title=TITLE)
    return app


def _lifespan(
    settings: GatewaySettings,
    api: http.Api,
    *,
    outbound: OutboundHttp,
    owned_store: StoreCredentials | None,
    database: PostgresPendingFlows | None,
    broker: KafkaBroker | None,
    owned_tracer: TracerProvider | None,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Start what the app runs on (PostgreSQL and its purge, the broker), mark it ready, and
    stop everything in reverse order."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(outbound.aclose)
            if owned_store is not None:
                stack.push_async_callback(owned_store.aclose)
            if owned_tracer is not None:
                stack.callback(owned_tracer.shutdown)
            if database is not None:
                await _open(database, settings, stack)
            if broker is not None:
                await broker.start()
                stack.push_async_callback(broker.stop)
            if database is not None and broker is not None:
                _relay(database, broker, settings, stack)
            if database is not None:
                _expiry(api.oauth, settings, stack)
            api.ping = database.ping if database is not None else _nothing
            stack.callback(setattr, api, "ping", None)
            yield

    return lifespan


def _verifier(settings: GatewaySettings) -> TokenVerifier[http.Principal]:
    return TokenVerifier(
        settings.jwt_secret,
        realm=REALM,
        principal=http.Principal,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        scope_claim="a string",
    )


async def _open(
    database: PostgresPendingFlows, settings: GatewaySettings, stack: contextlib.AsyncExitStack
) -> None:
    """Migrate, open the pool and run the purge until the app stops."""
    await prepare_database(settings, migrate)
    await database.open()
    stack.push_async_callback(database.close)
    purge = asyncio.create_task(_purge(database, settings))
    stack.push_async_callback(_cancel, purge)


def _relay(
    database: PostgresPendingFlows,
    broker: KafkaBroker,
    settings: GatewaySettings,
    stack: contextlib.AsyncExitStack,
) -> None:
    """Publish the outbox until the app stops (stopped before the broker)."""
    relay = Relay(
        database.transaction,
        broker,
        table=OUTBOX,
        batch_size=settings.outbox_batch_size,
        timeout_s=settings.outbox_ack_timeout_s,
        retain_sent_s=settings.outbox_retain_sent_s,
    )
    task = asyncio.create_task(
        repeat(
            relay.tick,
            name="outbox relay",
            interval_s=settings.outbox_interval_s,
            max_backoff_s=settings.outbox_max_backoff_s,
        )
    )
    stack.push_async_callback(_cancel, task)


def _expiry(oauth: OAuthFlows, settings: GatewaySettings, stack: contextlib.AsyncExitStack) -> None:
    """End abandoned flows with ``connection.failed`` until the app stops."""
    task = asyncio.create_task(
        repeat(
            oauth.expire_due,
            name="flow expiry",
            interval_s=settings.expiry_interval_s,
            max_backoff_s=settings.outbox_max_backoff_s,
        )
    )
    stack.push_async_callback(_cancel, task)


async def _purge(store: PostgresPendingFlows, settings: GatewaySettings) -> None:
    while True:
        await asyncio.sleep(settings.purge_interval_s)
        try:
            removed = await store.purge(settings.flow_retention_s)
            if removed:
                log.info("expired flows purged", extra={"count": removed})
        except Exception as exc:
            log.warning("flow purge failed", extra={"error": type(exc).__name__})


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _nothing() -> None:
    """Readiness of in-memory flows: nothing to ask."""


def _present(value: T | None) -> T:
    assert value is not None
    return value
