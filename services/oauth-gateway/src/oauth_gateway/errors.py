"""Everything a connect attempt can end with instead of a connection.

Every error has a stable ``code`` (also the ``reason`` of ``connection.failed`` and of the
callback's ``status=error&reason=...``), a ``message`` a person can act on, and an HTTP status.
The API's shared leaves (401, 403 scope, 404, 405, 413, 422 schema, 503 ``not_ready``) are
``hub_runtime.api_errors``'; the gateway's own root is ``GatewayError``::

    ApiError (hub_runtime.api_errors)
    └── GatewayError                          500 internal_error
        ├── permanent
        │   ├── StateRefusedError             400 invalid_state, provider_mismatch, flow_expired,
        │   │   │                                 flow_used, invalid_callback
        │   │   └── BrowserMismatchError      403 browser_mismatch
        │   ├── WrongAuthTypeError            409 wrong_auth_type, not_connected
        │   ├── UnknownResourceError          404 unknown_resource
        │   ├── InvalidValueError             422 invalid_return_to, invalid_tenant_param,
        │   │                                     unknown_field, missing_field, invalid_field,
        │   │                                     unknown_provider, platform_provider (events)
        │   ├── ConnectRefusedError           422 access_denied, provider_error, invalid_callback,
        │   │                                     issuer_mismatch, callback_signature_invalid,
        │   │                                     shop_mismatch, code_rejected,
        │   │                                     credentials_rejected, identity_refused,
        │   │                                     undecryptable_submission
        │   ├── SubmissionRefusedError        422 unknown_submission_key, unopenable_submission,
        │   │                                     symmetric_submission_refused,
        │   │                                     submission_keys_missing (events only: the
        │   │                                     record is also dead-lettered with the code)
        │   └── NotConfiguredError            503 provider_not_configured, misconfigured
        └── RetryableError
            ├── PublishFailedError            503 unavailable
            ├── StoreUnavailableError         503 store_unavailable
            ├── ProviderUnavailableError      503 provider_unavailable
            └── ProviderRateLimitedError      429 provider_rate_limited

Messages are built from catalog names and the caller's non-secret input; never from a
credential, a code or a state.
"""

from __future__ import annotations

from typing import ClassVar

from hub_catalog import WHERE
from hub_runtime.api_errors import ApiError

REALM = "oauth-gateway"
"""The ``WWW-Authenticate`` realm of the gateway's 401 and 403 answers."""


class GatewayError(ApiError):
    """The gateway's root: ``ApiError`` with what the provider said, for ``connection.failed``."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        provider: str | None = None,
        provider_status: int | None = None,
        provider_error: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, field=field, headers=headers)
        self.provider = provider
        self.provider_status = provider_status
        self.provider_error = provider_error


class StateRefusedError(GatewayError):
    """The callback cannot be tied to a flow this browser started: nothing is called."""

    status_code = 400
    code = "invalid_state"


class BrowserMismatchError(StateRefusedError):
    status_code = 403
    code = "browser_mismatch"

    def __init__(self) -> None:
        super().__init__(
            "This sign-in was started in another browser (or its cookie was blocked). Start "
            f"connecting again from {WHERE} in this browser, with cookies allowed."
        )


class WrongAuthTypeError(GatewayError):
    status_code = 409
    code = "wrong_auth_type"


class UnknownResourceError(GatewayError):
    """The provider lists no such kind of resource."""

    status_code = 404
    code = "unknown_resource"


class InvalidValueError(GatewayError):
    """A value the caller sent does not fit the catalog or the allow-lists."""

    status_code = 422
    code = "invalid_request"


class ConnectRefusedError(GatewayError):
    """The provider, or the person at the provider, said no; trying the same again will not help."""

    status_code = 422
    code = "credentials_rejected"


class SubmissionRefusedError(GatewayError):
    """An onboarding submission that cannot be opened at all: the publisher's mistake (sealed
    for another organization, to an unknown key, or the refused symmetric path), so the record
    goes to the DLQ with ``code`` as its reason, besides ``connection.failed`` for the brand."""

    status_code = 422
    code = "unopenable_submission"

    def __init__(self, message: str, *, code: str, provider: str, detail: str) -> None:
        super().__init__(message, code=code, provider=provider)
        self.detail = detail
        """For the operator (the DLQ's ``dlq-error``): what the publisher got wrong."""


class NotConfiguredError(GatewayError):
    """The operator has to fix something (platform credentials, catalog): not the brand."""

    status_code = 503
    code = "provider_not_configured"


class RetryableError(GatewayError):
    """Might succeed if tried again later: ``Retry-After`` is the provider's ``retry_after_s``
    where it gave one, else ``default_retry_after_s``."""

    status_code = 503
    retryable: ClassVar[bool] = True
    default_retry_after_s: ClassVar[int] = 5

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        provider: str | None = None,
        provider_status: int | None = None,
        provider_error: str | None = None,
    ) -> None:
        seconds = (
            max(1, round(retry_after_s))
            if retry_after_s is not None
            else self.default_retry_after_s
        )
        super().__init__(
            message,
            provider=provider,
            provider_status=provider_status,
            provider_error=provider_error,
            headers={"Retry-After": str(seconds)},
        )
        self.retry_after_s = retry_after_s


class PublishFailedError(RetryableError):
    """The broker did not take the event."""

    code = "unavailable"

    def __init__(self) -> None:
        super().__init__("We could not record this connection just now; try again in a moment.")


class StoreUnavailableError(RetryableError):
    """connection-store did not hand out a stored credential."""

    code = "store_unavailable"


class ProviderUnavailableError(RetryableError):
    code = "provider_unavailable"


class ProviderRateLimitedError(RetryableError):
    status_code = 429
    code = "provider_rate_limited"
    default_retry_after_s = 30
