"""``hubctl connections``: one organization's connections read from the store's database, with
the tenant role (row-level security); credential columns are never selected."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connection_store.adapters.database import Database
from connection_store.settings import StoreSettings

COLUMNS = """provider, auth_type, status, credential_version, token_expires_at, scopes,
    account_name, last_error_code, last_error, last_sync_at, last_checked_at, connected_at,
    disconnected_at, attempt_state, attempt_reason, attempt_at, next_refresh_at, next_check_at,
    updated_at"""
"""Everything an operator needs, and nothing sealed (no ``*_encrypted`` column)."""

HISTORY_SQL = """
    SELECT topic, created_at, sent_at, payload FROM outbox
    WHERE organization_id = $1 AND payload->>'provider' = $2
    ORDER BY id DESC LIMIT $3"""

SUMMARY_KEYS = ("reason", "outcome", "error_code", "detected_by", "trigger", "message")


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str
    summary: str
    published: bool


async def _open() -> Database:
    db = Database()
    await db.open(StoreSettings().database_url, size=1)
    return db


async def list_connections(org: uuid.UUID) -> list[dict[str, Any]]:
    db = await _open()
    try:
        async with db.tenant(org) as tx:
            rows = await tx.fetch(
                f"SELECT {COLUMNS} FROM integration_connections "  # noqa: S608 (constant columns)
                "WHERE organization_id = $1 ORDER BY provider",
                org,
            )
        return [dict(row) for row in rows]
    finally:
        await db.close()


async def show_connection(
    org: uuid.UUID, provider: str, *, history: int = 20
) -> tuple[dict[str, Any] | None, list[HistoryEntry]]:
    """The connection's row (``None`` when never connected) and its history, newest first: the
    row's milestones and the latest events the store published about it (its outbox)."""
    db = await _open()
    try:
        async with db.tenant(org) as tx:
            row = await tx.fetchrow(
                f"SELECT {COLUMNS} FROM integration_connections "  # noqa: S608 (constant columns)
                "WHERE organization_id = $1 AND provider = $2",
                org,
                provider,
            )
        async with db.worker() as tx:
            events = await tx.fetch(HISTORY_SQL, org, provider, history)
    finally:
        await db.close()
    entries = _milestones(dict(row)) if row is not None else []
    for event in events:
        payload = event["payload"]
        body = json.loads(payload) if isinstance(payload, str) else dict(payload)
        summary = ", ".join(f"{k}={body[k]}" for k in SUMMARY_KEYS if body.get(k))
        entries.append(
            HistoryEntry(event["created_at"], event["topic"], summary, event["sent_at"] is not None)
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return (dict(row) if row is not None else None), entries


def _milestones(row: dict[str, Any]) -> list[HistoryEntry]:
    """What the row itself remembers: connected, the last attempt, check, sync, disconnect."""
    found = []
    if row["connected_at"]:
        found.append(
            HistoryEntry(row["connected_at"], "connected", row["account_name"] or "", True)
        )
    if row["attempt_at"]:
        summary = f"{row['attempt_state']} {row['attempt_reason'] or ''}".strip()
        found.append(HistoryEntry(row["attempt_at"], "connect attempt", summary, True))
    if row["last_checked_at"]:
        found.append(HistoryEntry(row["last_checked_at"], "checked", row["status"], True))
    if row["last_sync_at"]:
        found.append(HistoryEntry(row["last_sync_at"], "synced", "", True))
    if row["disconnected_at"]:
        found.append(HistoryEntry(row["disconnected_at"], "disconnected", "", True))
    return found
