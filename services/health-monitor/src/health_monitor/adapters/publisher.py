"""The ``Publisher`` port on the broker (``hub_runtime.publish_event``: topic, key, headers)."""

from __future__ import annotations

from hub_contracts import Event
from hub_runtime.bus import EventPublisher

from health_monitor.errors import EventNotPublishedError


class BrokerPublisher(EventPublisher):
    def failure(self, event: Event, error: Exception) -> Exception:
        return EventNotPublishedError(
            f"{event.event_type} for {event.provider} not published: {type(error).__name__}"
        )
