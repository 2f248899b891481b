"""Why raw bytes could not become an event.

    ContractError (ValueError)
    ├── MalformedEventError          not JSON, or not a JSON object
    ├── UnknownEventTypeError        event_type names no known event
    ├── UnsupportedSchemaVersionError  a known event in a version this code does not read
    ├── InvalidEventError            the right model, but fields fail validation
    └── WrongTopicError              a valid event on a topic that does not carry it

Every error has a short ``reason`` code, used in dead-letter headers and metrics; messages never
contain field values (credentials travel as ciphertext, but a bad producer might send anything).
"""

from __future__ import annotations


class ContractError(ValueError):
    reason = "contract_error"


class MalformedEventError(ContractError):
    reason = "malformed"


class UnknownEventTypeError(ContractError):
    reason = "unknown_event_type"


class UnsupportedSchemaVersionError(ContractError):
    reason = "unsupported_schema_version"


class InvalidEventError(ContractError):
    reason = "invalid_event"


class WrongTopicError(ContractError):
    reason = "wrong_topic"
