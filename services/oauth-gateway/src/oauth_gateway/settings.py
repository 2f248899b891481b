"""oauth-gateway settings (env prefix ``OAUTH_GATEWAY_``; shared ones unprefixed). The operator's
platform credentials are ``hub_catalog.PlatformCredentials``, read by the catalog's env names.

Three secrets, never the same value (SECURITY.md 13): the state-signing key
(``OAUTH_GATEWAY_STATE_SECRET``), the credential keys (``CREDENTIAL_KEYS``) and the platform's
JWT secret (``PLATFORM_JWT_SECRET``).
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlsplit

from hub_runtime import CredentialSettings, ServiceSettings
from hub_runtime.settings import MigrationSettings, env_alias, secret_problems
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

DEVELOPMENT_JWT_SECRET = "development-only-jwt-secret-change-me-0123456789"
"""The platform's development token secret (the same default as connection-store)."""
DEVELOPMENT_STATE_SECRET = "development-only-oauth-state-secret-change-me-9876543210"
DEVELOPMENT_SERVICE_TOKEN_SECRET = "development-only-service-token-secret-0123456789"
"""The hub's development service-token secret (the same default as connection-store)."""
MIN_SECRET_CHARS = 32


class GatewaySettings(ServiceSettings, CredentialSettings, MigrationSettings):
    model_config = SettingsConfigDict(env_prefix="OAUTH_GATEWAY_")

    service_name: str = "oauth-gateway"
    host: str = "127.0.0.1"
    port: int = Field(8101, ge=1, le=65535)
    public_base_url: str | None = None
    """Where browsers and providers reach this service; the redirect URI registered with every
    provider is ``{public_base_url}/v1/oauth/{provider}/callback``. Default
    ``http://{host}:{port}``."""

    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:55432/integrations_hub",
        validation_alias=env_alias("DATABASE_URL"),
    )
    database_pool_size: int = Field(10, ge=1)
    outbox_interval_s: float = Field(0.1, gt=0)
    outbox_batch_size: int = Field(500, ge=1)
    outbox_ack_timeout_s: float = Field(10.0, gt=0)
    """How long the relay waits for the broker to acknowledge a batch."""
    outbox_max_backoff_s: float = Field(5.0, gt=0)
    """The longest pause between relay attempts while the broker is away."""
    outbox_retain_sent_s: float = Field(3600.0, ge=0)
    """Sent rows are deleted after this long: their payloads carry credential ciphertext."""
    migrate_on_start: bool = True

    credential_keys: SecretStr = Field(validation_alias=env_alias("CREDENTIAL_KEYS"))
    """``newest-id:base64,older-id:base64``; see hub_keyring."""
    submission_keys: SecretStr | None = None
    """X25519 private keys onboarding submissions are sealed to, ``newest-id:base64,older...``
    (``hubctl keys submission-key``); their public halves are served at
    ``GET /v1/submission-keys``. Required in production."""
    accept_symmetric_submissions: bool | None = None
    """Open v1 submissions encrypted under ``CREDENTIAL_KEYS`` (the old path: every publisher
    held the master key). Default: yes outside production; never in production."""
    state_secret: SecretStr = SecretStr(DEVELOPMENT_STATE_SECRET)
    """HMAC-SHA256 key of the OAuth ``state`` and the browser binding."""
    jwt_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_JWT_SECRET), validation_alias=env_alias("PLATFORM_JWT_SECRET")
    )
    jwt_audience: str | None = Field(None, validation_alias=env_alias("PLATFORM_JWT_AUDIENCE"))
    jwt_issuer: str | None = Field(None, validation_alias=env_alias("PLATFORM_JWT_ISSUER"))

    store_url: str = "http://127.0.0.1:8102"
    """connection-store, whose internal endpoint hands out a connection's sealed credential for
    resource listings (``OAUTH_GATEWAY_STORE_URL``)."""
    service_token_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_SERVICE_TOKEN_SECRET),
        validation_alias=env_alias("HUB_SERVICE_TOKEN_SECRET"),
    )
    resource_cache_s: float = Field(60.0, ge=0)
    """How long a resource listing is served from memory before the provider is asked again."""

    return_origins: Annotated[list[str], NoDecode] = [
        "http://127.0.0.1:8100",
        "http://localhost:8100",
    ]
    """Origins a flow may return to (``scheme://host[:port]``, compared exactly); comma-separated
    or a JSON list. Also the origins allowed to call ``start`` from a browser (CORS)."""
    default_return_url: str = "http://127.0.0.1:8100/settings/integrations"
    """Where a flow started without ``return_to`` ends; its origin must be allow-listed."""
    flow_ttl_s: int = Field(600, ge=60, le=3600)
    cookie_name: str = Field("hub_oauth_browser", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    flow_retention_s: int = Field(86_400, ge=0)
    """Consumed or expired flows are deleted this long after they expired."""
    purge_interval_s: float = Field(300.0, gt=0)
    expiry_interval_s: float = Field(30.0, gt=0)
    """The expiry sweep's period: "connecting" ends at most this long after a flow's lifetime."""
    expiry_batch: int = Field(200, ge=1, le=10_000)
    claim_grace_s: float = Field(60.0, ge=0)
    """A flow claimed by a callback before it expired is swept only this long after the claim
    (the callback is exchanging the code; its own result ends the flow)."""

    outbound_connect_timeout_s: float = Field(5.0, gt=0)
    outbound_total_timeout_s: float = Field(20.0, gt=0)
    outbound_max_response_bytes: int = Field(1024 * 1024, ge=1024)
    provider_retry_attempts: int = Field(3, ge=1, le=10)
    """For onboarding submissions: tries of a provider that is down or rate limiting."""
    provider_retry_max_delay_s: float = Field(10.0, ge=0)
    max_body_bytes: int = Field(16 * 1024, ge=1024)

    @field_validator("return_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("return_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or origin != f"{parts.scheme}://{parts.netloc}"
                or "@" in parts.netloc
            ):
                raise ValueError(
                    f"return origin {origin!r} must be exactly scheme://host[:port], "
                    "lowercase, no path or trailing slash"
                )
            if origin != origin.lower():
                raise ValueError(f"return origin {origin!r} must be lowercase")
        return value

    @property
    def symmetric_submissions(self) -> bool:
        if self.accept_symmetric_submissions is None:
            return self.environment != "production"
        return self.accept_symmetric_submissions

    @property
    def redirect_base(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @model_validator(mode="after")
    def _safe(self) -> GatewaySettings:
        state = self.state_secret.get_secret_value()
        if len(state) < MIN_SECRET_CHARS:
            raise ValueError(f"OAUTH_GATEWAY_STATE_SECRET needs at least {MIN_SECRET_CHARS} chars")
        if state in (self.jwt_secret.get_secret_value(), self.credential_keys.get_secret_value()):
            raise ValueError(
                "OAUTH_GATEWAY_STATE_SECRET must differ from PLATFORM_JWT_SECRET and "
                "CREDENTIAL_KEYS: each secret has one job"
            )
        origin = urlsplit(self.default_return_url)
        if f"{origin.scheme}://{origin.netloc}" not in self.return_origins:
            raise ValueError(
                "OAUTH_GATEWAY_DEFAULT_RETURN_URL must be on one of OAUTH_GATEWAY_RETURN_ORIGINS"
            )
        if self.environment == "production":
            problems = secret_problems(
                {
                    "OAUTH_GATEWAY_STATE_SECRET": self.state_secret,
                    "PLATFORM_JWT_SECRET": self.jwt_secret,
                    "CREDENTIAL_KEYS": self.credential_keys,
                    "OAUTH_GATEWAY_SUBMISSION_KEYS": self.submission_keys,
                    "HUB_SERVICE_TOKEN_SECRET": self.service_token_secret,
                }
            )
            if self.service_token_secret.get_secret_value() == DEVELOPMENT_SERVICE_TOKEN_SECRET:
                problems.append("HUB_SERVICE_TOKEN_SECRET must be set")
            if self.submission_keys is None:
                problems.append("OAUTH_GATEWAY_SUBMISSION_KEYS must be set")
            if self.accept_symmetric_submissions:
                problems.append(
                    "OAUTH_GATEWAY_ACCEPT_SYMMETRIC_SUBMISSIONS must be off: publishers would "
                    "need CREDENTIAL_KEYS"
                )
            if not self.jwt_audience:
                problems.append("PLATFORM_JWT_AUDIENCE must be set")
            if state == DEVELOPMENT_STATE_SECRET:
                problems.append("OAUTH_GATEWAY_STATE_SECRET must be set")
            if self.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET:
                problems.append("PLATFORM_JWT_SECRET must be set")
            if not self.redirect_base.startswith("https://"):
                problems.append("OAUTH_GATEWAY_PUBLIC_BASE_URL must be https")
            if any(not o.startswith("https://") for o in self.return_origins):
                problems.append("OAUTH_GATEWAY_RETURN_ORIGINS must all be https")
            if problems:
                raise ValueError("in production: " + "; ".join(problems))
        return self
