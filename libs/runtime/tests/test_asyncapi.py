"""The AsyncAPI document FastStream generates from declared consumers and publishers, checked
against hub_contracts, and the one dead-letter function."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, KafkaRouter
from hub_contracts import (
    ConnectionCheckDueV1,
    ConnectionRecoveredV1,
    ConnectionUnhealthyV1,
    Event,
    Topic,
)
from hub_runtime import ServiceSettings, dead_letter, publishes, subscribe
from hub_runtime.asyncapi import asyncapi_schema, contract_mismatches, serve_asyncapi
from hub_runtime.bus import EventPublisher


def _broker() -> KafkaBroker:
    router = KafkaRouter()

    async def on_check_due(event: Event) -> None:
        return None

    subscribe(
        router,
        ServiceSettings(),
        topic=Topic.CONNECTION_CHECK_DUE,
        group="m.h",
        handler=on_check_due,
    )
    publishes(router, ConnectionUnhealthyV1, ConnectionRecoveredV1)
    broker = KafkaBroker("127.0.0.1:1")
    broker.include_router(router)
    return broker


def test_a_service_that_does_what_it_declares_matches_the_contracts() -> None:
    document = asyncapi_schema(_broker(), title="monitor")
    assert document["asyncapi"] == "3.0.0"
    assert (
        contract_mismatches(
            document,
            consumes={Topic.CONNECTION_CHECK_DUE},
            publishes={ConnectionUnhealthyV1, ConnectionRecoveredV1},
        )
        == []
    )


def test_mismatches_name_the_missing_consumer_publisher_and_schema_drift() -> None:
    document = asyncapi_schema(_broker(), title="monitor")
    problems = contract_mismatches(
        document,
        consumes={Topic.CONNECTION_CHECK_DUE, Topic.TOKEN_EXPIRING},
        publishes={ConnectionUnhealthyV1},
    )
    assert any(p.startswith("receives ") and "token.expiring" in p for p in problems)
    assert any(p.startswith("sends ") for p in problems)
    schema = document["components"]["schemas"]["ConnectionUnhealthyV1"]
    schema["properties"].pop("reason")
    drift = contract_mismatches(
        document,
        consumes={Topic.CONNECTION_CHECK_DUE},
        publishes={ConnectionUnhealthyV1, ConnectionRecoveredV1},
    )
    assert drift == [
        "connection.unhealthy: ConnectionUnhealthyV1 properties differ from hub_contracts"
    ]
    [consumer] = [
        c for c in document["channels"].values() if c["address"] == "connection.check_due"
    ]
    assert ConnectionCheckDueV1.__name__ in consumer["description"]


async def test_the_document_is_served_at_asyncapi_json() -> None:
    app = FastAPI()
    serve_asyncapi(app, _broker(), title="monitor")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert "connection.check_due" in {c["address"] for c in response.json()["channels"].values()}


class _Record:
    topic, partition, offset = "token.expiring", 3, 41
    key, value = b"k", b"{raw}"


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[object, object, dict[str, str]]] = []

    async def publish(self, message: object, /, *, key: object, headers: dict[str, str]) -> None:
        self.sent.append((message, key, headers))


async def test_dead_letter_sends_the_record_as_it_came_with_where_and_why() -> None:
    publisher = _Publisher()
    await dead_letter(publisher, _Record(), group="r.h", reason="malformed", error="x" * 2000)
    [(message, key, headers)] = publisher.sent
    assert (message, key) == (b"{raw}", b"k")
    assert headers == {
        "dlq-reason": "malformed",
        "dlq-error": "x" * 1000,
        "dlq-source-topic": "token.expiring",
        "dlq-source-partition": "3",
        "dlq-source-offset": "41",
        "dlq-consumer-group": "r.h",
    }


class _UnpublishedError(Exception):
    pass


class _Events(EventPublisher):
    def failure(self, event: Event, error: Exception) -> Exception:
        return _UnpublishedError(f"{event.event_type}: {type(error).__name__}")


async def test_a_publish_that_fails_raises_the_services_own_error() -> None:
    async def refuse(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("broker away")

    broker = KafkaBroker("127.0.0.1:1")
    broker.publish = refuse  # type: ignore[method-assign]
    event = ConnectionRecoveredV1(
        organization_id=uuid.uuid4(),
        provider="slack",
        connection_id=uuid.uuid4(),
        credential_version=1,
        detected_by="health-monitor",
    )
    with pytest.raises(_UnpublishedError) as raised:
        await _Events(broker).publish(event)
    assert str(raised.value) == "connection.recovered: ConnectionError"
    assert isinstance(raised.value.__cause__, ConnectionError)
