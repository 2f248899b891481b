"""What the store answers when it cannot do what was asked.

The shared leaves come from ``hub_runtime.api_errors`` (the authentication ones take ``REALM``);
the store adds its own below. Unknown and platform-level providers are the catalog's
``UnknownProviderError`` / ``PlatformProviderError``, rendered as 404s by the HTTP layer. No I/O
library here, so the service layer raises these directly::

    ApiError (hub_runtime)                  500 internal_error
    ├── UnauthenticatedError, InsufficientScopeError, BadRequestError, MethodNotAllowedError,
    │   BodyTooLargeError, InvalidRequestError, UnavailableError (hub_runtime)
    ├── ForbiddenError                      403 forbidden, provider_not_allowed,
    │                                           service_token_required (credentials API)
    ├── NotFoundError (hub_runtime)         404 not_found
    │   ├── NothingToDisconnectError        404 not_connected
    │   ├── CredentialNotConnectedError     404 not_connected (credentials API)
    │   └── NoCredentialError               404 no_credential (internal credential endpoint)
    ├── ConflictError                       409 conflict
    │   ├── NotConnectedError               409 not_connected
    │   ├── ReconnectRequiredError          409 reconnect_required (credentials API)
    │   └── ConnectionRequiredError         409 connection_required
    ├── RateLimitedError                    429 rate_limited (Retry-After)
    ├── InvalidRequestError (hub_runtime)   422 invalid_request
    │   ├── InvalidSettingError             422 invalid_setting
    │   └── UnknownFlagError                422 unknown_flag
    └── UnavailableError (hub_runtime)      503 unavailable, not_ready
        ├── StartingError                   503 unavailable (the pool is not open yet)
        ├── ListingUnavailableError         503 listing_unavailable (a setting's resource
        │                                       listing could not be read to check it)
        └── RefreshUnavailableError         503 refresh_unavailable (Retry-After: an on-demand
                                                refresh failed or did not finish in time)

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


class ForbiddenError(ApiError):
    status_code = 403
    code = "forbidden"


class CredentialNotConnectedError(NotFoundError):
    code = "not_connected"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} is not connected for this organization: the brand connects it in {WHERE}."
        )


class ReconnectRequiredError(ApiError):
    status_code = 409
    code = "reconnect_required"


class RateLimitedError(ApiError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class RefreshUnavailableError(UnavailableError):
    code = "refresh_unavailable"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, code="refresh_unavailable")
        self.headers = {"Retry-After": str(retry_after_s)}


class NoCredentialError(NotFoundError):
    code = "no_credential"


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


class ListingUnavailableError(UnavailableError):
    code = "listing_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, code="listing_unavailable")
