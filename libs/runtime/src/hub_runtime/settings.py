"""The settings every service shares. Each service subclasses ``ServiceSettings`` with its own
``env_prefix`` (``<SERVICE>_``); shared infrastructure keeps its conventional unprefixed names
(``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``, ``CREDENTIAL_KEYS``...). Built once in
``__main__`` and passed in; tests build their own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_BYTES = 32
"""The shortest HMAC secret accepted in production (HS256 wants at least its 32-byte output)."""


def secret_problems(secrets: dict[str, SecretStr | None]) -> list[str]:
    """What is wrong with a service's secrets, by their variable names: shorter than
    ``MIN_SECRET_BYTES`` (UTF-8), or the same value under two names (SECURITY 13: one secret,
    one job). Never says a value."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for name, secret in secrets.items():
        if secret is None:
            continue
        value = secret.get_secret_value()
        if len(value.encode()) < MIN_SECRET_BYTES:
            problems.append(f"{name} needs at least {MIN_SECRET_BYTES} bytes")
        if value in seen:
            problems.append(f"{name} must differ from {seen[value]}")
        seen.setdefault(value, name)
    return problems


def env_alias(name: str) -> AliasChoices:
    """Read a setting from its conventional unprefixed variable, whatever the env_prefix."""
    return AliasChoices(name, name.lower())


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="ignore", hide_input_in_errors=True, populate_by_name=True
    )

    service_name: str = "integrations-hub"
    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=env_alias("HUB_ENVIRONMENT")
    )
    log_level: str = Field("INFO", validation_alias=env_alias("LOG_LEVEL"))
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", validation_alias=env_alias("LOG_FORMAT")
    )
    """``auto``: one coloured line per record on a terminal, JSON elsewhere."""

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:59092", validation_alias=env_alias("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_idempotent_producer: bool = Field(
        False, validation_alias=env_alias("KAFKA_IDEMPOTENT_PRODUCER")
    )
    """On for real Kafka; the local Tansu broker refuses aiokafka's InitProducerId v0."""
    kafka_session_timeout_ms: int = Field(
        10_000, validation_alias=env_alias("KAFKA_SESSION_TIMEOUT_MS")
    )
    kafka_heartbeat_interval_ms: int = Field(
        3_000, validation_alias=env_alias("KAFKA_HEARTBEAT_INTERVAL_MS")
    )
    kafka_fetch_max_wait_ms: int = Field(500, validation_alias=env_alias("KAFKA_FETCH_MAX_WAIT_MS"))
    """Tansu does not wake a parked fetch: local stacks set ~10 ms."""
    kafka_linger_ms: int = Field(5, ge=0, validation_alias=env_alias("KAFKA_LINGER_MS"))
    """How long the producer gathers records into one request (batching, fewer acks)."""
    kafka_compression_type: Literal["gzip", "snappy", "lz4", "zstd"] | None = Field(
        None, validation_alias=env_alias("KAFKA_COMPRESSION_TYPE")
    )
    """Off by default: lz4/zstd/snappy need cramjam (not installed); gzip costs CPU here."""
    consumer_batch_max_records: int = Field(
        500, ge=1, validation_alias=env_alias("CONSUMER_BATCH_MAX_RECORDS")
    )
    """``subscribe`` polls up to this many records and commits once per batch."""
    consumer_key_concurrency: int = Field(
        32, ge=1, validation_alias=env_alias("CONSUMER_KEY_CONCURRENCY")
    )
    """Keys of one batch handled at once by ``subscribe`` (one key's records stay in order)."""
    consumer_max_attempts: int = Field(5, ge=1, validation_alias=env_alias("CONSUMER_MAX_ATTEMPTS"))
    """A handler failing this many times sends the event to the DLQ."""

    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias=env_alias("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    otel_traces_file: str | None = Field(None, validation_alias=env_alias("OTEL_TRACES_FILE"))
    """Without an OTLP endpoint, spans go to this file as OTLP JSON lines (``make run``)."""

    provider_base_url_override: str | None = Field(
        None, validation_alias=env_alias("PROVIDER_BASE_URL_OVERRIDE")
    )
    """Points every catalog provider URL at the provider sandbox (development and tests);
    refused in production."""

    @model_validator(mode="after")
    def _no_sandbox_in_production(self) -> ServiceSettings:
        if self.environment == "production" and self.provider_base_url_override is not None:
            raise ValueError(
                "PROVIDER_BASE_URL_OVERRIDE (the sandbox) must not be set in production"
            )
        return self


class CredentialSettings(BaseSettings):
    """For services that encrypt or decrypt credentials."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    credential_keys: SecretStr
    """``newest-id:base64,older-id:base64``; see hub_keyring."""


class MigrationSettings(BaseSettings):
    """For services with migrations: the owner role they run as (hub_runtime.login_role)."""

    model_config = SettingsConfigDict(
        extra="ignore", hide_input_in_errors=True, populate_by_name=True
    )

    database_migration_url: str | None = Field(
        None, validation_alias=env_alias("DATABASE_MIGRATION_URL")
    )
    """The role that owns the tables and runs the migrations (``DATABASE_MIGRATION_URL``);
    unset, ``DATABASE_URL`` migrates too, which production refuses (it would own the tables)."""
