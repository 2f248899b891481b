"""The ``Publisher`` port on the broker (``hub_runtime.publish_event``: topic, key, headers)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from hub_contracts import Event
from hub_runtime import publish_event

from health_monitor.errors import EventNotPublishedError


class BrokerPublisher:
    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def publish(self, event: Event) -> None:
        try:
            await publish_event(self.broker, event)
        except Exception as exc:
            raise EventNotPublishedError(
                f"{event.event_type} for {event.provider} not published: {type(exc).__name__}"
            ) from exc
