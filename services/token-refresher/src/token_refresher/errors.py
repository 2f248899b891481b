"""What can go wrong refreshing a credential, beyond the provider's own failures.

    RefresherError                   permanent: retrying cannot help; carries ``provider``
    ├── MissingCredentialError       the stored credential lacks what the strategy needs
    └── DeadLetterError              the event itself cannot be handled: to the DLQ (``reason``)
        ├── NotInCatalogError        provider or auth type not in the catalog
        └── UndecryptableError       the key ring cannot open the stored ciphertext

A provider's answers (unavailable and rate limited: retryable; revoked, rejected: permanent) are
``hub_providers.errors``, caught as they are. Messages never name a credential.
"""

from __future__ import annotations


class RefresherError(Exception):
    def __init__(self, provider: str, message: str) -> None:
        super().__init__(message)
        self.provider = provider


class MissingCredentialError(RefresherError):
    """``str(error)`` names what is missing (``refresh token``)."""


class DeadLetterError(RefresherError):
    """The event goes to ``token.expiring.dlq`` with ``reason``."""

    reason = "permanent_failure"


class NotInCatalogError(DeadLetterError):
    reason = "unknown_provider"


class UndecryptableError(DeadLetterError):
    reason = "undecryptable_credential"
