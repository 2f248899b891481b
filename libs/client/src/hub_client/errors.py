"""What a call to the hub can end with instead of a credential. Each carries the hub's
``code`` and ``message`` (a person can act on it) and the HTTP status::

    HubError                      any answer the client cannot turn into a result
    ├── NotConnected              404 not_connected: the brand never connected this provider
    ├── ReconnectRequired         409 reconnect_required: revoked or expired; the brand must
    │                                 reconnect (the message says where)
    ├── AccessDenied              401 / 403: the service token is missing, invalid, or does not
    │                                 name this provider
    └── HubUnavailable            503 / 429 / network, still failing after the bounded retries;
                                      ``retry_after_s`` is the hub's last ``Retry-After``
"""

from __future__ import annotations


class HubError(Exception):
    def __init__(self, message: str, *, code: str = "hub_error", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return (
            f"{self.code}: {self.message}"
            if self.status is None
            else (f"{self.status} {self.code}: {self.message}")
        )


class NotConnected(HubError):  # noqa: N818 (the names the callers branch on, issue 12)
    pass


class ReconnectRequired(HubError):  # noqa: N818 (the names the callers branch on, issue 12)
    pass


class AccessDenied(HubError):  # noqa: N818 (the names the callers branch on, issue 12)
    pass


class HubUnavailable(HubError):  # noqa: N818 (the names the callers branch on, issue 12)
    def __init__(
        self,
        message: str,
        *,
        code: str = "unavailable",
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after_s = retry_after_s
