"""connection-store's migrations: the SQL files in ``connection_store.migrations``."""

from __future__ import annotations

from hub_runtime.migrations import migrate as _migrate

LOCK_ID = 0x1B7E_C0DE  # pg_advisory_lock key of connection-store migrations


async def migrate(dsn: str) -> list[str]:
    """Apply connection-store's missing migrations; return the names applied now."""
    return await _migrate(
        dsn,
        package="connection_store.migrations",
        history_table="schema_migrations",
        lock_id=LOCK_ID,
    )
