"""Configuration of the local stack, read from the environment."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def repo_root(start: Path | None = None) -> Path:
    """The workspace root: the nearest directory with uv.lock above `start` (or cwd, or here)."""
    origins = [start] if start else [Path.cwd(), Path(__file__).resolve()]
    for origin in origins:
        for candidate in (origin, *origin.parents):
            if (candidate / "uv.lock").is_file():
                return candidate
    raise FileNotFoundError(f"no uv.lock above {', '.join(map(str, origins))}")


class StackSettings(BaseSettings):
    """Ports, partitions and the URLs that replace a local server when set."""

    model_config = SettingsConfigDict(env_prefix="LOCAL_STACK_", env_ignore_empty=True)

    postgres_port: int = 55432
    kafka_port: int = 59092
    partitions: int = 6
    replication_factor: int = 1
    database: str = "integrations_hub"
    data_dir: Path | None = None
    postgres_cache: Path = Path("/var/cache/integrations-hub")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    database_migration_url: str | None = Field(
        default=None, validation_alias="DATABASE_MIGRATION_URL"
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )

    @property
    def state_dir(self) -> Path:
        """Where data, logs, pid and env files live: LOCAL_STACK_DATA_DIR or <repo>/.local."""
        return self.data_dir or repo_root() / ".local"
