"""Kafka consumers: thin, from contract events to the service.

Groups ``notifier.<handler>``. A failing handler is retried by ``hub_runtime.subscribe`` and then
dead-lettered; the handlers only touch PostgreSQL, so that is an outage, not a message's fault.

Reminder signal: ``connection.unhealthy`` with reason ``reauth_soon`` (the token-refresher's
answer to ``token.expiring`` of a ``long_lived_reminder`` credential). The notifier does not
consume ``token.expiring`` itself: one signal, so no reminder is told twice, and one fewer topic of
refresh-token ciphertext read. A reconnect shows up as ``connection.established`` with a newer
credential version: it closes the open incident like ``connection.recovered`` does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka import KafkaBroker
from hub_contracts import (
    ConnectionEstablishedV1,
    ConnectionRecoveredV1,
    ConnectionUnhealthyV1,
    Topic,
)
from hub_runtime import ServiceSettings, subscribe

from notifier.domain import Unhealthy
from notifier.service import Notifier

UNHEALTHY = "notifier.on_unhealthy"
RECOVERED = "notifier.on_recovered"
ESTABLISHED = "notifier.on_established"


class Handlers:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def on_unhealthy(self, event: ConnectionUnhealthyV1) -> None:
        await self.notifier.on_unhealthy(
            UNHEALTHY,
            event.event_id,
            Unhealthy(
                organization_id=event.organization_id,
                provider=event.provider,
                reason=event.reason,
                credential_version=event.credential_version,
                message=event.message,
                occurred_at=event.occurred_at,
                token_expires_at=event.token_expires_at,
            ),
        )

    async def on_recovered(self, event: ConnectionRecoveredV1) -> None:
        await self.notifier.on_recovery(
            RECOVERED,
            event.event_id,
            organization_id=event.organization_id,
            provider=event.provider,
            cause="recovered",
            credential_version=event.credential_version,
            occurred_at=event.occurred_at,
        )

    async def on_established(self, event: ConnectionEstablishedV1) -> None:
        await self.notifier.on_recovery(
            ESTABLISHED,
            event.event_id,
            organization_id=event.organization_id,
            provider=event.provider,
            cause="reconnected",
            credential_version=None,
            occurred_at=event.occurred_at,
        )

    def register(self, broker: KafkaBroker, settings: ServiceSettings) -> None:
        handlers: list[tuple[Topic, str, Callable[[Any], Awaitable[None]]]] = [
            (Topic.CONNECTION_UNHEALTHY, UNHEALTHY, self.on_unhealthy),
            (Topic.CONNECTION_RECOVERED, RECOVERED, self.on_recovered),
            (Topic.CONNECTION_ESTABLISHED, ESTABLISHED, self.on_established),
        ]
        for topic, group, handler in handlers:
            subscribe(broker, settings, topic=topic, group=group, handler=handler)
