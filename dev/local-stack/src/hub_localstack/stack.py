"""The development stack: PostgreSQL, the broker, the hub's database and topics."""

import asyncio
from dataclasses import dataclass

from hub_localstack.broker import TansuBroker
from hub_localstack.postgres import LOGIN_ROLE, OWNER_ROLE, PostgresServer, role_url
from hub_localstack.settings import StackSettings
from hub_localstack.topics import create_topics


@dataclass(frozen=True)
class Endpoints:
    """Where the services find the stack."""

    database_url: str
    """The services' login role (not an owner, cannot bypass row-level security)."""
    kafka_bootstrap_servers: str
    migration_database_url: str | None = None
    """The owner role the migrations run as; None: DATABASE_URL migrates too."""

    def env_text(self) -> str:
        migration = self.migration_database_url
        return (
            f"DATABASE_URL={self.database_url}\n"
            + (f"DATABASE_MIGRATION_URL={migration}\n" if migration else "")
            + f"KAFKA_BOOTSTRAP_SERVERS={self.kafka_bootstrap_servers}\n"
        )


class LocalStack:
    """Starts each server unless its URL (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS) is set. A
    set DATABASE_URL (and DATABASE_MIGRATION_URL, if any) goes to the services unchanged; the
    embedded server gets the owner and login roles (postgres.create_roles)."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        state = settings.state_dir
        self.env_path = state / "stack.env"
        self.postgres = PostgresServer(state / "postgres", settings.postgres_port)
        self.broker = TansuBroker(state / "tansu.log", settings.kafka_port, state / "tansu.pid")
        self.started: list[PostgresServer | TansuBroker] = []

    def start(self) -> Endpoints:
        """Bring everything up, then write the env file; it exists only while the stack is up."""
        self.env_path.unlink(missing_ok=True)
        try:
            endpoints = self._start()
        except BaseException:
            self.stop()
            raise
        scratch = self.env_path.with_suffix(".tmp")
        scratch.write_text(endpoints.env_text())
        scratch.replace(self.env_path)
        return endpoints

    def running(self) -> bool:
        """Whether every server this stack started still runs."""
        return all(server.pid is not None for server in self.started)

    def stop(self) -> None:
        self.env_path.unlink(missing_ok=True)
        while self.started:
            self.started.pop().stop()

    def stop_leftovers(self) -> list[str]:
        """Stop servers that an earlier, killed run left behind; name what was stopped."""
        self.env_path.unlink(missing_ok=True)
        stopped = []
        if self.postgres.stop_leftover():
            stopped.append(f"PostgreSQL on {self.postgres.data_dir}")
        if self.broker.stop_leftover():
            stopped.append(f"Tansu on {self.broker.bootstrap_servers}")
        return stopped

    def _start(self) -> Endpoints:
        settings = self.settings
        database_url = settings.database_url
        migration_url = settings.database_migration_url
        if database_url is None:
            self.postgres.start()
            self.started.append(self.postgres)
            superuser_url = self.postgres.create_database(settings.database, exist_ok=True)
            database_url = role_url(superuser_url, LOGIN_ROLE)
            migration_url = role_url(superuser_url, OWNER_ROLE)
        bootstrap_servers = settings.kafka_bootstrap_servers
        if bootstrap_servers is None:
            self.broker.start()
            self.started.append(self.broker)
            bootstrap_servers = self.broker.bootstrap_servers
        asyncio.run(
            create_topics(
                bootstrap_servers,
                partitions=settings.partitions,
                replication_factor=settings.replication_factor,
            )
        )
        return Endpoints(database_url, bootstrap_servers, migration_url)
