"""Connection-state rules that need no I/O: when work is due, what a status means, what to do."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Literal

from hub_catalog import AuthMode, AuthType, Provider, RefreshStrategy

Status = Literal["pending", "active", "expired", "error", "disconnected"]

EXPIRED_REASONS = frozenset({"revoked", "expired", "invalid_credentials"})
"""Unhealthy reasons that mean the credential itself is gone: only reconnecting helps."""
REMINDER_REASONS = frozenset({"reauth_soon"})
"""Unhealthy reasons that leave a working connection working: a reminder, not a failure."""


def auth_mode(provider: Provider, auth_type: str | None) -> AuthMode:
    """The connection's auth mode (the provider's default when unknown)."""
    if auth_type is not None:
        for mode in provider.auth_modes:
            if mode.type == AuthType(auth_type):
                return mode
    return provider.auth


def next_refresh_at(mode: AuthMode, expires_at: datetime | None) -> datetime | None:
    """When ``token.expiring`` is due: the mode's lead before expiry (refresh or reminder)."""
    if expires_at is None or mode.refresh == RefreshStrategy.NONE or mode.refresh_lead_s is None:
        return None
    return expires_at - timedelta(seconds=mode.refresh_lead_s)


def next_check_at(
    now: datetime, interval_s: int, jitter: float, rng: random.Random | None = None
) -> datetime:
    """The next scheduled health check, spread by ±``jitter`` so checks do not bunch up."""
    spread = (rng or random).uniform(1 - jitter, 1 + jitter)
    return now + timedelta(seconds=interval_s * spread)


def status_after_unhealthy(reason: str, current: Status) -> Status:
    if reason in REMINDER_REASONS:
        return current
    return "expired" if reason in EXPIRED_REASONS else "error"


def next_step(provider: Provider, status: str, error_code: str | None) -> str | None:
    """What a person should do now, or ``None`` when nothing is needed."""
    where = "Settings → Integrations"
    if status == "expired" or error_code in REMINDER_REASONS:
        return f"Reconnect {provider.name} in {where}."
    if status == "error":
        if error_code == "provider_unavailable":
            return (
                f"{provider.name} is not answering; we keep retrying. "
                f"If this lasts, check {provider.name}'s status page, then use Sync now."
            )
        if error_code == "insufficient_scope":
            return f"Reconnect {provider.name} in {where} and grant every requested permission."
        return f"Check the {provider.name} settings in {where}, then use Sync now."
    return None
