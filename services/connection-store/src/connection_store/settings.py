"""connection-store settings (env prefix ``CONNECTION_STORE_``; shared ones unprefixed)."""

from __future__ import annotations

from hub_runtime import ServiceSettings
from hub_runtime.settings import env_alias, secret_problems
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

DEVELOPMENT_JWT_SECRET = "development-only-jwt-secret-change-me-0123456789"
DEVELOPMENT_SERVICE_TOKEN_SECRET = "development-only-service-token-secret-0123456789"


class StoreSettings(ServiceSettings):
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
        if problems:
            raise ValueError("in production: " + "; ".join(problems))
        return self
