"""Kafka entry points: each connection event to ``ConnectionEvents``, in groups
``connection-store.<handler>`` (the group is also the inbox's consumer name).

An event of a provider the catalog does not know goes to the DLQ at once; any other failure is
retried by ``hub_runtime.subscribe``, then dead-lettered. What the store publishes goes out
through the outbox relay; ``publishes`` declares it for the AsyncAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from faststream.kafka import KafkaRouter
from hub_contracts import (
    ConnectionCheckDueV1,
    ConnectionDisconnectedV1,
    Event,
    TokenExpiringV1,
    Topic,
)
from hub_runtime import PermanentHandlerError, publishes, subscribe

from connection_store.service.connections import ConnectionEvents, UnknownEventProviderError
from connection_store.settings import StoreSettings

REQUESTED = "connection-store.on_requested"
FAILED = "connection-store.on_failed"
ESTABLISHED = "connection-store.on_established"
REFRESHED = "connection-store.on_refreshed"
UNHEALTHY = "connection-store.on_unhealthy"
RECOVERED = "connection-store.on_recovered"

CONSUMES = frozenset(
    {
        Topic.CONNECTION_REQUESTED,
        Topic.CONNECTION_FAILED,
        Topic.CONNECTION_ESTABLISHED,
        Topic.TOKEN_REFRESHED,
        Topic.CONNECTION_UNHEALTHY,
        Topic.CONNECTION_RECOVERED,
    }
)
PUBLISHES: tuple[type[Event], ...] = (
    TokenExpiringV1,
    ConnectionCheckDueV1,
    ConnectionDisconnectedV1,
)

E = TypeVar("E", bound=Event)


def router(settings: StoreSettings, events: ConnectionEvents) -> KafkaRouter:
    router = KafkaRouter()
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_REQUESTED,
        group=REQUESTED,
        handler=_handler(REQUESTED, events.requested),
    )
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_FAILED,
        group=FAILED,
        handler=_handler(FAILED, events.failed),
    )
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_ESTABLISHED,
        group=ESTABLISHED,
        handler=_handler(ESTABLISHED, events.established),
    )
    subscribe(
        router,
        settings,
        topic=Topic.TOKEN_REFRESHED,
        group=REFRESHED,
        handler=_handler(REFRESHED, events.refreshed),
    )
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_UNHEALTHY,
        group=UNHEALTHY,
        handler=_handler(UNHEALTHY, events.unhealthy),
    )
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_RECOVERED,
        group=RECOVERED,
        handler=_handler(RECOVERED, events.recovered),
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
