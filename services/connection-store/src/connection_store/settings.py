"""connection-store settings (env prefix ``CONNECTION_STORE_``; shared ones unprefixed)."""

from __future__ import annotations

from hub_runtime import ServiceSettings
from hub_runtime.settings import MigrationSettings, env_alias, secret_problems
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

DEVELOPMENT_JWT_SECRET = "development-only-jwt-secret-change-me-0123456789"
DEVELOPMENT_SERVICE_TOKEN_SECRET = "development-only-service-token-secret-0123456789"


class StoreSettings(ServiceSettings, MigrationSettings):
    model_config = SettingsConfigDict(env_prefix="CONNECTION_STORE_")

    service_name: str = "connection-store"
    host: str = "127.0.0.1"
    port: int = 8102
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:55432/integrations_hub",
        validation_alias=env_alias("DATABASE_URL"),
    )
    database_pool_size: int = Field(10, ge=1)
    migrate_on_start: bool = True
    gateway_url: str = "http://127.0.0.1:8101"
    """oauth-gateway, whose resource listings check the settings that name a resource
    (``CONNECTION_STORE_GATEWAY_URL``)."""

    jwt_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_JWT_SECRET),
        validation_alias=env_alias("PLATFORM_JWT_SECRET"),
    )
    """HS256 secret shared with the platform's token issuer; set a real one in production."""
    jwt_audience: str | None = Field(None, validation_alias=env_alias("PLATFORM_JWT_AUDIENCE"))
    jwt_issuer: str | None = Field(None, validation_alias=env_alias("PLATFORM_JWT_ISSUER"))
    service_token_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_SERVICE_TOKEN_SECRET),
        validation_alias=env_alias("HUB_SERVICE_TOKEN_SECRET"),
    )
    """HS256 secret of hub service tokens (the notifier's calls to /internal); its own secret."""

    sweep_interval_s: float = Field(5.0, gt=0)
    sweep_batch_size: int = Field(500, ge=1)
    check_interval_s: int = Field(6 * 3600, ge=60)
    """Between two scheduled health checks of one connection (jittered)."""
    check_jitter: float = Field(0.1, ge=0, le=0.5)
    refresh_retry_s: int = Field(300, ge=1)
    """After emitting token.expiring, the row is due again only after this long without answer."""
    outbox_interval_s: float = Field(0.2, gt=0)
    outbox_batch_size: int = Field(500, ge=1)
    outbox_ack_timeout_s: float = Field(30.0, gt=0)
    """How long the relay waits for the broker to acknowledge a batch."""
    outbox_retain_sent_s: float = Field(3600.0, ge=0)
    """Sent rows are deleted after this long: their payloads may carry credential ciphertext."""
    max_body_bytes: int = Field(64 * 1024, ge=1024)

    credential_keys: SecretStr | None = Field(None, validation_alias=env_alias("CREDENTIAL_KEYS"))
    """The key ring the credentials API decrypts with (``CREDENTIAL_KEYS``); without it the
    route answers 503. Required in production."""
    credentials_wait_s: float = Field(10.0, gt=0, le=60)
    """How long a credentials read waits for an on-demand refresh before answering 503."""
    credentials_retry_after_s: int = Field(5, ge=1, le=300)
    """The ``Retry-After`` of a 503 ``refresh_unavailable``; also how long after a failed
    on-demand refresh the next read answers 503 at once instead of asking again."""
    credentials_poll_s: float = Field(0.5, gt=0)
    """While waiting, the row is read again this often even without a NOTIFY."""
    credentials_rate_per_s: float = Field(500.0, gt=0)
    """Credential reads per second per service and replica (token bucket) before 429."""
    credentials_burst: int = Field(1000, ge=1)
    credential_reads_retain_days: int = Field(90, ge=1)
    """The audit of credential reads is purged past this age by the sweep loop."""

    @model_validator(mode="after")
    def _no_development_secret_in_production(self) -> StoreSettings:
        if self.environment != "production":
            return self
        problems = secret_problems(
            {
                "PLATFORM_JWT_SECRET": self.jwt_secret,
                "HUB_SERVICE_TOKEN_SECRET": self.service_token_secret,
            }
        )
        if self.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET:
            problems.append("PLATFORM_JWT_SECRET must be set")
        if self.service_token_secret.get_secret_value() == DEVELOPMENT_SERVICE_TOKEN_SECRET:
            problems.append("HUB_SERVICE_TOKEN_SECRET must be set")
        if not self.jwt_audience:
            problems.append("PLATFORM_JWT_AUDIENCE must be set")
        if self.credential_keys is None:
            problems.append("CREDENTIAL_KEYS must be set (the credentials API decrypts with it)")
        if problems:
            raise ValueError("in production: " + "; ".join(problems))
        return self
