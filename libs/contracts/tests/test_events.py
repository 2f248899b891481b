"""Event models: round trips, the secret-field guard, the envelope."""

from __future__ import annotations

import json
import re
import types
import typing
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hub_contracts import (
    EVENT_MODELS,
    ConnectionEstablishedV1,
    Credentials,
    EncryptedCredential,
    Event,
    SealedCredential,
    TokenRefreshedV1,
    connection_id,
    parse_event,
    serialize_event,
)
from hub_contracts.examples import EXAMPLES as SAMPLES
from hub_contracts.examples import ciphertext
from hub_contracts.topics import ALL_TOPICS
from pydantic import BaseModel

SECRET_NAME = re.compile(r"token|secret|key|password|credential", re.IGNORECASE)


def _string_like(annotation: object) -> bool:
    """Whether a field annotation admits a plain string anywhere."""
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _string_like(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, dict, tuple, set, frozenset):
        args = typing.get_args(annotation)
        # dict keys are names, not values: only the value type matters
        args = args[1:] if origin is dict else args
        return any(_string_like(arg) for arg in args)
    if origin is typing.Literal:
        return False
    return False


def _models_reachable(model: type[BaseModel]) -> set[type[BaseModel]]:
    found = {model}
    for field in model.model_fields.values():
        for arg in _flatten(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found |= _models_reachable(arg)
    return found


def _flatten(annotation: object) -> list[object]:
    args = typing.get_args(annotation)
    if not args:
        return [annotation]
    return [annotation, *[leaf for arg in args for leaf in _flatten(arg)]]


def test_every_topic_has_exactly_one_v1_model() -> None:
    assert sorted(t for t, version in EVENT_MODELS if version == 1) == sorted(ALL_TOPICS)
    assert len(SAMPLES) == len(EVENT_MODELS)


@pytest.mark.parametrize("model", sorted(EVENT_MODELS.values(), key=lambda m: m.topic.value))
def test_no_event_field_named_like_a_secret_holds_a_plain_string(model: type[Event]) -> None:
    offenders = [
        f"{reachable.__name__}.{name}"
        for reachable in _models_reachable(model)
        if reachable not in (EncryptedCredential, SealedCredential)
        for name, field in reachable.model_fields.items()
        if SECRET_NAME.search(name) and _string_like(field.annotation)
    ]
    assert offenders == []


def test_the_secret_field_guard_catches_a_plain_token_string() -> None:
    class LeakyV1(Event):
        access_token: str

    offenders = [
        n
        for n, f in LeakyV1.model_fields.items()
        if SECRET_NAME.search(n) and _string_like(f.annotation)
    ]
    assert offenders == ["access_token"]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.event_type)
def test_event_round_trips_through_its_wire_form(event: Event) -> None:
    parsed = parse_event(serialize_event(event))
    assert type(parsed) is type(event)
    assert parsed == event


def test_envelope_fields_are_filled_by_default() -> None:
    event = SAMPLES[0]
    assert isinstance(event.event_id, uuid.UUID)
    assert event.occurred_at.tzinfo is not None
    assert event.schema_version == 1


def test_naive_timestamps_are_refused() -> None:
    data = SAMPLES[0].model_dump(mode="json")
    data["occurred_at"] = "2026-01-01T00:00:00"
    with pytest.raises(ValueError, match="occurred_at"):
        type(SAMPLES[0]).model_validate(data)


def test_refreshed_version_must_follow_an_existing_one() -> None:
    with pytest.raises(ValueError, match="credential_version"):
        TokenRefreshedV1(
            organization_id=uuid.uuid4(),
            provider="google_ads",
            connection_id=uuid.uuid4(),
            credential_version=1,
            credentials=Credentials(access_token=ciphertext()),
            token_expires_at=datetime.now(UTC) + timedelta(hours=1),
        )


def test_nonce_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="nonce must be exactly 12 bytes"):
        EncryptedCredential(key_id="k1", nonce=b"\x00" * 16, ciphertext=b"\x00" * 32)


def test_connection_id_is_stable_per_organization_and_provider() -> None:
    org = uuid.uuid4()
    assert connection_id(org, "shopify") == connection_id(str(org), "shopify")
    assert connection_id(org, "shopify") != connection_id(org, "slack")
    assert connection_id(org, "shopify") != connection_id(uuid.uuid4(), "shopify")


def test_established_event_json_holds_no_plaintext_fields() -> None:
    event = next(e for e in SAMPLES if isinstance(e, ConnectionEstablishedV1))
    wire = serialize_event(event).decode()
    assert '"access_token":{"format":1,"key_id":"k1"' in wire


def test_connection_requested_v2_carries_sealed_fields_only_and_at_least_one() -> None:
    from hub_contracts import ConnectionRequestedV2, InvalidEventError
    from hub_contracts.examples import sealed

    event = ConnectionRequestedV2(
        organization_id=uuid.uuid4(),
        provider="klaviyo",
        auth_type="api_key",
        submission={"private_api_key": sealed()},
    )
    assert type(parse_event(serialize_event(event), topic="connection.requested")) is type(event)
    data = event.model_dump(mode="json")
    with pytest.raises(InvalidEventError, match="submission"):
        parse_event(json.dumps({**data, "submission": {}}))
    symmetric = {"private_api_key": ciphertext().model_dump(mode="json")}
    with pytest.raises(InvalidEventError, match="ephemeral_public_key"):
        parse_event(json.dumps({**data, "submission": symmetric}))
    short = {**data["submission"]["private_api_key"], "ephemeral_public_key": "AAAA"}
    with pytest.raises(InvalidEventError, match="32 bytes"):
        parse_event(json.dumps({**data, "submission": {"private_api_key": short}}))
