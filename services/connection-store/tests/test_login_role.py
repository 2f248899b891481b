"""Row-level security holds even when the store's own SQL is turned against it: the login role
(what hub_localstack gives every service and test, as production must) owns nothing, so
``RESET ROLE`` leaves it reading no tenant table, it cannot become the owner, and it cannot
switch row-level security off. Production refuses to start as a role that could."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from connection_store.adapters.database import Database
from connection_store.app import create_app
from connection_store.settings import StoreSettings
from hub_keyring import new_key_spec
from hub_runtime.login_role import LoginRoleError, login_role_problems

from .test_tenancy import seed

pytestmark = pytest.mark.integration

DENIED = asyncpg.InsufficientPrivilegeError
TENANT_TABLES = ["integration_connections", "outbox", "credential_reads", "integration_history"]


@pytest.fixture
async def two_orgs(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    await seed(db, mine, "klaviyo", "mine")
    await seed(db, theirs, "klaviyo", "theirs")
    return mine, theirs


async def _refused(connection: asyncpg.Connection, sql: str, *args: object) -> str:
    """Run ``sql`` in a savepoint (or a transaction of its own outside one); return
    PostgreSQL's refusal (fails if it was allowed)."""
    nested = connection.is_in_transaction()
    await connection.execute("SAVEPOINT refused" if nested else "BEGIN")
    try:
        with pytest.raises(asyncpg.PostgresError) as refused:
            await connection.execute(sql, *args)
    finally:
        await connection.execute("ROLLBACK TO SAVEPOINT refused" if nested else "ROLLBACK")
    return str(refused.value)


async def test_reset_role_inside_a_tenant_transaction_reads_and_changes_nothing(
    db: Database, two_orgs: tuple[uuid.UUID, uuid.UUID]
) -> None:
    mine, theirs = two_orgs
    async with db.tenant(mine) as connection:
        assert await connection.fetchval("SELECT count(*) FROM integration_connections") == 1
        await connection.execute("RESET ROLE")
        assert await connection.fetchval("SELECT current_user") == await connection.fetchval(
            "SELECT session_user"
        )
        for sql in (
            "SELECT account_name FROM integration_connections WHERE organization_id = $1",
            "UPDATE integration_connections SET account_name = 'stolen' WHERE organization_id = $1",
            "DELETE FROM organization_flags WHERE organization_id = $1",
        ):
            assert "permission denied" in await _refused(connection, sql, theirs)
        for table in TENANT_TABLES:
            assert "permission denied" in await _refused(connection, f"SELECT * FROM {table}")  # noqa: S608
    async with db.worker() as connection:
        names = await connection.fetch(
            "SELECT account_name FROM integration_connections WHERE organization_id = $1", theirs
        )
    assert [row["account_name"] for row in names] == ["theirs"]


async def test_the_login_role_cannot_become_the_owner_or_a_superuser(
    db: Database, database_url: str
) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        owner = await admin.fetchval(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'integration_connections'"
        )
    finally:
        await admin.close()
    async with db.pool.acquire() as connection:
        for role in (owner, "postgres"):
            assert "permission denied to set role" in await _refused(
                connection, f'SET ROLE "{role}"'
            )
        assert "permission denied" in await _refused(connection, f'GRANT "{owner}" TO CURRENT_USER')


async def test_row_level_security_cannot_be_switched_off_by_any_role_the_store_takes(
    db: Database, two_orgs: tuple[uuid.UUID, uuid.UUID]
) -> None:
    statements = [
        "ALTER TABLE integration_connections DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE integration_connections NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON integration_connections",
        "CREATE POLICY everything ON integration_connections TO hub_app USING (true)",
    ]
    for transaction in (db.tenant(two_orgs[0]), db.worker()):
        async with transaction as connection:
            for role in ("hub_app", "hub_worker", "NONE"):
                await connection.execute(f"SET LOCAL ROLE {role}")
                for sql in statements:
                    assert "must be owner" in await _refused(connection, sql)


async def test_only_the_login_role_passes_the_startup_check(
    migrated_database_url: str, owner_database_url: str, database_url: str
) -> None:
    assert await login_role_problems(migrated_database_url) == []
    owner = await login_role_problems(owner_database_url)
    assert len(owner) == 1
    assert owner[0].startswith("owns tables")
    assert "is a superuser" in await login_role_problems(database_url)


def _production(database_url: str) -> StoreSettings:
    return StoreSettings(
        environment="production",
        database_url=database_url,
        migrate_on_start=False,
        jwt_secret="a-production-jwt-secret-of-32-bytes-or-more",
        service_token_secret="a-production-service-token-secret-32-bytes",
        jwt_audience="hub",
        credential_keys=new_key_spec("k1"),
    )


@pytest.mark.parametrize("login_as", ["owner", "superuser"])
async def test_production_refuses_to_start_as_a_role_that_can_bypass_rls(
    migrated_database_url: str, owner_database_url: str, database_url: str, login_as: str
) -> None:
    url = owner_database_url if login_as == "owner" else database_url
    app = create_app(
        _production(url), run_consumers=False, run_background=False, start_broker=False
    )
    with pytest.raises(LoginRoleError, match="DATABASE_MIGRATION_URL"):
        async with app.router.lifespan_context(app):
            pass


async def test_production_starts_as_the_login_role(migrated_database_url: str) -> None:
    settings = _production(migrated_database_url)
    app = create_app(settings, run_consumers=False, run_background=False, start_broker=False)
    async with app.router.lifespan_context(app):
        assert app.state.db.is_open
