"""Through the real broker: an event published on its topic ends up in the row; a malformed
one lands in the topic's DLQ with the reason, and the consumer keeps going."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from connection_store.app import create_app
from connection_store.auth import READ, issue_token
from connection_store.settings import StoreSettings
from hub_contracts import ALL_TOPICS, message_key
from hub_contracts.examples import EXAMPLES
from hub_localstack.topics import create_topics
from hub_runtime import create_broker, publish_event

pytestmark = pytest.mark.integration


async def _dead_letters(bootstrap: str, topic: str, marker: bytes) -> dict[str, bytes]:
    consumer = AIOKafkaConsumer(
        f"{topic}.dlq",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    if record.value is not None and marker in record.value:
                        return dict(record.headers)
        raise AssertionError("no dead letter arrived")
    finally:
        await consumer.stop()


async def test_events_reach_the_row_and_bad_ones_the_dlq(
    kafka_bootstrap: str, store_settings: StoreSettings
) -> None:
    topics = [*ALL_TOPICS, *(f"{t}.dlq" for t in ALL_TOPICS)]
    await create_topics(kafka_bootstrap, topics, partitions=3)
    settings = store_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    app = create_app(settings, run_background=False)
    org = uuid.uuid4()
    established = next(e for e in EXAMPLES if e.event_type == "connection.established")
    event = established.model_copy(update={"event_id": uuid.uuid4(), "organization_id": org})
    marker = uuid.uuid4().hex.encode()

    async with app.router.lifespan_context(app):
        db = app.state.db
        async with create_broker(settings) as producer:
            await producer.publish(
                b'{"event_type": "connection.established", "broken": "' + marker + b'"',
                topic="connection.established",
                key=message_key(org, "google_ads"),
            )
            await publish_event(producer, event)
        status = None
        for _ in range(300):
            async with db.tenant(org) as connection:
                status = await connection.fetchval(
                    "SELECT status FROM integration_connections WHERE organization_id = $1", org
                )
            if status is not None:
                break
            await asyncio.sleep(0.05)
        headers = await _dead_letters(kafka_bootstrap, "connection.established", marker)
        token = issue_token(settings.jwt_secret, org, scopes=[READ], subject="t")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://store"
        ) as client:
            shown = (
                await client.get(
                    f"/v1/orgs/{org}/integrations/google_ads",
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()

    assert status == "active"
    assert (shown["status"], shown["account_name"]) == ("active", event.account.name)
    assert headers["dlq-reason"] == b"malformed"
    assert headers["dlq-consumer-group"] == b"connection-store.on_established"
