"""Every event of the hub: the envelope and one versioned model per topic.

Events are past-tense facts. A model is never changed once published: a new field or meaning is
a new ``...V2`` model beside the old one, registered in ``hub_contracts.registry``.
Credentials appear only as ``Credentials`` (ciphertext); a test guards that no other field
named like a secret holds a string.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from hub_contracts.credential import Credentials, EncryptedCredential, FieldName, SealedCredential
from hub_contracts.topics import Topic

ProviderId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
ReasonCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
Message = Annotated[str, Field(min_length=1, max_length=2000)]
AuthTypeName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]
"""A catalog ``AuthType`` value (``oauth2_authorization_code``, ``api_key``...)."""
ServiceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")]
Metadata = dict[Annotated[str, Field(max_length=64)], JsonValue]
"""Non-secret facts about a connection: shop domain, advertiser ids, bot user id..."""


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """The envelope every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    topic: ClassVar[Topic]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    schema_version: int
    occurred_at: AwareDatetime = Field(default_factory=_now)
    organization_id: uuid.UUID
    provider: ProviderId


class Account(BaseModel):
    """Who the credential belongs to at the provider: "Connected to <name>"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(max_length=200)] | None = None
    name: Annotated[str, Field(max_length=200)] | None = None


class ConnectionRequestedV1(Event):
    """A brand started connecting a provider (OAuth start, or an API-key submission)."""

    topic = Topic.CONNECTION_REQUESTED
    event_type: Literal["connection.requested"] = "connection.requested"
    schema_version: Literal[1] = 1

    flow_id: uuid.UUID
    auth_type: AuthTypeName
    requested_by: Annotated[str, Field(max_length=200)] | None = None
    submission: dict[FieldName, EncryptedCredential] = Field(default_factory=dict)
    """Encrypted API-key fields typed during onboarding, to be validated by the gateway."""
    tenant_params: dict[FieldName, Annotated[str, Field(max_length=255)]] = Field(
        default_factory=dict
    )
    """Per-tenant URL parameters such as Shopify's ``shop``."""


class ConnectionRequestedV2(Event):
    """An onboarding service submitted typed credentials (API keys) for a brand, each field
    sealed to the hub's public submission key (``GET /v1/submission-keys`` on the gateway).

    Replaces v1's ``submission`` (symmetric, under the hub's own ``CREDENTIAL_KEYS``, refused in
    production); OAuth starts stay v1, published by the gateway itself.
    """

    topic = Topic.CONNECTION_REQUESTED
    event_type: Literal["connection.requested"] = "connection.requested"
    schema_version: Literal[2] = 2

    flow_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    auth_type: AuthTypeName
    requested_by: Annotated[str, Field(max_length=200)] | None = None
    submission: Annotated[dict[FieldName, SealedCredential], Field(min_length=1, max_length=20)]
    """Every field the catalog's mode asks for, sealed on its own, bound to organization,
    provider and field name."""
    tenant_params: dict[FieldName, Annotated[str, Field(max_length=255)]] = Field(
        default_factory=dict
    )
    """Per-tenant URL parameters such as Shopify's ``shop``."""


ConnectionRequested = ConnectionRequestedV1 | ConnectionRequestedV2
"""What a ``connection.requested`` consumer receives."""


class ConnectionEstablishedV1(Event):
    """A provider accepted the credential; the store saves it as an active connection."""

    topic = Topic.CONNECTION_ESTABLISHED
    event_type: Literal["connection.established"] = "connection.established"
    schema_version: Literal[1] = 1

    connection_id: uuid.UUID
    flow_id: uuid.UUID | None = None
    auth_type: AuthTypeName
    credentials: Credentials
    token_expires_at: AwareDatetime | None = None
    scopes: list[str] = Field(default_factory=list)
    account: Account = Field(default_factory=Account)
    metadata: Metadata = Field(default_factory=dict)


class ConnectionFailedV1(Event):
    """A connect attempt ended without a connection."""

    topic = Topic.CONNECTION_FAILED
    event_type: Literal["connection.failed"] = "connection.failed"
    schema_version: Literal[1] = 1

    flow_id: uuid.UUID | None = None
    requested_at: AwareDatetime | None = None
    """When the attempt began (its ``connection.requested``'s ``occurred_at``): the store can
    order a failure that overtakes its request on the other topic."""
    reason: ReasonCode
    message: Message
    provider_status: int | None = None
    provider_error: Annotated[str, Field(max_length=200)] | None = None


class TokenExpiringV1(Event):
    """A credential is due for refresh (or, if it cannot be refreshed, for a reminder)."""

    topic = Topic.TOKEN_EXPIRING
    event_type: Literal["token.expiring"] = "token.expiring"
    schema_version: Literal[1] = 1

    connection_id: uuid.UUID
    credential_version: Annotated[int, Field(ge=1)]
    auth_type: AuthTypeName
    refresh_strategy: Annotated[str, Field(pattern=r"^[a-z_]{2,40}$")]
    token_expires_at: AwareDatetime | None
    credentials: Credentials | None = None
    """Absent for credentials that cannot be refreshed (the reminder path needs none)."""
    metadata: Metadata = Field(default_factory=dict)
    trigger: Literal["scheduled", "on_demand"] = "scheduled"
    """``on_demand``: a hub service is waiting for this credential (the store's credentials
    API); answered like a scheduled one, by ``token.refreshed`` or ``connection.unhealthy``."""


class TokenRefreshedV1(Event):
    """A credential was refreshed; ``credential_version`` is one more than the one it replaces."""

    topic = Topic.TOKEN_REFRESHED
    event_type: Literal["token.refreshed"] = "token.refreshed"
    schema_version: Literal[1] = 1

    connection_id: uuid.UUID
    credential_version: Annotated[int, Field(ge=2)]
    credentials: Credentials
    token_expires_at: AwareDatetime | None
    scopes: list[str] | None = None


class ConnectionCheckDueV1(Event):
    """A connection's health check is due (scheduled sweep or "Sync now")."""

    topic = Topic.CONNECTION_CHECK_DUE
    event_type: Literal["connection.check_due"] = "connection.check_due"
    schema_version: Literal[1] = 1

    connection_id: uuid.UUID
    credential_version: Annotated[int, Field(ge=1)]
    auth_type: AuthTypeName
    trigger: Literal["scheduled", "sync_now"]
    status: Literal["active", "error", "expired"]
    """The connection's status when the check was due: the monitor reports only transitions."""
    last_error_code: ReasonCode | None = None
    credentials: Credentials
    metadata: Metadata = Field(default_factory=dict)


UnhealthyReason = Literal[
    "revoked",
    "expired",
    "reauth_soon",
    "invalid_credentials",
    "insufficient_scope",
    "provider_unavailable",
    "misconfigured",
]


class ConnectionUnhealthyV1(Event):
    """A connection needs attention. ``message`` tells a person what to do next."""

    topic = Topic.CONNECTION_UNHEALTHY
    event_type: Literal["connection.unhealthy"] = "connection.unhealthy"
    schema_version: Literal[1] = 1

    connection_id: uuid.UUID
    credential_version: Annotated[int, Field(ge=1)]
    reason: UnhealthyReason
    message: Message
    detected_by: ServiceName
    provider_status: int | None = None
    provider_code: Annotated[str, Field(max_length=200)] | None = None
    token_expires_at: AwareDatetime | None = None
    """For ``reauth_soon``: when the credential stops working."""


class ConnectionRecoveredV1(Event):
    """A connection that was unhealthy works again."""

    topic = Topic.CONNECTION_RECOVERED
    event_type: Literal["connection.recovered"] = "connection.recovered"
    schema_version: Literal[1] = 1

    connection_id: uuid.UUID
    credential_version: Annotated[int, Field(ge=1)]
    detected_by: ServiceName


CheckOutcome = Literal[
    "healthy",
    "revoked",
    "permission",
    "misconfigured",
    "malformed",
    "rate_limited",
    "provider_unavailable",
    "unverifiable",
    "error",
]
"""What one health check found; ``error``: the check itself could not be made (undecryptable
credential, unknown provider...)."""


class ConnectionCheckedV1(Event):
    """A health check finished, whatever it found (healthy too): the store shows when and what.

    ``check_id`` is the ``event_id`` of the ``connection.check_due`` it answers, so "Sync now"
    can name its check before it runs.
    """

    topic = Topic.CONNECTION_CHECKED
    event_type: Literal["connection.checked"] = "connection.checked"
    schema_version: Literal[1] = 1

    connection_id: uuid.UUID
    credential_version: Annotated[int, Field(ge=1)]
    check_id: uuid.UUID
    trigger: Literal["scheduled", "sync_now"]
    outcome: CheckOutcome
    checked_at: AwareDatetime
    detected_by: ServiceName
    provider_status: int | None = None
    provider_code: Annotated[str, Field(max_length=200)] | None = None


class ConnectionDisconnectedV1(Event):
    """A connection was disconnected; its credentials are wiped."""

    topic = Topic.CONNECTION_DISCONNECTED
    event_type: Literal["connection.disconnected"] = "connection.disconnected"
    schema_version: Literal[1] = 1

    connection_id: uuid.UUID
    disconnected_by: Annotated[str, Field(max_length=200)] | None = None
    reason: Literal["user_request", "provider_revoked", "uninstalled"] = "user_request"
    credentials: Credentials | None = None
    """The ciphertext wiped from the store, so the gateway can revoke it at the provider where
    the provider supports revocation (SECURITY.md 16); absent when nothing was stored."""
    metadata: Metadata = Field(default_factory=dict)
    """The connection's non-secret facts as stored (Shopify's ``shop``): what a revocation
    request at the provider is addressed with."""
