"""Everything the gateway can answer instead of a connection.

Every error has a stable ``code`` (also the ``reason`` of ``connection.failed`` and of the
callback's ``status=error&reason=...``), a ``message`` a person can act on, and an HTTP status.
Permanent errors are final for the attempt; retryable ones may succeed if tried again later::

    GatewayError                              500 internal_error
    ├── permanent
    │   ├── BadRequestError                   400 invalid_json
    │   ├── StateRefusedError                 400 invalid_state, provider_mismatch, flow_expired,
    │   │   │                                     flow_used
    │   │   └── BrowserMismatchError          403 browser_mismatch
    │   ├── UnauthenticatedError              401 missing_token, invalid_token
    │   ├── InsufficientScopeError            403 insufficient_scope
    │   ├── NotFoundError                     404 not_found, unknown_provider, platform_provider
    │   ├── WrongAuthTypeError                409 wrong_auth_type
    │   ├── BodyTooLargeError                 413 body_too_large
    │   ├── InvalidRequestError               422 invalid_request, invalid_return_to,
    │   │                                         invalid_tenant_param, unknown_field,
    │   │                                         missing_field, invalid_field
    │   ├── ConnectRefusedError               422 access_denied, provider_error, invalid_callback,
    │   │                                         issuer_mismatch, callback_signature_invalid,
    │   │                                         code_rejected, credentials_rejected,
    │   │                                         identity_refused, undecryptable_submission
    │   └── NotConfiguredError                503 provider_not_configured, misconfigured
    └── retryable
        └── UnavailableError                  503 unavailable, not_ready
            ├── ProviderUnavailableError      503 provider_unavailable
            └── ProviderRateLimitedError      429 provider_rate_limited

Messages are built from catalog names and the caller's non-secret input; never from a
credential, a code or a state.
"""

from __future__ import annotations

from typing import Any

from hub_runtime.api_errors import ApiError

WHERE = "Settings → Integrations"


class GatewayError(ApiError):
    """The gateway's root: ``hub_runtime.api_errors.ApiError`` with the provider's details."""

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


class BadRequestError(GatewayError):
    status_code = 400
    code = "invalid_json"


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


class UnauthenticatedError(GatewayError):
    status_code = 401
    code = "invalid_token"

    def __init__(self, message: str, *, code: str = "invalid_token") -> None:
        challenge = 'Bearer realm="oauth-gateway"'
        if code == "invalid_token":
            challenge += ', error="invalid_token"'
        super().__init__(message, code=code, headers={"WWW-Authenticate": challenge})


class InsufficientScopeError(GatewayError):
    status_code = 403
    code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"This token lacks the {scope!r} scope; ask for a token that carries it.",
            headers={
                "WWW-Authenticate": (
                    f'Bearer realm="oauth-gateway", error="insufficient_scope", scope="{scope}"'
                )
            },
        )


class NotFoundError(GatewayError):
    status_code = 404
    code = "not_found"


class WrongAuthTypeError(GatewayError):
    status_code = 409
    code = "wrong_auth_type"


class BodyTooLargeError(GatewayError):
    status_code = 413
    code = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes; send less.")


class InvalidRequestError(GatewayError):
    status_code = 422
    code = "invalid_request"


class ConnectRefusedError(GatewayError):
    """The provider, or the person at the provider, said no; trying the same again will not help."""

    status_code = 422
    code = "credentials_rejected"


class NotConfiguredError(GatewayError):
    """The operator has to fix something (platform credentials, catalog): not the brand."""

    status_code = 503
    code = "provider_not_configured"


class UnavailableError(GatewayError):
    status_code = 503
    code = "unavailable"
    retryable = True

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        details.setdefault("headers", {"Retry-After": "5"})
        super().__init__(message, code=code, **details)


class ProviderUnavailableError(UnavailableError):
    code = "provider_unavailable"


class ProviderRateLimitedError(UnavailableError):
    status_code = 429
    code = "provider_rate_limited"

    def __init__(self, message: str, *, retry_after_s: float | None, **details: Any) -> None:
        self.retry_after_s = retry_after_s
        seconds = max(1, round(retry_after_s)) if retry_after_s is not None else 30
        details["headers"] = {"Retry-After": str(seconds)}
        super().__init__(message, **details)
