"""What the store answers when it cannot do what was asked.

The shared leaves come from ``hub_runtime.api_errors`` (the authentication ones take ``REALM``);
the store adds its own below. Unknown and platform-level providers are the catalog's
``UnknownProviderError`` / ``PlatformProviderError``, rendered as 404s by the HTTP layer. No I/O
library here, so the service layer raises these directly::

    ApiError (hub_runtime)                  500 internal_error
    ├── UnauthenticatedError, InsufficientScopeError, BadRequestError, MethodNotAllowedError,
    │   BodyTooLargeError, InvalidRequestError, UnavailableError (hub_runtime)
    ├── NotFoundError (hub_runtime)         404 not_found
    │   └── NothingToDisconnectError        404 not_connected
    ├── ConflictError                       409 conflict
    │   ├── NotConnectedError               409 not_connected
    │   └── ConnectionRequiredError         409 connection_required
    ├── InvalidRequestError (hub_runtime)   422 invalid_request
    │   ├── InvalidSettingError             422 invalid_setting
    │   └── UnknownFlagError                422 unknown_flag
    └── UnavailableError (hub_runtime)      503 unavailable, not_ready
        └── StartingError                   503 unavailable (the pool is not open yet)

Messages never contain a credential: they are built from catalog names and the caller's own
non-secret input.
"""

from __future__ import annotations

from hub_catalog import WHERE
from hub_runtime.api_errors import ApiError, InvalidRequestError, NotFoundError, UnavailableError

REALM = "connection-store"
"""The ``WWW-Authenticate`` realm of the store's 401 and 403 answers."""


class NothingToDisconnectError(NotFoundError):
    code = "not_connected"

    def __init__(self, provider: str, name: str) -> None:
        super().__init__(f"{name} is not connected for this organization: nothing to disconnect.")
        self.provider = provider


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


class InvalidSettingError(InvalidRequestError):
    code = "invalid_setting"


class InvalidCursorError(InvalidRequestError):
    code = "invalid_cursor"

    def __init__(self) -> None:
        super().__init__(
            "cursor must be the next_cursor of a previous history page.", field="cursor"
        )


class UnknownFlagError(InvalidRequestError):
    code = "unknown_flag"

    def __init__(self, flag: str, known: list[str]) -> None:
        super().__init__(
            f"There is no integration flag {flag[:100]!r}; the flags are {', '.join(known)}.",
            field=flag,
        )


class StartingError(UnavailableError):
    def __init__(self) -> None:
        super().__init__("The store is starting; try again in a moment.")
