"""Wiring: the only place that builds the key ring, the outbound client, the broker, the
projection, the consumer and the HTTP app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from hub_catalog import AuthType, Catalog, RefreshStrategy, load_catalog
from hub_keyring import KeyRing
from hub_providers import OutboundHttp, policy_for
from hub_runtime import create_broker, create_tracer_provider
from opentelemetry.sdk.trace import TracerProvider

from token_refresher.adapters.kafka import (
    DeadLetters,
    ExpiringConsumer,
    KafkaEvents,
    RefreshedProjection,
)
from token_refresher.adapters.providers import ProviderTokens
from token_refresher.domain import SettledVersions
from token_refresher.handlers import ExpiringHandler
from token_refresher.http import install_routes
from token_refresher.limits import Limits
from token_refresher.metrics import Labels, Metrics
from token_refresher.service import Policy, Refresher
from token_refresher.settings import PlatformCredentials, RefresherSettings

log = logging.getLogger(__name__)


@dataclass
class Components:
    """What the app runs; the probes read it, tests reach in."""

    settings: RefresherSettings
    catalog: Catalog
    platform: PlatformCredentials
    tracer_provider: TracerProvider
    metrics: Metrics = field(default_factory=Metrics)
    settled: SettledVersions = field(default_factory=SettledVersions)
    limits: Limits | None = None
    refresher: Refresher | None = None
    broker: KafkaBroker | None = None
    outbound: OutboundHttp | None = None
    projection: RefreshedProjection | None = None
    consumer: ExpiringConsumer | None = None
    running: bool = False

    def live(self) -> tuple[bool, dict[str, object]]:
        loops = {
            "projection": self.projection is None or self.projection.alive,
            "consumer": self.consumer is None or self.consumer.alive,
        }
        return self.running and all(loops.values()), {"loops": loops}

    def ready(self) -> tuple[bool, dict[str, object]]:
        live, _ = self.live()
        projection = self.projection is not None and self.projection.caught_up_once
        joined = self.consumer is not None and self.consumer.joined
        detail: dict[str, object] = {
            "projection_caught_up": projection,
            "joined": joined,
            "partitions": self.consumer.partitions if self.consumer else [],
        }
        return live and projection and joined, detail

    def render_metrics(self) -> str:
        return self.metrics.render()


def _register_gauges(parts: Components) -> None:
    def single(read: object) -> Iterable[tuple[Labels, float]]:
        return [((), float(read))]  # type: ignore[arg-type]

    metrics = parts.metrics
    metrics.gauge(
        "in_flight",
        "token.expiring records taken and not finished.",
        lambda: single(parts.consumer.in_flight if parts.consumer else 0),
    )
    metrics.gauge(
        "pending",
        "token.expiring records held per provider (waiting or calling).",
        lambda: [
            ((("provider", name),), float(gate.pending))
            for name, gate in sorted((parts.limits.gates() if parts.limits else {}).items())
        ],
    )
    metrics.gauge(
        "provider_calls_in_flight",
        "Provider token calls in flight per provider.",
        lambda: [
            ((("provider", name),), float(gate.in_flight))
            for name, gate in sorted((parts.limits.gates() if parts.limits else {}).items())
        ],
    )
    metrics.gauge(
        "rate_limited",
        "1 while a provider is rate limiting us (cool-down or probing).",
        lambda: [
            ((("provider", name),), 1.0 if gate.limited else 0.0)
            for name, gate in sorted((parts.limits.gates() if parts.limits else {}).items())
        ],
    )
    metrics.gauge(
        "consumer_lag",
        "token.expiring records of the owned partitions not fetched yet (approximate locally).",
        lambda: single(parts.consumer.lag() if parts.consumer else 0),
    )
    metrics.gauge(
        "projection_lag",
        "token.refreshed records not applied to the version projection yet.",
        lambda: single(parts.projection.lag() if parts.projection else 0),
    )
    metrics.gauge(
        "settled_connections",
        "Connections in the credential-version projection.",
        lambda: single(len(parts.settled)),
    )


def _warn_missing_platform_credentials(catalog: Catalog, platform: PlatformCredentials) -> None:
    for provider in catalog.providers:
        for mode in provider.auth_modes:
            refreshes = mode.refresh in (
                RefreshStrategy.REFRESH_GRANT,
                RefreshStrategy.ROTATING_REFRESH_GRANT,
            )
            if mode.type == AuthType.OAUTH2_AUTHORIZATION_CODE and refreshes:
                missing = platform.missing(provider)
                if missing:
                    log.warning(
                        "platform credentials missing: refreshes of this provider will fail",
                        extra={"provider": provider.id, "missing": missing},
                    )


def create_app(
    settings: RefresherSettings,
    *,
    catalog: Catalog | None = None,
    platform: PlatformCredentials | None = None,
    outbound: OutboundHttp | None = None,
    tracer_provider: TracerProvider | None = None,
    run_consumers: bool = True,
) -> FastAPI:
    """``run_consumers=False`` serves the probes with nothing behind them (tests of the HTTP
    surface)."""
    provider = tracer_provider or create_tracer_provider(
        settings.service_name, otlp_endpoint=settings.otel_exporter_otlp_endpoint
    )
    resolved = catalog or load_catalog(base_url_override=settings.provider_base_url_override)
    parts = Components(
        settings=settings,
        catalog=resolved,
        platform=platform or PlatformCredentials.from_environment(resolved),
        tracer_provider=provider,
    )
    _register_gauges(parts)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_consumers:
            await _start(parts, outbound)
        parts.running = True
        try:
            yield
        finally:
            parts.running = False
            await _stop(parts, owns_outbound=outbound is None)
            provider.shutdown()

    app = FastAPI(
        title="token-refresher",
        version="1",
        description="Refreshes credentials before they expire; probes and metrics only.",
        lifespan=lifespan,
    )
    app.state.components = parts
    install_routes(app, _Probe(parts))
    return app


class _Probe:
    def __init__(self, parts: Components) -> None:
        self.parts = parts

    def live(self) -> tuple[bool, dict[str, object]]:
        return self.parts.live()

    def ready(self) -> tuple[bool, dict[str, object]]:
        return self.parts.ready()

    def metrics(self) -> str:
        return self.parts.render_metrics()


async def _start(parts: Components, outbound: OutboundHttp | None) -> None:
    settings = parts.settings
    ring = KeyRing.from_spec(settings.credential_keys)
    _warn_missing_platform_credentials(parts.catalog, parts.platform)
    parts.outbound = outbound or OutboundHttp(
        parts.catalog,
        policy_for(
            parts.catalog,
            connect_timeout_s=settings.outbound_connect_timeout_s,
            total_timeout_s=settings.outbound_total_timeout_s,
            max_response_bytes=settings.outbound_max_response_bytes,
        ),
    )
    parts.limits = Limits(
        max_concurrency=settings.max_concurrency,
        per_provider_concurrency=settings.per_provider_concurrency,
    )
    parts.broker = create_broker(settings, tracer_provider=parts.tracer_provider)
    await parts.broker.start()
    parts.refresher = Refresher(
        catalog=parts.catalog,
        tokens=ProviderTokens(parts.outbound, ring, parts.platform),
        sink=KafkaEvents(parts.broker, timeout_s=settings.publish_timeout_s),
        limits=parts.limits,
        settled=parts.settled,
        metrics=parts.metrics,
        policy=Policy(
            attempts=settings.attempts,
            retry_base_delay_s=settings.retry_base_delay_s,
            retry_max_delay_s=settings.retry_max_delay_s,
            rate_limit_max_wait_s=settings.rate_limit_max_wait_s,
            rate_limit_default_retry_after_s=settings.rate_limit_default_retry_after_s,
            rate_limit_max_retry_after_s=settings.rate_limit_max_retry_after_s,
            queue_max_wait_s=settings.queue_max_wait_s,
        ),
        service_name=settings.service_name,
    )
    handler = ExpiringHandler(
        parts.refresher,
        DeadLetters(
            parts.broker, group=settings.consumer_group, timeout_s=settings.publish_timeout_s
        ),
        parts.metrics,
        tracer_provider=parts.tracer_provider,
    )
    parts.projection = RefreshedProjection(settings, parts.settled)
    await parts.projection.start()
    parts.consumer = ExpiringConsumer(
        settings,
        handler,
        before_processing=parts.projection.caught_up,
        drain=parts.refresher.drain,
    )
    await parts.consumer.start()


async def _stop(parts: Components, *, owns_outbound: bool) -> None:
    if parts.consumer is not None:
        await parts.consumer.stop()
    if parts.projection is not None:
        await parts.projection.stop()
    if parts.broker is not None:
        await parts.broker.stop()
    if parts.outbound is not None and owns_outbound:
        await parts.outbound.aclose()
