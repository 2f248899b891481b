"""The ports the use cases need: the store's tables, in one organization's transaction or in a
transaction across organizations (the sweeps)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from hub_contracts import (
    ConnectionCheckedV1,
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRequested,
    Event,
    TokenRefreshedV1,
)
from hub_runtime.outbox import OutboxMessage

from connection_store.domain import ConnectionRow, HistoryEntry, HistoryRecord

Due = Literal["refresh", "check"]
"""The two kinds of scheduled work: ``next_refresh_at`` (token.expiring) and ``next_check_at``
(connection.check_due)."""


class Connections(Protocol):
    """One organization's ``integration_connections`` rows."""

    async def get(self, provider: str, *, lock: bool = False) -> ConnectionRow | None: ...

    async def all(self, providers: Collection[str] | None = None) -> list[ConnectionRow]:
        """Every row (or those of ``providers``)."""
        ...

    async def save_settings(
        self, provider: str, row_id: uuid.UUID, settings: dict[str, Any]
    ) -> None:
        """Set the settings, creating a ``pending`` row when there is none."""
        ...

    async def reschedule(
        self, row_id: uuid.UUID, *, next_check_at: datetime, next_refresh_at: datetime | None
    ) -> None: ...

    async def disconnect(self, row_id: uuid.UUID, at: datetime) -> None:
        """Wipe every ciphertext and stop all scheduled work; settings stay for a reconnect."""
        ...

    async def record_attempt(self, row_id: uuid.UUID, event: ConnectionRequested) -> None: ...

    async def record_failure(self, row_id: uuid.UUID, event: ConnectionFailedV1) -> None: ...

    async def establish(
        self,
        event: ConnectionEstablishedV1,
        *,
        next_refresh_at: datetime | None,
        next_check_at: datetime,
    ) -> int:
        """Save a new credential as the active connection; returns its credential version."""
        ...

    async def apply_refresh(
        self, event: TokenRefreshedV1, *, next_refresh_at: datetime | None
    ) -> bool:
        """Save a refreshed credential unless the row holds this version or a newer one."""
        ...

    async def set_health(
        self,
        row_id: uuid.UUID,
        *,
        status: str,
        error: str | None,
        error_code: str | None,
        checked_at: datetime,
    ) -> None: ...

    async def record_check(self, row_id: uuid.UUID, event: ConnectionCheckedV1) -> bool:
        """Record a finished health check (``last_checked_at``, outcome, check id; a healthy
        check also moves ``last_sync_at``) unless a later check is already recorded."""
        ...


class Flags(Protocol):
    """One organization's changes to the catalog's integration flags."""

    async def all(self) -> dict[str, bool]: ...

    async def save(self, changes: Mapping[str, bool], *, by: str) -> None: ...


class NotificationSettings(Protocol):
    """One organization's notification settings (``None``: never changed)."""

    async def get(self) -> dict[str, Any] | None: ...

    async def save(self, values: Mapping[str, Any], *, by: str) -> None: ...


class History(Protocol):
    """One organization's integration timeline (issue 11): what consumers and use cases record,
    newest first by id."""

    async def record(self, entry: HistoryEntry) -> None:
        """Append ``entry``; the same event recorded twice is kept once."""
        ...

    async def page(
        self, provider: str, *, limit: int, before: int | None
    ) -> list[HistoryRecord]: ...


class Inbox(Protocol):
    """Events already applied, per consumer."""

    async def first_time(self, consumer: str, event: Event) -> bool:
        """Record that ``consumer`` handled ``event``; false when it already had."""
        ...


class Outbox(Protocol):
    """Events written with the change they describe, published after commit."""

    async def add(self, messages: Sequence[OutboxMessage]) -> None: ...


@dataclass(frozen=True)
class Backlog:
    """Due rows not yet swept, and outbox rows not yet published, each counted up to ``cap``."""

    refresh_due: int
    check_due: int
    outbox_unsent: int
    cap: int

    def as_log(self) -> dict[str, int | bool]:
        return {
            "refresh_due": self.refresh_due,
            "check_due": self.check_due,
            "outbox_unsent": self.outbox_unsent,
            "capped": max(self.refresh_due, self.check_due, self.outbox_unsent) >= self.cap,
        }


class Schedule(Protocol):
    """Due times across organizations."""

    async def claim(self, due: Due, now: datetime, limit: int) -> list[ConnectionRow]:
        """The oldest rows due by ``now``, locked; rows another transaction holds are skipped."""
        ...

    async def reschedule(
        self, due: Due, times: Sequence[tuple[uuid.UUID, datetime | None]]
    ) -> None: ...

    async def backlog(self, now: datetime, cap: int) -> Backlog: ...


class Ciphertexts(Protocol):
    """Every row's stored ciphertext, across organizations (key rotation)."""

    async def pending(self, key_id: str, limit: int) -> list[ConnectionRow]:
        """Rows holding a ciphertext under another key than ``key_id``, locked; rows another
        transaction holds are skipped."""
        ...

    async def save(self, row_id: uuid.UUID, sealed: Mapping[str, Any]) -> None:
        """Replace the row's ciphertext (``ConnectionRow.sealed`` shape)."""
        ...


class Tenant(Protocol):
    """One organization's transaction: it sees that organization's rows only."""

    @property
    def connections(self) -> Connections: ...

    @property
    def flags(self) -> Flags: ...

    @property
    def notification_settings(self) -> NotificationSettings: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def history(self) -> History: ...

    @property
    def outbox(self) -> Outbox: ...


class Worker(Protocol):
    """A transaction across organizations, for the sweeps and key rotation."""

    @property
    def schedule(self) -> Schedule: ...

    @property
    def ciphertexts(self) -> Ciphertexts: ...

    @property
    def outbox(self) -> Outbox: ...


class Store(Protocol):
    def tenant(self, organization_id: uuid.UUID) -> AbstractAsyncContextManager[Tenant]: ...

    def worker(self) -> AbstractAsyncContextManager[Worker]: ...


class Listings(Protocol):
    """What a brand can pick for a setting (the oauth-gateway's resource listings), asked with
    the caller's own bearer token."""

    async def items(
        self,
        organization_id: uuid.UUID,
        provider: str,
        kind: str,
        params: Mapping[str, str],
        *,
        authorization: str,
    ) -> list[tuple[str, str]] | None:
        """``(id, name)`` pairs, or ``None`` when the brand has no account to list with;
        raises ``errors.ListingUnavailableError`` when the listing cannot be read."""
        ...
