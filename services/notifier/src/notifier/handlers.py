"""Kafka entry points: contract events to triage, in groups ``notifier.<handler>``.

A failing handler is retried by ``hub_runtime.subscribe`` and then dead-lettered; the handlers
only touch PostgreSQL, so that is an outage, not a message's fault. The notifier publishes nothing.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from faststream.kafka import KafkaRouter
from hub_contracts import (
    ConnectionDisconnectedV1,
    ConnectionEstablishedV1,
    ConnectionRecoveredV1,
    ConnectionUnhealthyV1,
    Event,
    Topic,
)
from hub_runtime import subscribe
from opentelemetry.trace import TracerProvider

from notifier.domain.incidents import Recovery, Unhealthy
from notifier.service.triage import Triage
from notifier.settings import NotifierSettings

UNHEALTHY = "notifier.on_unhealthy"
RECOVERED = "notifier.on_recovered"
ESTABLISHED = "notifier.on_established"
DISCONNECTED = "notifier.on_disconnected"
F = TypeVar("F", Unhealthy, Recovery)


def router(
    settings: NotifierSettings, triage: Triage, *, tracer_provider: TracerProvider | None = None
) -> KafkaRouter:
    async def on_unhealthy(event: ConnectionUnhealthyV1) -> None:
        await triage.on_unhealthy(UNHEALTHY, event.event_id, _facts(event, Unhealthy))

    async def on_recovered(event: ConnectionRecoveredV1) -> None:
        recovery = _facts(event, Recovery, cause="recovered")
        await triage.on_recovery(RECOVERED, event.event_id, recovery)

    async def on_established(event: ConnectionEstablishedV1) -> None:
        """A reconnect: the new credential is the recovery (the event carries no version)."""
        recovery = _facts(event, Recovery, cause="reconnected", credential_version=None)
        await triage.on_recovery(ESTABLISHED, event.event_id, recovery)

    async def on_disconnected(event: ConnectionDisconnectedV1) -> None:
        """The brand removed the connection: its incident closes without a message."""
        await triage.on_disconnected(
            DISCONNECTED, event.event_id, event.organization_id, event.provider, event.occurred_at
        )

    router = KafkaRouter()
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_UNHEALTHY,
        group=UNHEALTHY,
        handler=on_unhealthy,
        tracer_provider=tracer_provider,
    )
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_RECOVERED,
        group=RECOVERED,
        handler=on_recovered,
        tracer_provider=tracer_provider,
    )
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_ESTABLISHED,
        group=ESTABLISHED,
        handler=on_established,
        tracer_provider=tracer_provider,
    )
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_DISCONNECTED,
        group=DISCONNECTED,
        handler=on_disconnected,
    )
    return router


def _facts(event: Event, facts: type[F], **values: Any) -> F:
    """The domain facts ``facts`` (a dataclass), each field taken from the event's field of the
    same name unless given in ``values``."""
    names = {field.name for field in fields(facts)} - values.keys()
    return facts(**{name: getattr(event, name) for name in names}, **values)
