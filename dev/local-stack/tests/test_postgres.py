"""The embedded PostgreSQL: connections, per-module databases, restart on the same data."""

import os
import uuid
from pathlib import Path

import asyncpg
import pytest
from hub_localstack.postgres import PostgresServer, create_database, drop_database

pytestmark = pytest.mark.integration


async def fetchval(url: str, query: str, *args: object) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


async def test_answers_select_one(database_url: str) -> None:
    assert await fetchval(database_url, "select 1") == 1


async def test_module_database_is_fresh_and_separate(
    postgres_server: str, database_url: str
) -> None:
    tables = "select count(*) from pg_tables where schemaname = 'public'"
    assert str(await fetchval(database_url, "select current_database()")).startswith("test_")
    assert await fetchval(database_url, tables) == 0
    await fetchval(database_url, "create table marker (id int)")
    assert await fetchval(database_url, tables) == 1

    other = f"other_{uuid.uuid4().hex[:8]}"
    other_url = create_database(postgres_server, other)
    try:
        assert await fetchval(other_url, tables) == 0
    finally:
        drop_database(postgres_server, other)
    exists = "select count(*) from pg_database where datname = $1"
    assert await fetchval(postgres_server, exists, other) == 0


def test_stops_cleanly_and_restarts_on_its_data(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path / "postgres")
    server.start()
    pid = server.pid
    assert pid is not None
    server.create_database("kept")
    server.stop()
    assert not Path(f"/proc/{pid}").exists()
    assert not (server.data_dir / "postmaster.pid").exists()

    # A pid file left by a killed run, naming a pid that now belongs to another program.
    (server.data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{server.data_dir}\n")
    with server:
        assert server.create_database("kept", exist_ok=True).endswith("/kept")
    assert not (server.data_dir / "postmaster.pid").exists()
