"""Compose's PostgreSQL init script, run on a real server: after it, the services migrate as
hub_owner and log in as a hub_login that the production start-up check accepts."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from connection_store.adapters.migrations import migrate as store_migrate
from hub_localstack.postgres import (
    LOGIN_ROLE,
    OWNER_ROLE,
    POSTGRES_BIN_PATH,
    PostgresServer,
    create_database,
    role_url,
)
from hub_runtime.login_role import login_role_problems
from notifier.adapters.database import migrate as notifier_migrate
from oauth_gateway.adapters.pending_flows import migrate as gateway_migrate
from token_refresher.adapters.journal import migrate as refresher_migrate

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose"
SCRIPT = COMPOSE / "postgres-init" / "10-hub-roles.sql"
MIGRATIONS = (store_migrate, gateway_migrate, refresher_migrate, notifier_migrate)


def test_compose_mounts_the_script_and_hands_it_the_passwords() -> None:
    postgres = yaml.safe_load((COMPOSE / "compose.yaml").read_text())["services"]["postgres"]
    assert (
        f"./postgres-init/{SCRIPT.name}:/docker-entrypoint-initdb.d/{SCRIPT.name}:ro"
        in (postgres["volumes"])
    )
    assert {"HUB_OWNER_PASSWORD", "HUB_LOGIN_PASSWORD"} <= postgres["environment"].keys()
    major = int(postgres["image"].split(":")[1].split(".")[0])
    assert major >= 16  # GRANT ... WITH INHERIT FALSE, SET TRUE


PASSWORDS = {"HUB_OWNER_PASSWORD": "owner-password", "HUB_LOGIN_PASSWORD": "login-password"}


def _run_script(dsn: str, **passwords: str) -> subprocess.CompletedProcess[str]:
    command = [str(POSTGRES_BIN_PATH / "psql"), "--no-psqlrc", f"--dbname={dsn}", "-f", SCRIPT]
    env = {name: value for name, value in os.environ.items() if name not in PASSWORDS}
    return subprocess.run(
        command, env={**env, **passwords}, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A server of its own: the session's already has the roles (hub_localstack makes them)."""
    base_dir = Path(tempfile.mkdtemp(prefix="hub-test-postgres-init-"))
    try:
        with PostgresServer(base_dir) as server:
            yield server
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)


async def _fetch(dsn: str, query: str, *, role: str | None = None) -> list[Any]:
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            if role:
                await connection.execute(f"SET LOCAL ROLE {role}")
            return [tuple(row) for row in await connection.fetch(query)]
    finally:
        await connection.close()


def test_the_script_makes_a_login_role_production_accepts(server: PostgresServer) -> None:
    superuser = create_database(server.dsn, "integrations_hub")
    result = _run_script(superuser, **PASSWORDS)
    assert result.returncode == 0, result.stderr
    assert _run_script(superuser, **PASSWORDS).returncode == 0  # idempotent: re-run by hand
    owner, login = role_url(superuser, OWNER_ROLE), role_url(superuser, LOGIN_ROLE)
    for migrate in MIGRATIONS:
        assert asyncio.run(migrate(owner))
    assert asyncio.run(login_role_problems(login)) == []
    assert asyncio.run(login_role_problems(owner))  # the owner would be refused as DATABASE_URL
    roles = asyncio.run(
        _fetch(
            superuser,
            "select rolname, rolpassword is not null, rolsuper, rolbypassrls, rolcreaterole"
            " from pg_authid where rolname in ('hub_owner', 'hub_login') order by 1",
        )
    )
    assert roles == [
        (LOGIN_ROLE, True, False, False, False),
        (OWNER_ROLE, True, False, False, False),
    ]
    # The login role works on every service's tables only through its grants.
    asyncio.run(_fetch(login, "select count(*) from oauth_flows, token_refresher_journal"))
    query = "select count(*) from integration_connections"
    assert asyncio.run(_fetch(login, query, role="hub_worker")) == [(0,)]
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(_fetch(login, query))  # without SET ROLE: nothing (not inherited)


def test_a_volume_from_before_is_handed_to_the_owner(server: PostgresServer) -> None:
    superuser = create_database(server.dsn, "old_hub")
    asyncio.run(_fetch(superuser, "create table made_by_the_old_superuser (id int)"))
    assert _run_script(superuser, **PASSWORDS).returncode == 0
    owners = asyncio.run(
        _fetch(
            superuser,
            "select tableowner from pg_tables where tablename = 'made_by_the_old_superuser'"
            " union all select datdba::regrole::text from pg_database"
            " where datname = current_database()",
        )
    )
    assert owners == [(OWNER_ROLE,), (OWNER_ROLE,)]


def test_the_script_stops_without_a_password(server: PostgresServer) -> None:
    superuser = create_database(server.dsn, "no_password")
    result = _run_script(superuser, HUB_OWNER_PASSWORD=PASSWORDS["HUB_OWNER_PASSWORD"])
    assert result.returncode != 0
    assert "syntax error" in result.stderr
