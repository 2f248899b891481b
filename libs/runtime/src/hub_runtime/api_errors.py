"""The root of a service's REST API errors and their JSON envelope.

An error is an HTTP status, a stable ``code`` a program can branch on and a ``message`` a person
can act on, rendered as ``{"error": {"code", "message"[, "field"]}}`` by ``hub_runtime.http_api``.
The leaves every HTTP service shares are here; services add their own. No I/O library is
imported, so ``service`` and ``domain`` modules may raise these::

    ApiError                          500 internal_error
    ├── BadRequestError               400 invalid_json
    ├── UnauthenticatedError          401 missing_token, invalid_token (realm as a parameter)
    ├── InsufficientScopeError        403 insufficient_scope
    ├── NotFoundError                 404 not_found
    ├── MethodNotAllowedError         405 method_not_allowed
    ├── BodyTooLargeError             413 body_too_large
    ├── InvalidRequestError           422 invalid_request
    └── UnavailableError (retryable)  503 unavailable, not_ready
"""

from __future__ import annotations

from typing import Any, ClassVar


class ApiError(Exception):
    status_code: ClassVar[int] = 500
    code: str = "internal_error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON envelope: ``{"error": {"code", "message"[, "field"]}}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class BadRequestError(ApiError):
    status_code = 400
    code = "invalid_json"


class UnauthenticatedError(ApiError):
    """401 with the ``WWW-Authenticate`` challenge of the service's ``realm``."""

    status_code = 401
    code = "invalid_token"

    def __init__(self, message: str, *, realm: str, code: str = "invalid_token") -> None:
        challenge = f'Bearer realm="{realm}"'
        if code == "invalid_token":
            challenge += ', error="invalid_token"'
        super().__init__(message, code=code, headers={"WWW-Authenticate": challenge})


class InsufficientScopeError(ApiError):
    status_code = 403
    code = "insufficient_scope"

    def __init__(self, scope: str, *, realm: str) -> None:
        super().__init__(
            f"This token lacks the {scope!r} scope; ask for a token that carries it.",
            headers={
                "WWW-Authenticate": (
                    f'Bearer realm="{realm}", error="insufficient_scope", scope="{scope}"'
                )
            },
        )
        self.scope = scope


class NotFoundError(ApiError):
    status_code = 404
    code = "not_found"


class MethodNotAllowedError(ApiError):
    status_code = 405
    code = "method_not_allowed"


class BodyTooLargeError(ApiError):
    status_code = 413
    code = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes; send less.")


class InvalidRequestError(ApiError):
    status_code = 422
    code = "invalid_request"


class UnavailableError(ApiError):
    status_code = 503
    code = "unavailable"
    retryable = True

    def __init__(self, message: str, *, code: str = "unavailable") -> None:
        super().__init__(message, code=code, headers={"Retry-After": "5"})
