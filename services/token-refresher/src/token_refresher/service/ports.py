"""What the refresher needs from the outside: a token source, an event sink and a journal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hub_catalog import AuthMode, Provider
from hub_contracts import Credentials, Event, TokenExpiringV1


@dataclass(frozen=True)
class Renewal:
    """A fresh credential, already encrypted for its connection."""

    credentials: Credentials
    token_expires_at: datetime | None
    scopes: list[str] | None = None


class TokenSource(Protocol):
    """Decrypts the stored credential, asks the provider for a new one, encrypts the answer.

    Raises ``hub_providers.errors.ProviderError`` leaves for the provider's answer, and before
    any call ``MissingCredentialError`` or ``UndecryptableError``.
    """

    async def renew(self, event: TokenExpiringV1, provider: Provider, mode: AuthMode) -> Renewal:
        """The renewed credential of ``event``'s connection."""


class EventSink(Protocol):
    async def publish(self, event: Event) -> None:
        """Publish and wait for the broker's acknowledgement (raise if it never comes)."""


class Journal(Protocol):
    async def record(self, event: Event) -> None:
        """Commit ``event`` durably for publication (the relay publishes it); raise if the
        store stays away."""
