"""Versioned SQL migrations, applied in order under an advisory lock.

Files are ``migrations/NNNN_name.sql``; each runs in its own transaction and is recorded in
``schema_migrations`` with a checksum. An applied file that changed afterwards is an error:
write a new migration instead. Several replicas starting at once apply each file once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

_LOCK_ID = 0x1B7E_C0DE  # pg_advisory_lock key of connection-store migrations
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    found = []
    for entry in resources.files("connection_store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise MigrationError("migration versions must be 0001, 0002, ... without gaps")
    return found


async def migrate(dsn: str) -> list[str]:
    """Apply what is missing; return the names applied now."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        try:
            return await _apply(connection)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    finally:
        await connection.close()


async def _apply(connection: asyncpg.Connection) -> list[str]:
    await connection.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version INTEGER PRIMARY KEY,
               name TEXT NOT NULL,
               checksum TEXT NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
    )
    applied = {
        row["version"]: row["checksum"]
        for row in await connection.fetch("SELECT version, checksum FROM schema_migrations")
    }
    done = []
    for migration in available():
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was "
                    "applied; add a new migration instead of editing an applied one"
                )
            continue
        async with connection.transaction():
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        done.append(f"{migration.version:04d}_{migration.name}")
    return done
