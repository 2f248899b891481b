"""The role a service logs in as must not be able to bypass row-level security: no superuser, no
BYPASSRLS, no membership in a table's owner, hub_app and hub_worker only through ``SET ROLE``
(docs/decisions.md, "Login role and owner role"). Production refuses to start otherwise."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncpg

log = logging.getLogger(__name__)

_FACTS = """
SELECT r.rolsuper AS superuser,
       r.rolbypassrls AS bypassrls,
       ARRAY(
           SELECT DISTINCT c.relowner::regrole::text
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p')
             AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg\\_toast%'
             AND pg_has_role(r.oid, c.relowner, 'MEMBER')
           ORDER BY 1
       ) AS owners,
       ARRAY(
           SELECT g.rolname::text FROM pg_roles g
           WHERE g.rolname IN ('hub_app', 'hub_worker') AND pg_has_role(r.oid, g.oid, 'USAGE')
           ORDER BY 1
       ) AS inherited
FROM pg_roles r
WHERE r.rolname = current_user
"""


class LoginRoleError(RuntimeError):
    """DATABASE_URL logs in as a role that could bypass row-level security."""


async def login_role_problems(dsn: str) -> list[str]:
    """What lets the role of ``dsn`` bypass row-level security; empty when nothing does."""
    connection = await asyncpg.connect(dsn)
    try:
        facts = await connection.fetchrow(_FACTS)
    finally:
        await connection.close()
    assert facts is not None
    problems = []
    if facts["superuser"]:
        problems.append("is a superuser")
    if facts["bypassrls"]:
        problems.append("has BYPASSRLS")
    if facts["owners"] and not facts["superuser"]:
        problems.append(f"owns tables or may become their owner ({', '.join(facts['owners'])})")
    if facts["inherited"]:
        names = ", ".join(facts["inherited"])
        problems.append(f"inherits {names} (grant it WITH INHERIT FALSE: SET ROLE only)")
    return problems


async def check_login_role(dsn: str, environment: str) -> None:
    """In production, refuse a DATABASE_URL whose role could bypass row-level security."""
    if environment != "production":
        return
    problems = await login_role_problems(dsn)
    if problems:
        raise LoginRoleError(
            "DATABASE_URL's role "
            + "; ".join(problems)
            + ": log in as a role that owns nothing and migrate with DATABASE_MIGRATION_URL"
        )


class DatabaseSettings(Protocol):
    """What ``prepare_database`` reads of a service's settings."""

    @property
    def database_url(self) -> str: ...
    @property
    def database_migration_url(self) -> str | None: ...
    @property
    def migrate_on_start(self) -> bool: ...
    @property
    def environment(self) -> str: ...


async def prepare_database(
    settings: DatabaseSettings, migrate: Callable[[str], Awaitable[list[str]]]
) -> None:
    """At a service's start, before its pool opens: migrate as the owner role
    (``DATABASE_MIGRATION_URL``, else ``DATABASE_URL``) when ``migrate_on_start``, then
    ``check_login_role`` on ``DATABASE_URL``."""
    if settings.migrate_on_start:
        applied = await migrate(settings.database_migration_url or settings.database_url)
        if applied:
            log.info("migrations applied", extra={"migrations": applied})
    await check_login_role(settings.database_url, settings.environment)
