"""What can go wrong, as the notifier sees it.

    NotifierError
    ├── DirectoryError                 connection-store did not answer usefully
    │   ├── DirectoryUnavailableError  retryable: try the plan again later
    │   └── UnknownOrganizationError   permanent (unknown provider, refused): nothing to plan
    └── DeliveryError                  one delivery (a Slack post, an email) did not go out
        ├── RetryableDeliveryError     429, 5xx, nothing sent: try again (``retry_after_s``)
        ├── PermanentDeliveryError     refused (revoked token, unknown channel, bad address)
        └── UncertainDeliveryError     may or may not have gone out (a timeout after sending)

Leaves carry the channel, the provider's status and code; messages never hold a credential, a
webhook URL or a message body.
"""

from __future__ import annotations


class NotifierError(Exception):
    pass


class DirectoryError(NotifierError):
    pass


class DirectoryUnavailableError(DirectoryError):
    pass


class UnknownOrganizationError(DirectoryError):
    pass


class DeliveryError(NotifierError):
    def __init__(
        self,
        channel: str,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.channel = channel
        self.status_code = status_code
        self.code = code
        self.retry_after_s = retry_after_s


class RetryableDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass


class UncertainDeliveryError(DeliveryError):
    pass
