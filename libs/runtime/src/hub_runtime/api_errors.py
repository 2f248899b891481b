"""The root of a service's REST API errors and their JSON envelope.

An error is an HTTP status, a stable ``code`` a program can branch on and a ``message`` a person
can act on, rendered as ``{"error": {"code", "message"[, "field"]}}``. Services subclass
``ApiError`` with their own leaves (codes, messages, ``WWW-Authenticate`` realms). This module
imports no I/O library, so a service's ``service`` and ``domain`` modules may raise these.
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
