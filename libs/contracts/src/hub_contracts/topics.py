"""Topic names and the message-key rule, in one place.

Every event of one connection is keyed ``"{organization_id}:{provider}"`` so it lands in one
partition, in order. Each topic carries exactly one event type, named like the topic.
"""

from __future__ import annotations

import uuid
from enum import StrEnum


class Topic(StrEnum):
    CONNECTION_REQUESTED = "connection.requested"
    CONNECTION_ESTABLISHED = "connection.established"
    CONNECTION_FAILED = "connection.failed"
    TOKEN_EXPIRING = "token.expiring"
    TOKEN_REFRESHED = "token.refreshed"
    CONNECTION_CHECK_DUE = "connection.check_due"
    CONNECTION_UNHEALTHY = "connection.unhealthy"
    CONNECTION_RECOVERED = "connection.recovered"
    CONNECTION_DISCONNECTED = "connection.disconnected"
    CONNECTION_CHECKED = "connection.checked"


ALL_TOPICS: tuple[str, ...] = tuple(topic.value for topic in Topic)

CREDENTIAL_TOPICS: frozenset[Topic] = frozenset(
    {
        Topic.CONNECTION_REQUESTED,
        Topic.CONNECTION_ESTABLISHED,
        Topic.TOKEN_EXPIRING,
        Topic.TOKEN_REFRESHED,
        Topic.CONNECTION_CHECK_DUE,
        Topic.CONNECTION_DISCONNECTED,
    }
)
"""Topics whose events carry ciphertext: give them bounded retention (SECURITY.md 15)."""

DLQ_SUFFIX = ".dlq"

_CONNECTION_NAMESPACE = uuid.UUID("5b0d2a8e-6a4f-4d69-9a8c-2c7f0e3b9d11")


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}{DLQ_SUFFIX}"


def message_key(organization_id: uuid.UUID | str, provider: str) -> bytes:
    """The Kafka key of every event of one connection."""
    return f"{organization_id}:{provider}".encode()


def connection_id(organization_id: uuid.UUID | str, provider: str) -> uuid.UUID:
    """The id of an organization's connection to a provider.

    There is at most one connection per (organization, provider), so its id is derived rather
    than allocated: the gateway can name a connection before the store has seen it, and a
    reconnect keeps the id.
    """
    return uuid.uuid5(_CONNECTION_NAMESPACE, f"{uuid.UUID(str(organization_id))}:{provider}")
