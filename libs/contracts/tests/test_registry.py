"""The registry: the right model for the bytes, or an error that says why not."""

from __future__ import annotations

import json

import pytest
from hub_contracts import (
    ContractError,
    InvalidEventError,
    MalformedEventError,
    UnknownEventTypeError,
    UnsupportedSchemaVersionError,
    WrongTopicError,
    parse_event,
    serialize_event,
)
from hub_contracts.examples import EXAMPLES as SAMPLES


def _wire(**changes: object) -> bytes:
    data = json.loads(serialize_event(SAMPLES[1]))
    data.update(changes)
    return json.dumps(data).encode()


def test_parse_picks_the_model_by_type_and_version() -> None:
    for sample in SAMPLES:
        assert type(parse_event(serialize_event(sample))) is type(sample)


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (b"\xff\xfe not json", MalformedEventError, "not valid JSON"),
        (b"[1, 2]", MalformedEventError, "JSON object"),
        (b'{"schema_version": 1}', MalformedEventError, "event_type"),
        (_wire(event_type="connection.teleported"), UnknownEventTypeError, "unknown event_type"),
        (_wire(schema_version=7), UnsupportedSchemaVersionError, "schema_version 7 is not"),
        (_wire(schema_version="1"), MalformedEventError, "integer schema_version"),
        (_wire(organization_id="not-a-uuid"), InvalidEventError, "organization_id"),
        (_wire(surprise=True), InvalidEventError, "surprise"),
    ],
)
def test_bad_bytes_raise_a_clear_contract_error(
    raw: bytes, error: type[ContractError], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        parse_event(raw)
    assert caught.value.reason == error.reason


def test_validation_errors_never_echo_values() -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_event(_wire(organization_id="canary-secret-value"))
    assert "canary-secret-value" not in str(caught.value)


def test_event_on_the_wrong_topic_is_refused() -> None:
    with pytest.raises(WrongTopicError):
        parse_event(serialize_event(SAMPLES[1]), topic="token.refreshed")
    assert parse_event(serialize_event(SAMPLES[1]), topic="connection.established")
