"""Due work as events: the one builder of ``connection.check_due`` and ``token.expiring``, for
the sweeps and for Sync now alike, with the row's next due time."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from hub_catalog import AuthMode, Catalog, RefreshStrategy
from hub_contracts import ConnectionCheckDueV1, Event, TokenExpiringV1
from pydantic import ValidationError

from connection_store import domain
from connection_store.domain import ConnectionRow

_CHECKED: dict[str, Literal["active", "error", "expired"]] = {
    "active": "active",
    "error": "error",
    "expired": "expired",
}


@dataclass(frozen=True)
class Planned:
    """What one due row becomes: an event (or ``None`` and why not) and its next due time."""

    next_at: datetime | None
    event: Event | None = None
    skipped: str | None = None
    """Why no event: the row cannot become one (logged by the sweep), or nothing is due."""
    reminder: bool = False
    """A ``token.expiring`` of a credential that cannot be refreshed (no credentials in it)."""


@dataclass(frozen=True)
class DueWork:
    catalog: Catalog
    check_interval_s: int
    check_jitter: float
    refresh_retry_s: int

    def check(
        self,
        row: ConnectionRow,
        now: datetime,
        *,
        trigger: Literal["scheduled", "sync_now"],
        rng: random.Random | None = None,
    ) -> Planned:
        """``connection.check_due``; the next scheduled check one jittered interval ahead."""
        next_at = domain.next_check_at(now, self.check_interval_s, self.check_jitter, rng)
        mode = self._mode(row)
        if mode is None:
            return Planned(next_at, skipped="provider or auth type not in the catalog")
        try:
            event = ConnectionCheckDueV1(
                **_about(row, mode),
                trigger=trigger,
                status=_CHECKED[row.status],
                last_error_code=row.last_error_code,
                credentials=row.credentials(),
            )
        except (ValidationError, KeyError) as exc:
            return Planned(next_at, skipped=_invalid(exc))
        return Planned(next_at, event)

    def refresh(
        self,
        row: ConnectionRow,
        now: datetime,
        *,
        trigger: Literal["scheduled", "on_demand"] = "scheduled",
    ) -> Planned:
        """``token.expiring``: with the ciphertext for a refresh (due again after
        ``refresh_retry_s`` unless ``token.refreshed`` answers), or without for a reminder of a
        credential that cannot be refreshed (once: no next time)."""
        retry_at = now + timedelta(seconds=self.refresh_retry_s)
        mode = self._mode(row)
        if mode is None:
            return Planned(retry_at, skipped="provider or auth type not in the catalog")
        if mode.refresh == RefreshStrategy.NONE:
            return Planned(None, skipped="the auth mode has no refresh strategy")
        reminder = mode.refresh == RefreshStrategy.LONG_LIVED_REMINDER
        try:
            event = TokenExpiringV1(
                **_about(row, mode),
                refresh_strategy=mode.refresh.value,
                token_expires_at=row.token_expires_at,
                credentials=None if reminder else row.credentials(),
                trigger=trigger,
            )
        except ValidationError as exc:
            return Planned(retry_at, skipped=_invalid(exc))
        return Planned(None if reminder else retry_at, event, reminder=reminder)

    def _mode(self, row: ConnectionRow) -> AuthMode | None:
        try:
            provider = self.catalog.get(row.provider)
        except KeyError:
            return None
        return provider.auth_mode(row.auth_type)


def _about(row: ConnectionRow, mode: AuthMode) -> dict[str, Any]:
    """What both events say about the connection."""
    return {
        "organization_id": row.organization_id,
        "provider": row.provider,
        "connection_id": row.id,
        "credential_version": row.credential_version,
        "auth_type": mode.type.value,
        "metadata": row.metadata,
    }


def _invalid(exc: ValidationError | KeyError) -> str:
    if isinstance(exc, ValidationError):
        return f"invalid stored data: {exc.error_count()} errors"
    return "status cannot be checked"
