"""Versioned SQL migrations, applied in order under an advisory lock.

A service keeps its files in a package (``<service>.migrations``) named ``NNNN_name.sql``; each
runs in its own transaction and is recorded in the service's own history table with a checksum.
An applied file that changed afterwards is an error: write a new migration instead. Several
replicas starting at once apply each file once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

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


def available(package: str) -> list[Migration]:
    found = []
    for entry in resources.files(package).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions) or (versions and versions[0] != 1):
        raise MigrationError("migration versions must start at 0001, each used once")
    # Gaps are allowed: numbers are reserved per parallel branch (docs/decisions.md, "Migration
    # numbers reserved per branch"), and _apply runs whatever is missing, in order.
    return found


async def migrate(dsn: str, *, package: str, history_table: str, lock_id: int) -> list[str]:
    """Apply what is missing from ``package``; return the names applied now."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", history_table):
        raise MigrationError(f"bad history table name {history_table!r}")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", lock_id)
        try:
            return await _apply(connection, package, history_table)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", lock_id)
    finally:
        await connection.close()


async def _apply(connection: asyncpg.Connection, package: str, table: str) -> list[str]:
    await connection.execute(
        f"""CREATE TABLE IF NOT EXISTS {table} (
               version INTEGER PRIMARY KEY,
               name TEXT NOT NULL,
               checksum TEXT NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
    )
    applied = {
        row["version"]: row["checksum"]
        for row in await connection.fetch(f"SELECT version, checksum FROM {table}")  # noqa: S608
    }
    done = []
    for migration in available(package):
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
                f"INSERT INTO {table} (version, name, checksum) VALUES ($1, $2, $3)",  # noqa: S608
                migration.version,
                migration.name,
                migration.checksum,
            )
        done.append(f"{migration.version:04d}_{migration.name}")
    return done
