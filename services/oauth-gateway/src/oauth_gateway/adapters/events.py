"""``Events`` onto the broker, with the current trace context in their headers."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker
from hub_contracts import Event
from hub_runtime import publish_event

from oauth_gateway.errors import PublishFailedError

log = logging.getLogger(__name__)


class BrokerEvents:
    """A publish that fails is a ``PublishFailedError``."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def publish(self, event: Event) -> None:
        try:
            await publish_event(self.broker, event)
        except Exception as exc:
            log.error(
                "publish failed",
                extra={"event_type": event.event_type, "error": type(exc).__name__},
            )
            raise PublishFailedError() from None
