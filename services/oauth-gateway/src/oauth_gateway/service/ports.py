"""What the service layer needs from the outside world, and the values that cross it.

Each port's adapter is the module of its name: ``adapters.pending_flows`` (PostgreSQL),
``adapters.events`` (the broker), ``adapters.providers`` (``hub_providers``); tests use fakes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from hub_catalog import AuthMode, Provider, RequestSpec, ResourceListing, Revocation
from hub_contracts import Credentials, EncryptedCredential, Event
from pydantic import SecretStr


@dataclass(frozen=True)
class PendingFlow:
    """The server-side record of one OAuth flow: valid once, for ``flow_ttl``, in one browser."""

    flow_id: uuid.UUID
    organization_id: uuid.UUID
    provider: str
    auth_type: str
    nonce: str
    browser_binding: str
    code_verifier: EncryptedCredential | None
    """Encrypted with the key ring, bound to (organization, provider, ``code_verifier``)."""
    return_to: str | None
    tenant_params: dict[str, str]
    requested_by: str | None
    created_at: datetime
    expires_at: datetime


class PendingFlows(Protocol):
    async def create(self, flow: PendingFlow, requested: Event) -> None:
        """Record the flow and, in the same transaction, the event announcing it (the outbox);
        raise ``errors.PublishFailedError`` when that cannot be recorded."""
        ...

    async def claim(self, flow_id: uuid.UUID, provider: str) -> PendingFlow | None:
        """Mark the flow claimed and return it, if it is unclaimed, unconsumed and unexpired:
        atomically, so of two concurrent callbacks exactly one gets it."""
        ...

    async def return_to(
        self, flow_id: uuid.UUID, organization_id: uuid.UUID, provider: str
    ) -> str | None:
        """The flow's return URL while the flow is on record (claimed, used or expired alike),
        so a refused callback can send the person back where they started; else ``None``."""
        ...

    async def finish(self, flow: PendingFlow, result: Event) -> bool:
        """Consume the claimed flow and record its result (``connection.established`` or
        ``.failed``) in one transaction: durable when this returns. False when the flow was
        already ended (the expiry sweep); ``errors.PublishFailedError`` when nothing could be
        recorded."""
        ...

    async def end(
        self, flow_id: uuid.UUID, provider: str, organization_id: uuid.UUID, result: Event
    ) -> bool:
        """Consume a flow whose callback was refused (its state verified: expired, another
        browser) and record ``result`` (``connection.failed``) in one transaction. False when no
        such open flow exists (already ended); ``errors.PublishFailedError`` on an outage."""
        ...

    async def expire(
        self, result: Callable[[PendingFlow], Event], *, limit: int, claim_grace_s: float
    ) -> int:
        """End up to ``limit`` open flows past their lifetime (claimed ones only once their
        callback had ``claim_grace_s`` to finish), each with ``result(flow)`` in the outbox, in
        one transaction that skips rows another replica holds; return how many were ended."""
        ...


class Events(Protocol):
    async def publish(self, event: Event) -> None:
        """Publish, or raise ``errors.PublishFailedError``."""
        ...


@dataclass(frozen=True)
class IssuedTokens:
    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """Non-secret facts of the token answer (Slack ``team``, TikTok ``advertiser_ids``)."""


@dataclass(frozen=True)
class AccountFacts:
    id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    """What the identity answer adds to the connection's metadata (Meta's ad accounts)."""


class Providers(Protocol):
    """Provider calls from catalog data; failures raise ``hub_providers.errors.ProviderError``."""

    def authorization_url(
        self,
        provider: Provider,
        values: Mapping[str, str],
        *,
        redirect_uri: str,
        state: str,
        code_verifier: str | None,
    ) -> str: ...

    async def exchange_code(
        self,
        provider: Provider,
        values: Mapping[str, str],
        *,
        redirect_uri: str,
        code: str,
        code_verifier: str | None,
    ) -> IssuedTokens: ...

    async def request(
        self, provider: Provider, mode: AuthMode, spec: RequestSpec, values: Mapping[str, str]
    ) -> AccountFacts: ...

    async def mint(
        self, provider: Provider, mode: AuthMode, values: Mapping[str, str]
    ) -> IssuedTokens: ...

    async def revoke(
        self, provider: Provider, values: Mapping[str, str], token: SecretStr, *, hint: str
    ) -> None:
        """RFC 7009 revocation; an already-invalid token counts as revoked."""
        ...

    async def revocation(
        self, provider: Provider, spec: Revocation, values: Mapping[str, str]
    ) -> None:
        """The provider's own revocation request (catalog ``revocation``); the provider's
        revoked answer counts as revoked."""
        ...


@dataclass(frozen=True)
class StoredCredential:
    """A connection's credential as the store holds it: ciphertext only."""

    auth_type: str | None
    credential_version: int
    sealed: Credentials
    metadata: dict[str, Any] = field(default_factory=dict)


class SealedCredentials(Protocol):
    """connection-store's internal credential endpoint."""

    async def get(self, organization_id: uuid.UUID, provider: str) -> StoredCredential | None:
        """The connection's sealed credential, or ``None`` when it holds none."""
        ...


class Listings(Protocol):
    """Resource listings at the provider; failures raise ``hub_providers.errors``."""

    async def list(
        self,
        provider: Provider,
        mode: AuthMode,
        listing: ResourceListing,
        values: Mapping[str, str],
    ) -> list[tuple[str, str]]: ...
