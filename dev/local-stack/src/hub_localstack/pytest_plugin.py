"""Pytest fixtures: a session PostgreSQL and broker (started on first use), per-test names.

Register with `pytest_plugins = ["hub_localstack.pytest_plugin"]` in the root conftest.py.
DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, when set, replace the servers. Each module's database
is owned by OWNER_ROLE; services log in as LOGIN_ROLE (`login_database_url`, and `hub_env`).
"""

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hub_localstack.broker import TansuBroker
from hub_localstack.postgres import (
    LOGIN_ROLE,
    OWNER_ROLE,
    PostgresServer,
    create_database,
    create_roles,
    drop_database,
    role_url,
)
from hub_localstack.services import ServiceProcess, hub_environment
from hub_localstack.settings import StackSettings
from hub_localstack.topics import create_topics, delete_topics


class TopicFactory:
    """Creates uniquely named topics; `delete_all` removes them again."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.created: list[str] = []

    async def __call__(self, prefix: str = "test", partitions: int = 1) -> str:
        """Create topic `<prefix>.<random>` with `partitions` partitions and return its name."""
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        await create_topics(self.bootstrap_servers, [name], partitions=partitions)
        self.created.append(name)
        return name

    async def delete_all(self) -> None:
        if self.created:
            await delete_topics(self.bootstrap_servers, self.created)
            self.created.clear()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Superuser URL of the session's PostgreSQL: DATABASE_URL, or a server started here; with
    the hub's roles (postgres.create_roles)."""
    database_url = StackSettings().database_url
    if database_url:
        create_roles(database_url)
        yield database_url
        return
    base_dir = Path(tempfile.mkdtemp(prefix="hub-test-postgres-"))
    try:
        with PostgresServer(base_dir) as server:
            create_roles(server.dsn)
            yield server.dsn
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def database_url(postgres_server: str) -> Iterator[str]:
    """Superuser URL of a fresh database for this test module (owned by OWNER_ROLE), dropped
    afterwards: for setting up and inspecting. Services get `login_database_url`."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = create_database(postgres_server, name, owner=OWNER_ROLE)
    yield url
    drop_database(postgres_server, name)


@pytest.fixture(scope="module")
def owner_database_url(database_url: str) -> str:
    """The module's database as the owner role: what migrations run as."""
    return role_url(database_url, OWNER_ROLE)


@pytest.fixture(scope="module")
def login_database_url(database_url: str) -> str:
    """The module's database as the login role: what services connect as."""
    return role_url(database_url, LOGIN_ROLE)


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of this test module's broker: KAFKA_BOOTSTRAP_SERVERS, or a Tansu
    started for the module. Tansu starts in milliseconds, and a broker per module keeps one
    module's traffic (10,000 swept events, say) out of the next module's consumers, which read
    their topics from the earliest offset."""
    bootstrap_servers = StackSettings().kafka_bootstrap_servers
    if bootstrap_servers:
        yield bootstrap_servers
        return
    with TansuBroker(tmp_path_factory.mktemp("tansu") / "tansu.log") as broker:
        yield broker.bootstrap_servers


@pytest.fixture
def unique_suffix() -> str:
    """A random suffix for names that must not clash across tests (topics, consumer groups)."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
async def kafka_topic_factory(kafka_bootstrap: str) -> AsyncIterator[TopicFactory]:
    """`await kafka_topic_factory(prefix, partitions)` creates a topic, deleted after the test."""
    factory = TopicFactory(kafka_bootstrap)
    yield factory
    await factory.delete_all()


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of one provider sandbox process for the session (reset it between tests)."""
    env = {"PATH": os.environ.get("PATH", ""), "SANDBOX_HOST": "127.0.0.1"}  # noqa: TID251
    sandbox = ServiceProcess(
        "provider-sandbox",
        "provider_sandbox",
        env,
        port_variable="SANDBOX_PORT",
        log_dir=tmp_path_factory.mktemp("sandbox"),
        health_path="/_sandbox/health",
    )
    with sandbox:
        yield sandbox.url


@pytest.fixture(scope="module")
def hub_env(
    database_url: str,
    kafka_bootstrap: str,
    sandbox_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """The environment for services as processes: this module's fresh database, the session's
    broker (hub topics created) and sandbox, a development key; see hub_localstack.services."""
    asyncio.run(create_topics(kafka_bootstrap))
    return hub_environment(
        database_url, kafka_bootstrap, sandbox_url, tmp_path_factory.mktemp("hub-state")
    )
