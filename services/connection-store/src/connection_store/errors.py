"""What the REST API answers when it cannot do what was asked.

Every error is a status, a stable ``code`` a program can branch on and a ``message`` a person can
act on; the HTTP layer renders it as ``{"error": {"code", "message"[, "field"]}}``. This module
imports no I/O library, so the service layer raises these directly::

    ApiError                                500 internal_error
    ├── BadRequestError                     400 invalid_json
    ├── UnauthenticatedError                401 missing_token, invalid_token
    ├── InsufficientScopeError              403 insufficient_scope
    ├── NotFoundError                       404 not_found
    │   ├── UnknownProviderError            404 unknown_provider
    │   ├── PlatformProviderError           404 platform_provider
    │   └── NothingToDisconnectError        404 not_connected
    ├── MethodNotAllowedError               405 method_not_allowed
    ├── ConflictError                       409 conflict
    │   ├── NotConnectedError               409 not_connected
    │   └── ConnectionRequiredError         409 connection_required
    ├── BodyTooLargeError                   413 body_too_large
    ├── InvalidRequestError                 422 invalid_request
    │   ├── InvalidSettingError             422 invalid_setting
    │   └── UnknownFlagError                422 unknown_flag
    └── UnavailableError (retryable)        503 unavailable, not_ready

Messages never contain a credential: they are built from catalog names and the caller's own
non-secret input.
"""

from __future__ import annotations

from hub_runtime.api_errors import ApiError as ApiError  # the root, shared

WHERE = "Settings → Integrations"


class BadRequestError(ApiError):
    status_code = 400
    code = "invalid_json"


class UnauthenticatedError(ApiError):
    status_code = 401
    code = "invalid_token"

    def __init__(self, message: str, *, code: str = "invalid_token") -> None:
        challenge = 'Bearer realm="connection-store"'
        if code == "invalid_token":
            challenge += ', error="invalid_token"'
        super().__init__(message, code=code, headers={"WWW-Authenticate": challenge})


class InsufficientScopeError(ApiError):
    status_code = 403
    code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"This token lacks the {scope!r} scope; ask for a token that carries it.",
            headers={
                "WWW-Authenticate": (
                    f'Bearer realm="connection-store", error="insufficient_scope", scope="{scope}"'
                )
            },
        )
        self.scope = scope


class NotFoundError(ApiError):
    status_code = 404
    code = "not_found"


class UnknownProviderError(NotFoundError):
    code = "unknown_provider"

    def __init__(self, provider: str) -> None:
        super().__init__(
            f"There is no provider {provider[:64]!r}; GET /v1/providers lists the known ones.",
            field="provider",
        )
        self.provider = provider


class PlatformProviderError(NotFoundError):
    code = "platform_provider"

    def __init__(self, provider: str, name: str) -> None:
        super().__init__(
            f"{name} is configured once for the whole platform by its operator (environment), "
            "not per organization, so it has no integration here.",
            field="provider",
        )
        self.provider = provider


class NothingToDisconnectError(NotFoundError):
    code = "not_connected"

    def __init__(self, provider: str, name: str) -> None:
        super().__init__(f"{name} is not connected for this organization: nothing to disconnect.")
        self.provider = provider


class MethodNotAllowedError(ApiError):
    status_code = 405
    code = "method_not_allowed"


class ConflictError(ApiError):
    status_code = 409
    code = "conflict"


class NotConnectedError(ConflictError):
    code = "not_connected"

    def __init__(self, provider: str, name: str, status: str) -> None:
        state = "was disconnected" if status == "disconnected" else "is not connected"
        super().__init__(f"{name} {state}; connect it in {WHERE} first, then use Sync now.")
        self.provider = provider


class ConnectionRequiredError(ConflictError):
    code = "connection_required"

    def __init__(self, flag: str, provider: str, name: str, *, reconnect: bool) -> None:
        verb = "Reconnect" if reconnect else "Connect"
        super().__init__(f"{verb} {name} in {WHERE} before enabling {flag}.", field=flag)
        self.provider = provider


class BodyTooLargeError(ApiError):
    status_code = 413
    code = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes; send less.")


class InvalidRequestError(ApiError):
    status_code = 422
    code = "invalid_request"


class InvalidSettingError(InvalidRequestError):
    code = "invalid_setting"


class UnknownFlagError(InvalidRequestError):
    code = "unknown_flag"

    def __init__(self, flag: str, known: list[str]) -> None:
        super().__init__(
            f"There is no integration flag {flag[:100]!r}; the flags are {', '.join(known)}.",
            field=flag,
        )


class UnavailableError(ApiError):
    status_code = 503
    code = "unavailable"
    retryable = True

    def __init__(self, message: str, *, code: str = "unavailable") -> None:
        super().__init__(message, code=code, headers={"Retry-After": "5"})
