"""Kafka consumers: onboarding's API-key submissions on ``connection.requested``, and
revocation at the provider on ``connection.disconnected``.

Consumer groups ``oauth-gateway.on_requested`` and ``oauth-gateway.on_disconnected``. Parsing,
retries and the dead-letter topic are ``hub_runtime.subscribe``'s; every submission is answered
with ``connection.established`` or ``connection.failed`` (ids derived from the request:
redeliveries are idempotent downstream).
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from hub_contracts import ConnectionDisconnectedV1, Topic
from hub_keyring import KeyRingError
from hub_runtime import PermanentHandlerError, ServiceSettings, subscribe

from oauth_gateway.errors import GatewayError
from oauth_gateway.service import KeyConnections, Revocations

GROUP = "oauth-gateway.on_requested"
REVOKE_GROUP = "oauth-gateway.on_disconnected"


def register(
    broker: KafkaBroker,
    settings: ServiceSettings,
    keys: KeyConnections,
    revocations: Revocations,
) -> None:
    subscribe(
        broker,
        settings,
        topic=Topic.CONNECTION_REQUESTED,
        group=GROUP,
        handler=keys.on_requested,
    )

    async def revoke(event: ConnectionDisconnectedV1) -> None:
        try:
            await revocations.on_disconnected(event)
        except (KeyRingError, GatewayError) as error:
            raise PermanentHandlerError(f"cannot revoke: {type(error).__name__}") from None

    subscribe(
        broker,
        settings,
        topic=Topic.CONNECTION_DISCONNECTED,
        group=REVOKE_GROUP,
        handler=revoke,
    )
