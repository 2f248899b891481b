"""Through the real broker and PostgreSQL: submissions the gateway cannot open land in
``connection.requested.dlq`` with the reason (another organization's seal, an unknown key id,
the symmetric v1 path where it is off), the brand hears ``connection.failed``, and the consumer
goes on to connect a good sealed submission published after them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from hub_catalog import PlatformCredentials, load_catalog
from hub_client import connection_requested
from hub_contracts import (
    ALL_TOPICS,
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRequestedV1,
    Event,
    Topic,
    dlq_topic,
    parse_event,
)
from hub_keyring import Binding, KeyRing, SubmissionKeys, new_submission_key_spec
from hub_localstack.topics import create_topics
from hub_runtime import create_broker, publish_event
from oauth_gateway.app import create_app
from oauth_gateway.settings import GatewaySettings
from provider_sandbox import SandboxSettings, platform_environment
from provider_sandbox import create_app as create_sandbox

from .conftest import SANDBOX, new_key_spec
from .test_credentials import good_fields

pytestmark = pytest.mark.integration


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_sandbox(SandboxSettings(), catalog=load_catalog())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=SANDBOX) as client:
        yield client


async def _records(bootstrap: str, topic: str, wanted: set[str]) -> dict[str, dict[str, bytes]]:
    """Headers of the records on ``topic`` whose value holds one of ``wanted``, by that marker."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
        enable_auto_commit=False,
    )
    found: dict[str, dict[str, bytes]] = {}
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while found.keys() != wanted:
            assert asyncio.get_running_loop().time() < deadline, f"missing {wanted - found.keys()}"
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    value = (record.value or b"").decode()
                    for marker in wanted:
                        if marker in value:
                            found[marker] = dict(record.headers) | {"_value": record.value or b""}
    finally:
        await consumer.stop()
    return found


async def test_unopenable_submissions_are_dead_lettered_with_the_reason(
    kafka_bootstrap: str,
    login_database_url: str,
    owner_database_url: str,
    sandbox: httpx.AsyncClient,
) -> None:
    await create_topics(
        kafka_bootstrap, [*ALL_TOPICS, *(dlq_topic(t) for t in ALL_TOPICS)], partitions=2
    )
    catalog = load_catalog(base_url_override=SANDBOX)
    settings = GatewaySettings(
        credential_keys=new_key_spec(),
        submission_keys=new_submission_key_spec("s1"),
        accept_symmetric_submissions=False,
        database_url=login_database_url,
        database_migration_url=owner_database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=500,
        kafka_fetch_max_wait_ms=10,
        outbox_interval_s=0.05,
    )
    assert settings.submission_keys is not None
    key = SubmissionKeys.from_spec(settings.submission_keys).public_keys()[0]
    retired = SubmissionKeys.from_spec(new_submission_key_spec("retired")).public_keys()[0]
    ring = KeyRing.from_spec(settings.credential_keys)
    org = uuid.uuid4()
    fields = good_fields("resend")
    elsewhere = connection_requested(key, uuid.uuid4(), "resend", fields)
    symmetric = ConnectionRequestedV1(
        organization_id=org,
        provider="resend",
        flow_id=uuid.uuid4(),
        auth_type="api_key",
        submission={
            name: ring.encrypt(value, Binding(org, "resend", name))
            for name, value in fields.items()
        },
    )
    bad: dict[str, Event] = {
        "unopenable_submission": elsewhere.model_copy(update={"organization_id": org}),
        "unknown_submission_key": connection_requested(retired, org, "resend", fields),
        "symmetric_submission_refused": symmetric,
    }
    good = connection_requested(key, org, "resend", fields)
    app = create_app(
        settings,
        catalog=catalog,
        platform=PlatformCredentials(platform_environment(catalog)),
        outbound_transport=sandbox._transport,
    )
    async with app.router.lifespan_context(app), create_broker(settings) as producer:
        for event in [*bad.values(), good]:
            await publish_event(producer, event)
        dead = await _records(
            kafka_bootstrap,
            dlq_topic(Topic.CONNECTION_REQUESTED.value),
            {str(e.event_id) for e in bad.values()},
        )
        answers = await _records(
            kafka_bootstrap,
            Topic.CONNECTION_FAILED.value,
            {str(uuid.uuid5(e.event_id, "connection.failed")) for e in bad.values()},
        )
        (established,) = (
            await _records(
                kafka_bootstrap,
                Topic.CONNECTION_ESTABLISHED.value,
                {str(uuid.uuid5(good.event_id, "connection.established"))},
            )
        ).values()
    for reason, event in bad.items():
        headers = dead[str(event.event_id)]
        assert headers["dlq-reason"] == reason.encode()
        assert headers["dlq-consumer-group"] == b"oauth-gateway.on_requested"
        assert headers["dlq-error"].startswith(reason.encode())
        failed = parse_event(
            answers[str(uuid.uuid5(event.event_id, "connection.failed"))]["_value"]
        )
        assert isinstance(failed, ConnectionFailedV1)
        assert failed.reason == reason
    assert isinstance(parse_event(established["_value"]), ConnectionEstablishedV1)
    for headers in [*dead.values(), *answers.values(), established]:
        assert fields["api_key"].encode() not in b"".join(headers.values())
