"""The consumers on an in-memory broker: each event reaches triage as the domain's facts, under
its own consumer group name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker
from hub_contracts import (
    ConnectionEstablishedV1,
    ConnectionRecoveredV1,
    ConnectionUnhealthyV1,
)
from hub_contracts.examples import EXAMPLES
from hub_runtime import publish_event
from notifier import handlers
from notifier.domain.incidents import Recovery, Unhealthy
from notifier.settings import NotifierSettings


@dataclass
class RecordingTriage:
    calls: list[tuple[str, uuid.UUID, Any]] = field(default_factory=list)

    async def on_unhealthy(self, consumer: str, event_id: uuid.UUID, event: Unhealthy) -> str:
        self.calls.append((consumer, event_id, event))
        return "opened"

    async def on_recovery(self, consumer: str, event_id: uuid.UUID, recovery: Recovery) -> str:
        self.calls.append((consumer, event_id, recovery))
        return "closed"


def example(kind: type[Any]) -> Any:
    (found,) = [event for event in EXAMPLES if isinstance(event, kind)]
    return found


async def test_each_event_reaches_triage_as_the_domains_facts() -> None:
    triage = RecordingTriage()
    broker = KafkaBroker()
    broker.include_router(handlers.router(NotifierSettings(), triage))  # type: ignore[arg-type]
    unhealthy: ConnectionUnhealthyV1 = example(ConnectionUnhealthyV1)
    recovered: ConnectionRecoveredV1 = example(ConnectionRecoveredV1)
    established: ConnectionEstablishedV1 = example(ConnectionEstablishedV1)
    async with TestKafkaBroker(broker) as test_broker:
        for event in (unhealthy, recovered, established):
            await publish_event(test_broker, event)

    assert [(consumer, event_id) for consumer, event_id, _ in triage.calls] == [
        (handlers.UNHEALTHY, unhealthy.event_id),
        (handlers.RECOVERED, recovered.event_id),
        (handlers.ESTABLISHED, established.event_id),
    ]
    facts = [call[2] for call in triage.calls]
    assert facts[0] == Unhealthy(
        organization_id=unhealthy.organization_id,
        provider="google_ads",
        reason="revoked",
        credential_version=4,
        message=unhealthy.message,
        occurred_at=unhealthy.occurred_at,
        token_expires_at=None,
    )
    assert facts[1] == Recovery(
        unhealthy.organization_id, "google_ads", "recovered", 5, recovered.occurred_at
    )
    assert facts[2] == Recovery(
        unhealthy.organization_id, "google_ads", "reconnected", None, established.occurred_at
    )
