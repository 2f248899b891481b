"""Wiring: builds the key ring, the outbound client, the broker and its router, the projection,
the partitions, the refresher and the HTTP app, once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import Catalog, PlatformCredentials, load_catalog
from hub_contracts import Topic
from hub_keyring import KeyRing
from hub_providers import OutboundHttp
from hub_runtime import create_broker, create_tracer_provider
from hub_runtime.asyncapi import serve_asyncapi
from hub_runtime.login_role import prepare_database
from hub_runtime.loop import repeat
from opentelemetry.sdk.trace import TracerProvider

from token_refresher import handlers
from token_refresher.adapters.event_sink import KafkaEvents
from token_refresher.adapters.journal import PostgresJournal, migrate
from token_refresher.adapters.partitions import Partitions
from token_refresher.adapters.projection import RefreshedProjection
from token_refresher.adapters.token_source import ProviderTokens
from token_refresher.domain import SettledVersions
from token_refresher.http import install_routes
from token_refresher.metrics import Metrics
from token_refresher.service import CallLimits, Policy, Refresher
from token_refresher.service.refresher import warn_missing_platform_credentials
from token_refresher.settings import CONSUMER_GROUP, RefresherSettings

TITLE = "token-refresher"
log = logging.getLogger(__name__)


@dataclass
class Components:
    """What the app runs; the probes read it, tests reach in."""

    settings: RefresherSettings
    catalog: Catalog
    platform: PlatformCredentials
    tracer_provider: TracerProvider
    outbound: OutboundHttp
    broker: KafkaBroker
    refresher: Refresher
    projection: RefreshedProjection
    partitions: Partitions
    journal: PostgresJournal
    consuming: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    running: bool = False
    metrics: Metrics = field(init=False)
    settled: SettledVersions = field(init=False)
    limits: CallLimits = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = self.refresher.metrics
        self.settled = self.refresher.settled
        self.limits = self.refresher.limits

    def live(self) -> tuple[bool, dict[str, object]]:
        loops = {
            "projection": not self.consuming or self.projection.alive,
            "consumer": not self.consuming or self.partitions.alive,
        }
        return self.running and all(loops.values()), {"loops": loops}

    def ready(self) -> tuple[bool, dict[str, object]]:
        live, _ = self.live()
        caught_up = self.projection.caught_up_once
        joined = self.partitions.joined
        detail: dict[str, object] = {
            "projection_caught_up": caught_up,
            "joined": joined,
            "partitions": self.partitions.partitions,
        }
        return live and caught_up and joined, detail

    async def render_metrics(self) -> bytes:
        return await self.metrics.scrape()


def create_app(
    settings: RefresherSettings,
    *,
    catalog: Catalog | None = None,
    platform: PlatformCredentials | None = None,
    outbound: OutboundHttp | None = None,
    tracer_provider: TracerProvider | None = None,
    run_consumers: bool = True,
) -> FastAPI:
    """``run_consumers=False`` serves the probes with nothing started behind them (tests of the
    HTTP surface)."""
    parts = _components(settings, catalog, platform, outbound, tracer_provider)
    _register_gauges(parts)
    app = FastAPI(
        title=TITLE,
        version="1",
        description="Refreshes credentials before they expire; probes and metrics only.",
        lifespan=_lifespan(parts, run_consumers=run_consumers, owns_outbound=outbound is None),
    )
    app.state.components = parts
    install_routes(app, parts)
    serve_asyncapi(app, parts.broker, title=TITLE)
    return app


def _components(
    settings: RefresherSettings,
    catalog: Catalog | None,
    platform: PlatformCredentials | None,
    outbound: OutboundHttp | None,
    tracer_provider: TracerProvider | None,
) -> Components:
    tracer = tracer_provider or create_tracer_provider(
        settings.service_name,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        traces_file=settings.otel_traces_file,
    )
    catalog = catalog or load_catalog(base_url_override=settings.provider_base_url_override)
    platform = platform or PlatformCredentials.from_environment(catalog)
    outbound = outbound or OutboundHttp.configured(catalog, settings)
    broker = create_broker(settings, tracer_provider=tracer)
    journal = PostgresJournal(
        settings.database_url,
        pool_size=settings.database_pool_size,
        retry_s=settings.journal_write_timeout_s,
        barrier_warn_s=settings.barrier_timeout_s,
    )
    refresher = Refresher(
        catalog=catalog,
        tokens=ProviderTokens(outbound, KeyRing.from_spec(settings.credential_keys), platform),
        sink=KafkaEvents(broker, timeout_s=settings.publish_timeout_s),
        limits=CallLimits(
            max_concurrency=settings.max_concurrency,
            per_provider_concurrency=settings.per_provider_concurrency,
        ),
        settled=SettledVersions(),
        metrics=Metrics(),
        policy=_policy(settings),
        service_name=settings.service_name,
        journal=journal,
        after_answer=_kill_self
        if settings.fault_injection == "kill_after_provider_answer"
        else None,
    )
    projection = RefreshedProjection(settings, refresher.settled)

    async def before_processing() -> None:
        """A dead owner's journaled renewals are published, then projected, before any record
        of the partitions it held is judged."""
        await journal.drained(
            broker, batch_size=settings.journal_batch_size, timeout_s=settings.journal_ack_timeout_s
        )
        await projection.caught_up()

    partitions = Partitions(settings, before_processing=before_processing, drain=refresher.drain)
    broker.include_router(handlers.router(settings, refresher, partitions, tracer_provider=tracer))
    return Components(
        settings=settings,
        catalog=catalog,
        platform=platform,
        tracer_provider=tracer,
        outbound=outbound,
        broker=broker,
        refresher=refresher,
        projection=projection,
        partitions=partitions,
        journal=journal,
    )


def _kill_self() -> None:
    """The fault-injection hook: die at once, as a crash would (no drain, no commit)."""
    log.warning("fault injection: SIGKILL after the provider answered")
    os.kill(os.getpid(), signal.SIGKILL)


def _policy(settings: RefresherSettings) -> Policy:
    return Policy(
        attempts=settings.attempts,
        retry_base_delay_s=settings.retry_base_delay_s,
        retry_max_delay_s=settings.retry_max_delay_s,
        rate_limit_max_wait_s=settings.rate_limit_max_wait_s,
        rate_limit_default_retry_after_s=settings.rate_limit_default_retry_after_s,
        rate_limit_max_retry_after_s=settings.rate_limit_max_retry_after_s,
        queue_max_wait_s=settings.queue_max_wait_s,
    )


def _lifespan(
    parts: Components, *, run_consumers: bool, owns_outbound: bool
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_consumers:
            await _start(parts)
        parts.running = True
        try:
            yield
        finally:
            parts.running = False
            await _stop(parts)
            if owns_outbound:
                await parts.outbound.aclose()
            parts.tracer_provider.shutdown()

    return lifespan


async def _start(parts: Components) -> None:
    """The projection first (new partitions wait for it), then the broker and its subscriber."""
    warn_missing_platform_credentials(parts.catalog, parts.platform)
    settings = parts.settings
    await prepare_database(settings, migrate)
    await parts.journal.open()
    parts.consuming = True
    await parts.projection.start()
    await parts.partitions.start()
    await parts.broker.start()
    relay = parts.journal.relay(
        parts.broker,
        batch_size=settings.journal_batch_size,
        timeout_s=settings.journal_ack_timeout_s,
    )
    parts.tasks.append(
        asyncio.create_task(
            repeat(
                relay.tick,
                name="journal relay",
                interval_s=settings.journal_interval_s,
                max_backoff_s=settings.journal_max_backoff_s,
            )
        )
    )


async def _stop(parts: Components) -> None:
    """The partitions drain and commit while the broker can still publish outcomes."""
    if not parts.consuming:
        return
    await parts.partitions.stop()
    for task in parts.tasks:  # the relay, after the drained sections journaled their renewals
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    settings = parts.settings
    try:  # publish what the drained sections journaled; else the next owner's drain does
        async with asyncio.timeout(settings.journal_ack_timeout_s):
            await parts.journal.drained(
                parts.broker,
                batch_size=settings.journal_batch_size,
                timeout_s=settings.journal_ack_timeout_s,
            )
    except TimeoutError:
        log.warning("journal not drained at shutdown; the next owner publishes it")
    await parts.broker.stop()
    await parts.projection.stop()
    await parts.journal.close()


def _register_gauges(parts: Components) -> None:
    metrics, limits = parts.metrics, parts.limits

    def single(name: str, documentation: str, read: Callable[[], float]) -> None:
        metrics.reading(name, documentation, [], lambda: [((), float(read()))])

    def per_provider(name: str, documentation: str, read: Callable[..., float]) -> None:
        metrics.reading(
            name,
            documentation,
            ["provider"],
            lambda: [((p,), float(read(gate))) for p, gate in sorted(limits.gates().items())],
        )

    single(
        "in_flight",
        "token.expiring records taken and not finished.",
        lambda: parts.partitions.in_flight,
    )
    per_provider(
        "pending",
        "token.expiring records held per provider (waiting or calling).",
        lambda gate: gate.pending,
    )
    per_provider(
        "provider_calls_in_flight",
        "Provider token calls in flight per provider.",
        lambda gate: gate.in_flight,
    )
    per_provider(
        "rate_limited",
        "1 while a provider is rate limiting us (cool-down or probing).",
        lambda gate: 1.0 if gate.limited else 0.0,
    )
    metrics.reading(
        "consumer_lag",
        "Records not consumed yet, per consumer group and topic (token.expiring: the owned "
        "partitions' records not fetched yet).",
        ["group", "topic"],
        lambda: [((CONSUMER_GROUP, Topic.TOKEN_EXPIRING.value), float(parts.partitions.lag()))],
    )
    single(
        "projection_lag",
        "token.refreshed records not applied to the version projection yet.",
        parts.projection.lag,
    )
    single(
        "settled_connections",
        "Connections in the credential-version projection.",
        lambda: len(parts.settled),
    )
