"""prepare_database on a real server: it migrates as the owner and, in production, refuses a
login role that could bypass row-level security."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
import pytest
from hub_runtime.login_role import LoginRoleError, prepare_database


@dataclass
class Settings:
    database_url: str
    database_migration_url: str | None = None
    migrate_on_start: bool = True
    environment: str = "production"


class CreateTable:
    """A one-statement migration: creates a table of its own (as whoever `dsn` logs in as)."""

    def __init__(self) -> None:
        self.table = f"t_{uuid.uuid4().hex[:12]}"

    async def __call__(self, dsn: str) -> list[str]:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f"CREATE TABLE {self.table} (id int)")
        finally:
            await connection.close()
        return [self.table]


async def _owner_of(database_url: str, table: str) -> str | None:
    connection = await asyncpg.connect(database_url)
    try:
        query = "SELECT tableowner FROM pg_tables WHERE tablename = $1"
        owner: str | None = await connection.fetchval(query, table)
        return owner
    finally:
        await connection.close()


async def test_migrates_as_the_owner_and_starts_as_the_login_role(
    database_url: str, login_database_url: str, owner_database_url: str
) -> None:
    migrate = CreateTable()
    await prepare_database(Settings(login_database_url, owner_database_url), migrate)
    assert await _owner_of(database_url, migrate.table) == "hub_owner"


async def test_without_a_migration_url_the_login_role_cannot_migrate(
    login_database_url: str,
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await prepare_database(Settings(login_database_url), CreateTable())


@pytest.mark.parametrize("who", ["superuser", "owner"])
async def test_production_refuses_a_role_that_could_bypass_rls(
    who: str, database_url: str, owner_database_url: str
) -> None:
    url = database_url if who == "superuser" else owner_database_url
    migrate = CreateTable()
    with pytest.raises(LoginRoleError, match="DATABASE_URL's role"):
        await prepare_database(Settings(url, owner_database_url), migrate)
    assert await _owner_of(database_url, migrate.table) == "hub_owner"  # migrated first
    await prepare_database(
        Settings(url, environment="development", migrate_on_start=False), migrate
    )


async def test_no_migration_when_migrate_on_start_is_off(
    database_url: str, login_database_url: str, owner_database_url: str
) -> None:
    migrate = CreateTable()
    settings = Settings(login_database_url, owner_database_url, migrate_on_start=False)
    await prepare_database(settings, migrate)
    assert await _owner_of(database_url, migrate.table) is None
