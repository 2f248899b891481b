"""The stack: which servers it starts, what it writes, and a full start and stop."""

from collections.abc import Iterable
from pathlib import Path

import pytest
from hub_localstack.processes import free_port
from hub_localstack.settings import StackSettings, repo_root
from hub_localstack.stack import LocalStack


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("DATABASE_URL", "DATABASE_MIGRATION_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("POSTGRES_PORT", "KAFKA_PORT", "PARTITIONS", "REPLICATION_FACTOR", "DATA_DIR"):
        monkeypatch.delenv(f"LOCAL_STACK_{name}", raising=False)
    return monkeypatch


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = StackSettings()
    assert (settings.postgres_port, settings.kafka_port, settings.partitions) == (55432, 59092, 6)
    assert settings.database_url is None
    assert settings.kafka_bootstrap_servers is None
    assert settings.state_dir == repo_root() / ".local"
    assert (repo_root() / "uv.lock").is_file()


def test_urls_from_the_environment_replace_the_servers(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://app@db.internal:5432/hub")
    clean_env.setenv("DATABASE_MIGRATION_URL", "postgresql://owner@db.internal:5432/hub")
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    clean_env.setenv("LOCAL_STACK_PARTITIONS", "3")
    clean_env.setenv("LOCAL_STACK_DATA_DIR", str(tmp_path))
    calls: list[tuple[str, int]] = []

    async def create_topics(
        bootstrap_servers: str, topics: Iterable[str] | None = None, **options: int
    ) -> tuple[str, ...]:
        calls.append((bootstrap_servers, options["partitions"]))
        return ()

    clean_env.setattr("hub_localstack.stack.create_topics", create_topics)
    stack = LocalStack(StackSettings())
    endpoints = stack.start()

    assert endpoints.database_url == "postgresql://app@db.internal:5432/hub"
    assert endpoints.migration_database_url == "postgresql://owner@db.internal:5432/hub"
    assert endpoints.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert stack.started == []
    assert calls == [("kafka-1:9092,kafka-2:9092", 3)]
    assert (tmp_path / "stack.env").read_text() == (
        "DATABASE_URL=postgresql://app@db.internal:5432/hub\n"
        "DATABASE_MIGRATION_URL=postgresql://owner@db.internal:5432/hub\n"
        "KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092,kafka-2:9092\n"
    )
    stack.stop()
    assert not (tmp_path / "stack.env").exists()


@pytest.mark.integration
def test_starts_and_stops_both_servers(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = StackSettings(postgres_port=free_port(), kafka_port=free_port(), data_dir=tmp_path)
    stack = LocalStack(settings)
    endpoints = stack.start()
    pids = [server.pid for server in stack.started]
    try:
        assert endpoints.database_url.endswith("/integrations_hub")
        # make run logs the services in as production must: not as the owner or a superuser
        assert endpoints.database_url.startswith("postgresql://hub_login@")
        assert str(endpoints.migration_database_url).startswith("postgresql://hub_owner@")
        assert stack.running()
        assert (tmp_path / "stack.env").is_file()
    finally:
        stack.stop()
    assert all(pid and not Path(f"/proc/{pid}").exists() for pid in pids)
    assert not (tmp_path / "stack.env").exists()
