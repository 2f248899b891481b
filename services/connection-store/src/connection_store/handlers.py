"""Kafka entry points: each connection event to ``ConnectionEvents`` in group
``connection-store.<handler>`` (also its inbox name); an unknown provider is a permanent failure.
``publishes`` declares what the outbox relay sends, for the AsyncAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream.kafka import KafkaRouter
from hub_contracts import (
    ConnectionCheckDueV1,
    ConnectionDisconnectedV1,
    Event,
    TokenExpiringV1,
    Topic,
)
from hub_runtime import PermanentHandlerError, publishes, subscribe
from opentelemetry.trace import TracerProvider

from connection_store.service.connections import ConnectionEvents, UnknownEventProviderError
from connection_store.settings import StoreSettings

REQUESTED = "connection-store.on_requested"
FAILED = "connection-store.on_failed"
ESTABLISHED = "connection-store.on_established"
REFRESHED = "connection-store.on_refreshed"
UNHEALTHY = "connection-store.on_unhealthy"
RECOVERED = "connection-store.on_recovered"
CHECKED = "connection-store.on_checked"

PUBLISHES: tuple[type[Event], ...] = (
    TokenExpiringV1,
    ConnectionCheckDueV1,
    ConnectionDisconnectedV1,
)

E = TypeVar("E", bound=Event)


def router(
    settings: StoreSettings,
    events: ConnectionEvents,
    *,
    tracer_provider: TracerProvider | None = None,
) -> KafkaRouter:
    router = KafkaRouter()
    entry_points: list[tuple[Topic, str, Callable[[str, Any], Awaitable[None]]]] = [
        (Topic.CONNECTION_REQUESTED, REQUESTED, events.requested),
        (Topic.CONNECTION_FAILED, FAILED, events.failed),
        (Topic.CONNECTION_ESTABLISHED, ESTABLISHED, events.established),
        (Topic.TOKEN_REFRESHED, REFRESHED, events.refreshed),
        (Topic.CONNECTION_UNHEALTHY, UNHEALTHY, events.unhealthy),
        (Topic.CONNECTION_RECOVERED, RECOVERED, events.recovered),
        (Topic.CONNECTION_CHECKED, CHECKED, events.checked),
    ]
    for topic, group, apply in entry_points:
        subscribe(
            router,
            settings,
            topic=topic,
            group=group,
            handler=_handler(group, apply),
            tracer_provider=tracer_provider,
        )
    publishes(router, *PUBLISHES)
    return router


def _handler(
    group: str, apply: Callable[[str, E], Awaitable[None]]
) -> Callable[[E], Awaitable[None]]:
    """``apply`` as the group's handler; an unknown provider is a permanent failure."""

    async def handle(event: E) -> None:
        try:
            await apply(group, event)
        except UnknownEventProviderError as exc:
            raise PermanentHandlerError(str(exc)) from None

    return handle
