"""Kafka entry points: onboarding's typed-credential submissions on ``connection.requested``, and
revocation at the provider on ``connection.disconnected``; and what the gateway publishes."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from hub_catalog import CatalogError
from hub_contracts import (
    ConnectionDisconnectedV1,
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRequested,
    ConnectionRequestedV1,
    Event,
    Topic,
)
from hub_keyring import KeyRingError
from hub_runtime import PermanentHandlerError, ServiceSettings, publishes, subscribe
from opentelemetry.trace import TracerProvider

from oauth_gateway.errors import GatewayError, SubmissionRefusedError
from oauth_gateway.service import KeyConnections, Revocations

CONSUMES: set[Topic] = {Topic.CONNECTION_REQUESTED, Topic.CONNECTION_DISCONNECTED}
PUBLISHES: set[type[Event]] = {ConnectionRequestedV1, ConnectionEstablishedV1, ConnectionFailedV1}


def router(
    settings: ServiceSettings,
    keys: KeyConnections,
    revocations: Revocations,
    *,
    tracer_provider: TracerProvider | None = None,
) -> KafkaRouter:
    router = KafkaRouter()

    async def on_disconnected(event: ConnectionDisconnectedV1) -> None:
        try:
            await revocations.on_disconnected(event)
        except (KeyRingError, CatalogError, GatewayError) as error:
            raise PermanentHandlerError(f"cannot revoke: {type(error).__name__}") from None

    async def on_requested(event: ConnectionRequested) -> None:
        try:
            await keys.on_requested(event)
        except SubmissionRefusedError as error:
            refused = PermanentHandlerError(f"{error.code}: {error.detail}")
            refused.reason = error.code
            raise refused from None

    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_REQUESTED,
        group="oauth-gateway.on_requested",
        handler=on_requested,
        tracer_provider=tracer_provider,
    )
    subscribe(
        router,
        settings,
        topic=Topic.CONNECTION_DISCONNECTED,
        group="oauth-gateway.on_disconnected",
        handler=on_disconnected,
        tracer_provider=tracer_provider,
    )
    publishes(router, *PUBLISHES)
    return router
