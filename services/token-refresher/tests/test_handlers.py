"""The record handler: undecodable and unhandleable events go to the DLQ with the reason; no
plaintext secret reaches a log line, an event or a dead letter (SECURITY.md 14)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord
from faststream.kafka.message import KafkaAckableMessage
from faststream.kafka.parser import AioKafkaBatchParser
from hub_catalog import Catalog
from hub_contracts import TokenRefreshedV1, Topic, serialize_event
from hub_keyring import KeyRing
from hub_providers import OutboundHttp
from hub_runtime.logging import JsonFormatter
from token_refresher.handlers import ExpiringHandler, without_binary_headers
from token_refresher.service import Refresher

from .conftest import Recorder, connect, expiring, fault


@dataclass
class FakeRecord:
    value: bytes | None
    key: bytes | None = b"org:google_ads"
    topic: str = Topic.TOKEN_EXPIRING.value
    partition: int = 2
    offset: int = 41
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class DeadLetterBox:
    """The handler's ``reject``: keeps what was dead-lettered."""

    sent: list[tuple[Any, str, str]] = field(default_factory=list)

    async def __call__(self, record: Any, reason: str, error: str) -> None:
        self.sent.append((record, reason, error))


@pytest.fixture
def box() -> DeadLetterBox:
    return DeadLetterBox()


@pytest.fixture
def handler(refresher: Refresher, box: DeadLetterBox) -> ExpiringHandler:
    return ExpiringHandler(refresher, box)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed"),
        (None, "malformed"),
        (b'{"event_type": "token.expiring", "schema_version": 1}', "invalid_event"),
        (b'{"event_type": "nobody.knows", "schema_version": 1}', "unknown_event_type"),
        (b'{"event_type": "token.expiring", "schema_version": 9}', "unsupported_schema_version"),
    ],
)
async def test_undecodable_records_go_to_the_dlq_with_the_reason(
    body: bytes | None, reason: str, handler: ExpiringHandler, box: DeadLetterBox
) -> None:
    record = FakeRecord(body)
    await handler(record)
    [(sent, why, error)] = box.sent
    assert sent is record
    assert why == reason
    assert error
    assert handler.metrics.dead_letters[reason] == 1


async def test_another_topics_event_is_refused(
    handler: ExpiringHandler, box: DeadLetterBox, ring: KeyRing, catalog: Catalog
) -> None:
    from hub_contracts.examples import EXAMPLES

    other = next(e for e in EXAMPLES if e.topic == Topic.TOKEN_REFRESHED)
    await handler(FakeRecord(serialize_event(other)))
    assert [why for _, why, _ in box.sent] == ["wrong_topic"]


async def test_an_unknown_provider_is_dead_lettered(
    handler: ExpiringHandler, box: DeadLetterBox, ring: KeyRing, catalog: Catalog
) -> None:
    event = expiring(ring, catalog.get("google_ads")).model_copy(update={"provider": "gone_away"})
    await handler(FakeRecord(serialize_event(event)))
    assert [why for _, why, _ in box.sent] == ["unknown_provider"]


async def test_an_unexpected_failure_is_dead_lettered_without_a_second_call(
    handler: ExpiringHandler,
    box: DeadLetterBox,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    tokens = await connect(outbound, catalog, sandbox, "google_ads")
    event = expiring(ring, catalog.get("google_ads"), tokens=tokens)
    recorder.fail = RuntimeError("broker gone")
    await handler(FakeRecord(serialize_event(event)))
    [(_, why, error)] = box.sent
    assert why == "handler_failed"
    assert "RuntimeError" in error


async def test_no_plaintext_secret_in_logs_events_or_dead_letters(
    handler: ExpiringHandler,
    box: DeadLetterBox,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Canary secrets through refresh, rotation, failure and malformed paths; every output is
    scanned for them."""
    canaries = {name: f"canary-{name}-{os.urandom(6).hex()}" for name in ("at", "rt", "at2", "rt2")}
    await sandbox.post(
        "/_sandbox/slack/next-token",
        json={"access_token": canaries["at"], "refresh_token": canaries["rt"]},
    )
    tokens = await connect(outbound, catalog, sandbox, "slack")
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value() == canaries["rt"]
    await sandbox.post(
        "/_sandbox/slack/next-token",
        json={"access_token": canaries["at2"], "refresh_token": canaries["rt2"]},
    )
    slack = catalog.get("slack")
    caplog.set_level(logging.DEBUG)

    refresh = expiring(ring, slack, tokens=tokens)
    await handler(FakeRecord(serialize_event(refresh)))  # rotation: both new canaries issued
    [refreshed] = recorder.of(TokenRefreshedV1)
    await handler(FakeRecord(serialize_event(refresh)))  # redelivered: stale
    replay = expiring(ring, slack, tokens=tokens)  # the spent token again: revoked
    await handler(FakeRecord(serialize_event(replay)))
    await fault(sandbox, "slack", "unavailable")
    await handler(FakeRecord(serialize_event(expiring(ring, slack, tokens=tokens))))
    malformed = json.dumps({"event_type": "token.expiring", "access_token": canaries["at"]})
    await handler(FakeRecord(malformed.encode()))

    formatter = JsonFormatter("token-refresher")
    outputs = [formatter.format(record) for record in caplog.records]
    outputs += [e.model_dump_json() for e in recorder.events]
    outputs += [f"{why} {error}" for _, why, error in box.sent]
    assert len(recorder.events) >= 3, recorder.events
    assert refreshed.credentials.refresh_token is not None
    for text in outputs:
        for canary in canaries.values():
            assert canary not in text, text


async def test_a_record_with_a_binary_header_does_not_sink_its_batch() -> None:
    """FastStream's batch parser decodes headers as UTF-8; the subscriber's parser drops the
    headers that are not, so the batch still reaches the handler."""
    traceparent = ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    records = tuple(
        ConsumerRecord(
            topic=Topic.TOKEN_EXPIRING.value,
            partition=0,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            key=None,
            value=b"{}",
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=2,
            headers=[traceparent, ("junk", b"\xff\xfe")] if offset == 1 else [traceparent],
        )
        for offset in range(3)
    )
    parser = AioKafkaBatchParser(msg_class=KafkaAckableMessage, regex=None)
    with pytest.raises(UnicodeDecodeError):
        await parser.parse_batch(records)
    message = await without_binary_headers(records, parser.parse_batch)
    assert [r.offset for r in message.raw_message] == [0, 1, 2]
    assert [r.headers for r in message.raw_message] == [[traceparent]] * 3
    assert message.raw_message[0] is records[0]
