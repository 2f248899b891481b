"""token-refresher settings (env prefix ``TOKEN_REFRESHER_``; shared ones unprefixed)."""

from __future__ import annotations

from typing import Literal

from hub_runtime import ServiceSettings
from hub_runtime.settings import MigrationSettings, env_alias
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

CONSUMER_GROUP = "token-refresher.on_token_expiring"


class RefresherSettings(ServiceSettings, MigrationSettings):
    model_config = SettingsConfigDict(env_prefix="TOKEN_REFRESHER_")

    service_name: str = "token-refresher"
    host: str = "127.0.0.1"
    port: int = Field(8103, ge=1, le=65535)
    """Liveness (``/healthz``), readiness (``/readyz``) and metrics (``/metrics``)."""

    credential_keys: SecretStr = Field(validation_alias=env_alias("CREDENTIAL_KEYS"))
    """``newest-id:base64,older-id:base64``; see hub_keyring. Decrypts the stored credential and
    encrypts the new one under the newest key."""

    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:55432/integrations_hub",
        validation_alias=env_alias("DATABASE_URL"),
    )
    """The refresher's journal (``token_refresher_journal``) lives in the hub's database."""
    database_pool_size: int = Field(5, ge=2)
    migrate_on_start: bool = True
    journal_interval_s: float = Field(0.05, gt=0)
    """How often the relay publishes the journal's unsent renewals."""
    journal_batch_size: int = Field(500, ge=1)
    journal_ack_timeout_s: float = Field(10.0, gt=0)
    journal_max_backoff_s: float = Field(5.0, gt=0)
    journal_write_timeout_s: float = Field(30.0, gt=0)
    """How long a renewal's journal write is retried before it is published directly."""

    fault_injection: Literal["kill_after_provider_answer"] | None = None
    """Tests only (refused in production): ``kill_after_provider_answer`` sends the process
    SIGKILL once a renewal is in the journal and before anything is published."""

    consumer_group: str = CONSUMER_GROUP
    """Consumer group of ``token.expiring``. The ``token.refreshed`` projection uses no group:
    every replica reads every partition of it."""

    max_in_flight: int = Field(1000, ge=1, le=100_000)
    """``token.expiring`` records taken from the broker and not finished yet (waiting for a
    connection's lock, a provider slot or a retry). At the limit, fetching pauses."""
    max_concurrency: int = Field(64, ge=1, le=4096)
    """Provider calls in flight at once, over every provider."""
    per_provider_concurrency: int = Field(16, ge=1, le=1024)
    """Provider calls in flight at once to any one provider."""
    queue_max_wait_s: float = Field(60.0, gt=0)
    """How long one record may wait for a provider slot. Past it the record is deferred
    (finished without a call; the store's sweep emits it again after its ``refresh_retry_s``),
    so a slow provider's records cannot hold ``max_in_flight`` and starve the others for long.
    A burst of a fast provider drains well within it."""
    poll_max_records: int = Field(500, ge=1, le=10_000)

    attempts: int = Field(4, ge=1, le=20)
    """Calls of one refresh against an unavailable provider (5xx, timeout, network) before
    ``connection.unhealthy`` with reason ``provider_unavailable``."""
    retry_base_delay_s: float = Field(0.5, ge=0)
    """Backoff before the second call; doubles each time, jittered (half to full)."""
    retry_max_delay_s: float = Field(10.0, ge=0)

    rate_limit_max_wait_s: float = Field(15.0, ge=0)
    """How long one refresh may wait for a rate-limited provider (``Retry-After``) in total.
    Past it the record is deferred to the store's next sweep: never ``connection.unhealthy``."""
    rate_limit_default_retry_after_s: float = Field(5.0, gt=0)
    """The cool-down after a rate limit without ``Retry-After``; doubles while limits repeat."""
    rate_limit_max_retry_after_s: float = Field(3600.0, gt=0)
    """A ``Retry-After`` beyond this is read as this (a provider's typo cannot stop us for days)."""

    commit_interval_s: float = Field(1.0, gt=0)
    """How often finished offsets of ``token.expiring`` are committed (also on revocation and
    shutdown). Redelivered records are dropped by the credential-version check."""
    drain_timeout_s: float = Field(45.0, gt=0)
    """On revocation and shutdown: how long to wait for provider calls already sent (and their
    outcome events) before giving the partitions up. Keep it above the outbound deadline."""
    publish_timeout_s: float = Field(30.0, gt=0)
    """How long an outcome event may take to be acknowledged (retried meanwhile)."""
    barrier_timeout_s: float = Field(60.0, gt=0)
    """Longest wait for the ``token.refreshed`` projection to catch up before a warning (the
    wait goes on: processing without it could refresh a rotating token twice)."""

    outbound_connect_timeout_s: float = Field(5.0, gt=0)
    outbound_total_timeout_s: float = Field(20.0, gt=0)
    outbound_max_response_bytes: int = Field(1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _consistent(self) -> RefresherSettings:
        if self.per_provider_concurrency > self.max_concurrency:
            raise ValueError("per_provider_concurrency cannot exceed max_concurrency")
        if self.drain_timeout_s <= self.outbound_total_timeout_s:
            raise ValueError("drain_timeout_s must exceed outbound_total_timeout_s")
        if self.fault_injection is not None and self.environment == "production":
            raise ValueError("TOKEN_REFRESHER_FAULT_INJECTION must not be set in production")
        return self
