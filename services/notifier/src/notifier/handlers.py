"""Kafka entry points: contract events to triage, in groups ``notifier.<handler>``.

A failing handler is retried by ``hub_runtime.subscribe`` and then dead-lettered; the handlers
only touch PostgreSQL, so that is an outage, not a message's fault. The notifier publishes nothing.
"""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from hub_contracts import (
    ConnectionEstablishedV1,
    ConnectionRecoveredV1,
    ConnectionUnhealthyV1,
    Topic,
)
from hub_runtime import subscribe

from notifier.domain.incidents import Recovery, Unhealthy
from notifier.service.triage import Triage
from notifier.settings import NotifierSettings

UNHEALTHY = "notifier.on_unhealthy"
RECOVERED = "notifier.on_recovered"
ESTABLISHED = "notifier.on_established"


def router(settings: NotifierSettings, triage: Triage) -> KafkaRouter:
    async def on_unhealthy(event: ConnectionUnhealthyV1) -> None:
        unhealthy = Unhealthy(
            organization_id=event.organization_id,
            provider=event.provider,
            reason=event.reason,
            credential_version=event.credential_version,
            message=event.message,
            occurred_at=event.occurred_at,
            token_expires_at=event.token_expires_at,
        )
        await triage.on_unhealthy(UNHEALTHY, event.event_id, unhealthy)

    async def on_recovered(event: ConnectionRecoveredV1) -> None:
        recovery = Recovery(
            organization_id=event.organization_id,
            provider=event.provider,
            cause="recovered",
            credential_version=event.credential_version,
            occurred_at=event.occurred_at,
        )
        await triage.on_recovery(RECOVERED, event.event_id, recovery)

    async def on_established(event: ConnectionEstablishedV1) -> None:
        """A reconnect: the new credential is the recovery (the event carries no version)."""
        recovery = Recovery(
            organization_id=event.organization_id,
            provider=event.provider,
            cause="reconnected",
            credential_version=None,
            occurred_at=event.occurred_at,
        )
        await triage.on_recovery(ESTABLISHED, event.event_id, recovery)

    router = KafkaRouter()
    subscribe(
        router, settings, topic=Topic.CONNECTION_UNHEALTHY, group=UNHEALTHY, handler=on_unhealthy
    )
    subscribe(
        router, settings, topic=Topic.CONNECTION_RECOVERED, group=RECOVERED, handler=on_recovered
    )
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_ESTABLISHED,
        group=ESTABLISHED,
        handler=on_established,
    )
    return router
