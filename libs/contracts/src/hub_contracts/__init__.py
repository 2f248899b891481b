"""Event contracts: the envelope, one versioned model per topic, topics and the key rule."""

from hub_contracts.credential import NONCE_BYTES, Credentials, EncryptedCredential
from hub_contracts.errors import (
    ContractError,
    InvalidEventError,
    MalformedEventError,
    UnknownEventTypeError,
    UnsupportedSchemaVersionError,
    WrongTopicError,
)
from hub_contracts.events import (
    Account,
    ConnectionCheckDueV1,
    ConnectionDisconnectedV1,
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRecoveredV1,
    ConnectionRequestedV1,
    ConnectionUnhealthyV1,
    Event,
    TokenExpiringV1,
    TokenRefreshedV1,
    UnhealthyReason,
)
from hub_contracts.registry import EVENT_MODELS, parse_event, serialize_event
from hub_contracts.topics import (
    ALL_TOPICS,
    CREDENTIAL_TOPICS,
    Topic,
    connection_id,
    dlq_topic,
    message_key,
)

__all__ = [
    "ALL_TOPICS",
    "CREDENTIAL_TOPICS",
    "EVENT_MODELS",
    "NONCE_BYTES",
    "Account",
    "ConnectionCheckDueV1",
    "ConnectionDisconnectedV1",
    "ConnectionEstablishedV1",
    "ConnectionFailedV1",
    "ConnectionRecoveredV1",
    "ConnectionRequestedV1",
    "ConnectionUnhealthyV1",
    "ContractError",
    "Credentials",
    "EncryptedCredential",
    "Event",
    "InvalidEventError",
    "MalformedEventError",
    "TokenExpiringV1",
    "TokenRefreshedV1",
    "Topic",
    "UnhealthyReason",
    "UnknownEventTypeError",
    "UnsupportedSchemaVersionError",
    "WrongTopicError",
    "connection_id",
    "dlq_topic",
    "message_key",
    "parse_event",
    "serialize_event",
]
