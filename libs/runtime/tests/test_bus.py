"""``subscribe``: typed events to the handler, everything else to the DLQ, never a stall."""

from __future__ import annotations

import uuid

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from hub_contracts import ConnectionRecoveredV1, Event, Topic, message_key
from hub_runtime import (
    PermanentHandlerError,
    ServiceSettings,
    publish_event,
    subscribe,
    subscribe_batch,
)

SETTINGS = ServiceSettings(service_name="test", consumer_max_attempts=3)


def _event() -> ConnectionRecoveredV1:
    return ConnectionRecoveredV1(
        organization_id=uuid.uuid4(),
        provider="slack",
        connection_id=uuid.uuid4(),
        credential_version=2,
        detected_by="health-monitor",
    )


def _wire(
    broker: KafkaBroker, received: list[Event], fail: Exception | None = None
) -> list[dict[str, str]]:
    dead: list[dict[str, str]] = []

    async def handler(event: Event) -> None:
        if fail is not None:
            raise fail
        received.append(event)

    subscribe(
        broker,
        SETTINGS,
        topic=Topic.CONNECTION_RECOVERED,
        group="t.h",
        handler=handler,
        retry_base_delay_s=0.001,
    )

    @broker.subscriber("connection.recovered.dlq")
    async def collect(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    return dead


async def test_handler_receives_the_typed_event() -> None:
    broker, received = KafkaBroker(), []
    dead = _wire(broker, received)
    async with TestKafkaBroker(broker) as test_broker:
        event = _event()
        await publish_event(test_broker, event)
    assert received == [event]
    assert dead == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed"),
        (
            b'{"event_type": "connection.recovered", "schema_version": 9}',
            "unsupported_schema_version",
        ),
        (b'{"event_type": "token.refreshed", "schema_version": 1}', "wrong_topic"),
    ],
)
async def test_undecodable_event_goes_to_the_dlq_and_the_consumer_goes_on(
    body: bytes, reason: str
) -> None:
    broker, received = KafkaBroker(), []
    dead = _wire(broker, received)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(body, topic="connection.recovered", key=b"org:slack")
        event = _event()
        await publish_event(test_broker, event)
    assert [d["dlq-reason"] for d in dead] == [reason]
    assert dead[0]["dlq-source-topic"] == "connection.recovered"
    assert dead[0]["dlq-consumer-group"] == "t.h"
    assert received == [event]


async def test_handler_that_keeps_failing_is_dead_lettered_after_bounded_attempts() -> None:
    broker, received = KafkaBroker(), []
    calls: list[int] = []

    async def handler(event: Event) -> None:
        calls.append(1)
        raise RuntimeError("database unavailable")

    subscribe(
        broker,
        SETTINGS,
        topic=Topic.CONNECTION_RECOVERED,
        group="t.h",
        handler=handler,
        retry_base_delay_s=0.001,
    )
    dead: list[dict[str, str]] = []

    @broker.subscriber("connection.recovered.dlq")
    async def collect(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    async with TestKafkaBroker(broker) as test_broker:
        await publish_event(test_broker, _event())
    assert len(calls) == SETTINGS.consumer_max_attempts
    assert dead[0]["dlq-reason"] == "handler_failed"
    assert "RuntimeError: database unavailable" in dead[0]["dlq-error"]
    assert received == []


async def test_permanent_failure_skips_retries() -> None:
    broker, received = KafkaBroker(), []
    dead = _wire(broker, received, fail=PermanentHandlerError("credential version is older"))
    async with TestKafkaBroker(broker) as test_broker:
        await publish_event(test_broker, _event())
    assert [d["dlq-reason"] for d in dead] == ["permanent_failure"]


async def test_events_are_keyed_by_connection() -> None:
    event = _event()
    assert message_key(event.organization_id, event.provider) == (
        f"{event.organization_id}:slack".encode()
    )


async def test_batch_subscriber_hands_each_event_to_the_handler_and_dead_letters_the_rest() -> None:
    broker, received = KafkaBroker(), []
    dead: list[dict[str, str]] = []

    async def handler(event: Event) -> None:
        if event.provider == "klaviyo":
            raise PermanentHandlerError("cannot be handled")
        received.append(event)

    subscribe_batch(
        broker,
        SETTINGS,
        topic=Topic.CONNECTION_RECOVERED,
        group="t.batch",
        handler=handler,
        retry_base_delay_s=0.001,
    )

    @broker.subscriber("connection.recovered.dlq")
    async def collect(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    good, refused = _event(), _event().model_copy(update={"provider": "klaviyo"})
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"{not json", topic="connection.recovered", key=b"org:slack")
        await publish_event(test_broker, good)
        await publish_event(test_broker, refused)
    assert received == [good]
    assert sorted(d["dlq-reason"] for d in dead) == ["malformed", "permanent_failure"]
    assert {d["dlq-consumer-group"] for d in dead} == {"t.batch"}
