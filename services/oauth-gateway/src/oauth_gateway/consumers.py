"""Kafka consumers: onboarding's API-key submissions on ``connection.requested``.

Consumer group ``oauth-gateway.on_requested``. Parsing, retries and the dead-letter topic are
``hub_runtime.subscribe``'s; the handler answers every submission with ``connection.established``
or ``connection.failed`` (ids derived from the request: redeliveries are idempotent downstream).
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from hub_contracts import Topic
from hub_runtime import ServiceSettings, subscribe

from oauth_gateway.service import KeyConnections

GROUP = "oauth-gateway.on_requested"


def register(broker: KafkaBroker, settings: ServiceSettings, keys: KeyConnections) -> None:
    subscribe(
        broker,
        settings,
        topic=Topic.CONNECTION_REQUESTED,
        group=GROUP,
        handler=keys.on_requested,
    )
