"""What can go wrong talking to a provider.

    ProviderError                      every leaf carries ``provider``
    ├── UnsafeDestinationError         refused before sending (SECURITY.md 20); permanent
    ├── ResponseTooLargeError          the answer exceeded the size cap
    ├── ProviderUnavailableError       network error, timeout or 5xx; retryable
    ├── RateLimitedError               429 or a body-coded limit; retry after ``retry_after``
    ├── CredentialRevokedError         the provider's revoked signal; reconnecting is the fix
    └── ProviderRejectedError          any other refusal (4xx, ``ok: false``); permanent

Messages name the provider, the status and the provider's error code, never a credential.
"""

from __future__ import annotations


class ProviderError(Exception):
    retryable = False

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


class UnsafeDestinationError(ProviderError):
    def __init__(self, provider: str, host: str, why: str) -> None:
        super().__init__(provider, f"refused to call {host!r} for {provider}: {why}")
        self.host = host


class ResponseTooLargeError(ProviderError):
    def __init__(self, limit: int) -> None:
        super().__init__("", f"provider answer exceeded {limit} bytes")


class ProviderUnavailableError(ProviderError):
    retryable = True


class RateLimitedError(ProviderError):
    retryable = True

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


class CredentialRevokedError(ProviderError):
    pass


class ProviderRejectedError(ProviderError):
    pass
