"""Why a ``connection.check_due`` could not be checked.

    MonitorError
    ├── PermanentCheckError            retrying cannot help: the event goes to the DLQ
    │   ├── UnknownProviderError       the catalog has no tenant provider by that id
    │   ├── UnknownAuthModeError       the provider has no such auth mode (any more)
    │   └── UndecryptableCredentialError  no key of the ring opens a ciphertext (SECURITY 11)
    └── RetryableCheckError            the consumer tries the event again
        └── EventNotPublishedError     the verdict could not be published

A provider's failure is never re-declared here: it is ``hub_providers.errors``, classified into
an outcome (``domain.Outcome``). Messages name the provider, the connection and the field, never
a value.
"""

from __future__ import annotations


class MonitorError(Exception):
    reason = "monitor_error"


class PermanentCheckError(MonitorError):
    reason = "permanent_failure"


class UnknownProviderError(PermanentCheckError):
    reason = "unknown_provider"


class UnknownAuthModeError(PermanentCheckError):
    reason = "unknown_auth_type"


class UndecryptableCredentialError(PermanentCheckError):
    reason = "undecryptable_credential"


class RetryableCheckError(MonitorError):
    reason = "retryable_failure"


class EventNotPublishedError(RetryableCheckError):
    reason = "not_published"
