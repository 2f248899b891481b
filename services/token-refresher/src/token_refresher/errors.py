"""What can go wrong refreshing a credential.

    RefresherError                       every leaf carries ``provider``, ``status_code``, ``code``
    ├── RetryableError                   try again later; never ``connection.unhealthy`` by itself
    │   ├── ProviderUnavailableError     5xx, timeout, network: backoff, then provider_unavailable
    │   └── RateLimitedError             429 or a body-coded limit: wait ``retry_after_s``
    └── PermanentError                   retrying cannot help
        ├── CredentialRevokedError       the provider's revoked signal: reconnect (revoked)
        ├── ProviderRejectedError        any other refusal of our request (misconfigured)
        ├── MissingCredentialError       the stored credential lacks what the strategy needs
        └── DeadLetterError              the event itself cannot be handled: to the DLQ
            ├── UnknownProviderError     provider or auth type not in the catalog
            └── UndecryptableError       the key ring cannot open the stored ciphertext

Messages name the provider, the status and the provider's error code, never a credential.
"""

from __future__ import annotations


class RefresherError(Exception):
    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.code = code


class RetryableError(RefresherError):
    pass


class ProviderUnavailableError(RetryableError):
    pass


class RateLimitedError(RetryableError):
    def __init__(
        self,
        provider: str,
        message: str,
        *,
        retry_after_s: float | None,
        status_code: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(provider, message, status_code=status_code, code=code)
        self.retry_after_s = retry_after_s


class PermanentError(RefresherError):
    pass


class CredentialRevokedError(PermanentError):
    pass


class ProviderRejectedError(PermanentError):
    pass


class MissingCredentialError(PermanentError):
    pass


class DeadLetterError(PermanentError):
    """The event goes to ``token.expiring.dlq`` with ``reason``."""

    reason = "permanent_failure"


class UnknownProviderError(DeadLetterError):
    reason = "unknown_provider"


class UndecryptableError(DeadLetterError):
    reason = "undecryptable_credential"
