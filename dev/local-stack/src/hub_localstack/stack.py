"""The development stack: PostgreSQL, the broker, the hub's database and topics."""

import asyncio
from dataclasses import dataclass

from hub_localstack.broker import TansuBroker
from hub_localstack.postgres import PostgresServer
from hub_localstack.settings import StackSettings
from hub_localstack.topics import create_topics


@dataclass(frozen=True)
class Endpoints:
    """Where the services find the stack."""

    database_url: str
    kafka_bootstrap_servers: str

    def env_text(self) -> str:
        return (
            f"DATABASE_URL={self.database_url}\n"
            f"KAFKA_BOOTSTRAP_SERVERS={self.kafka_bootstrap_servers}\n"
        )


class LocalStack:
    """Starts each server unless its URL (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS) is set."""

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
        if database_url is None:
            self.postgres.start()
            self.started.append(self.postgres)
            database_url = self.postgres.create_database(settings.database, exist_ok=True)
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
        return Endpoints(database_url, bootstrap_servers)
