"""``Events`` onto the broker, with the current trace context in their headers."""

from __future__ import annotations

from hub_contracts import Event
from hub_runtime.bus import EventPublisher

from oauth_gateway.errors import PublishFailedError


class BrokerEvents(EventPublisher):
    """A publish that fails is a ``PublishFailedError``."""

    def failure(self, event: Event, error: Exception) -> Exception:
        return PublishFailedError()
