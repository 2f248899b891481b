"""What goes wrong in the console, each rendered once as a page (``http``)."""

from __future__ import annotations


class ConsoleError(Exception):
    """Root of the console's errors; ``status`` is the page's HTTP status."""

    status = 500
    title = "Something went wrong"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ConsoleError):
    status = 404
    title = "Page not found"


class BadInputError(ConsoleError):
    status = 400
    title = "That request could not be understood"


class SignInRequiredError(ConsoleError):
    status = 401
    title = "Please sign in"


class ForbiddenError(ConsoleError):
    """A form without a valid CSRF token, or a token without the scope."""

    status = 403
    title = "Not allowed"


class UnavailableError(ConsoleError):
    """The store or gateway cannot be reached or is not ready (retryable)."""

    status = 503
    title = "The integrations service is unavailable"


class RefusedError(ConsoleError):
    """The store or gateway refused a change (4xx): shown on the form that sent it."""

    def __init__(
        self, message: str, *, status: int, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field
