"""``Events``: to the gateway's outbox (``OutboxEvents``, relayed after commit), or straight onto
the broker (``BrokerEvents``, when the app runs without PostgreSQL), with the current trace
context in their headers."""

from __future__ import annotations

from hub_contracts import Event
from hub_runtime.bus import EventPublisher

from oauth_gateway.adapters.pending_flows import PostgresPendingFlows
from oauth_gateway.errors import PublishFailedError


class OutboxEvents:
    """Each event in its own outbox transaction; durable when ``publish`` returns."""

    def __init__(self, flows: PostgresPendingFlows) -> None:
        self.flows = flows

    async def publish(self, event: Event) -> None:
        await self.flows.record(event)


class BrokerEvents(EventPublisher):
    """A publish that fails is a ``PublishFailedError``."""

    def failure(self, event: Event, error: Exception) -> Exception:
        return PublishFailedError()
