"""What one provider call's result means: ``hub_providers.errors`` (or success) → ``Outcome``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hub_contracts import UnhealthyReason
from hub_providers.errors import (
    CredentialRevokedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ResponseTooLargeError,
    UnsafeDestinationError,
)


class Outcome(StrEnum):
    HEALTHY = "healthy"
    REVOKED = "revoked"
    PERMISSION = "permission"
    MISCONFIGURED = "misconfigured"
    MALFORMED = "malformed"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "provider_unavailable"
    UNVERIFIABLE = "unverifiable"


TRANSIENT = frozenset({Outcome.RATE_LIMITED, Outcome.UNAVAILABLE})
"""Outcomes worth another try within the same check."""

REASONS: dict[Outcome, UnhealthyReason] = {
    Outcome.REVOKED: "revoked",
    Outcome.PERMISSION: "insufficient_scope",
    Outcome.MISCONFIGURED: "misconfigured",
    Outcome.MALFORMED: "invalid_credentials",
    Outcome.UNAVAILABLE: "provider_unavailable",
}

_PERMISSION_CODE = re.compile(
    r"permission|scope|forbidden|not_?authori[sz]ed|restricted|access_?denied", re.IGNORECASE
)
_SAFE_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def outcome_of(failure: ProviderError | None) -> Outcome:
    """Classify one call (``None``: it proved the credential). The catalog already told revoked
    and rate-limited answers apart (``hub_catalog.classify``); this sorts the other refusals."""
    match failure:
        case None:
            return Outcome.HEALTHY
        case CredentialRevokedError():
            return Outcome.REVOKED
        case RateLimitedError():
            return Outcome.RATE_LIMITED
        case ProviderUnavailableError() | ResponseTooLargeError():
            return Outcome.UNAVAILABLE
        case UnsafeDestinationError():
            return Outcome.MISCONFIGURED
    status = failure.status_code
    if status == 403 or (failure.code is not None and _PERMISSION_CODE.search(failure.code)):
        return Outcome.PERMISSION
    if status is None or 200 <= status < 300 or status >= 500:
        # Slack ``ok: false`` or TikTok ``code != 0`` that is no known signal: treated like an
        # outage (retried, and only N in a row count), never as a dead credential.
        return Outcome.UNAVAILABLE
    return Outcome.MISCONFIGURED


def code_of(failure: ProviderError | None) -> str | None:
    """The code an event and a log line may carry: ours for a call we refused or cut short,
    else the provider's, only if it looks like one."""
    match failure:
        case None:
            return None
        case UnsafeDestinationError():
            return "destination_refused"
        case ResponseTooLargeError():
            return "response_too_large"
    code = failure.code
    return code if code is not None and _SAFE_CODE.fullmatch(code) else None


def retry_after(failure: ProviderError | None) -> float | None:
    """The provider's ``Retry-After``, in seconds, when it said one."""
    return failure.retry_after_s if isinstance(failure, RateLimitedError) else None


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    status_code: int | None = None
    code: str | None = None
    attempts: int = 1
    field: str | None = None
    """For ``malformed``: the label of the stored value that is missing or ill-shaped."""

    @classmethod
    def of(cls, failure: ProviderError | None, *, attempts: int) -> Verdict:
        status = None if failure is None else failure.status_code
        return cls(outcome_of(failure), status, code_of(failure), attempts=attempts)

    @property
    def reason(self) -> UnhealthyReason | None:
        return REASONS.get(self.outcome)
