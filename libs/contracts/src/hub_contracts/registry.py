"""From raw bytes to the right event model, by ``event_type`` and ``schema_version``."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from hub_contracts.errors import (
    InvalidEventError,
    MalformedEventError,
    UnknownEventTypeError,
    UnsupportedSchemaVersionError,
    WrongTopicError,
)
from hub_contracts.events import Event

EVENT_MODELS: dict[tuple[str, int], type[Event]] = {
    (model.topic.value, model.model_fields["schema_version"].default): model
    for model in Event.__subclasses__()
}
"""Every event model by (event type, schema version): each ``Event`` subclass in ``events``."""


def parse_event(raw: bytes | str, *, topic: str | None = None) -> Event:
    """Parse one event; raise a ``ContractError`` that says what is wrong, never the values.

    With ``topic``, also refuse a valid event that does not belong on that topic.
    """
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEventError(f"event is not valid JSON: {exc.__class__.__name__}") from None
    if not isinstance(data, dict):
        raise MalformedEventError("event must be a JSON object")
    event_type, version = data.get("event_type"), data.get("schema_version")
    if not isinstance(event_type, str):
        raise MalformedEventError("event has no string event_type")
    known = sorted(v for (t, v) in EVENT_MODELS if t == event_type)
    if not known:
        raise UnknownEventTypeError(f"unknown event_type {event_type[:100]!r}")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MalformedEventError(f"{event_type} has no integer schema_version")
    model = EVENT_MODELS.get((event_type, version))
    if model is None:
        raise UnsupportedSchemaVersionError(
            f"{event_type} schema_version {version} is not supported here (known: {known}); "
            "upgrade this consumer or send a supported version"
        )
    if topic is not None and model.topic.value != topic:
        raise WrongTopicError(f"{event_type} does not belong on topic {topic!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise InvalidEventError(f"invalid {event_type} v{version}: {problems}") from None


def serialize_event(event: Event) -> bytes:
    """The wire form of an event (UTF-8 JSON)."""
    return event.model_dump_json().encode()
