"""admin-console settings (env prefix ``ADMIN_CONSOLE_``; shared ones unprefixed).

The console holds no provider credential and no platform signing key in production: it keeps
the admin's bearer in a signed cookie (``ADMIN_CONSOLE_SESSION_SECRET``) and sends it to the
store and gateway, which verify it. ``PLATFORM_JWT_SECRET`` is read only for the development
sign-in.
"""

from __future__ import annotations

from typing import Annotated

from hub_runtime import ServiceSettings
from hub_runtime.settings import env_alias
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

DEVELOPMENT_SESSION_SECRET = "development-only-console-session-secret-0123456789"
DEVELOPMENT_JWT_SECRET = "development-only-jwt-secret-change-me-0123456789"
"""The platform's development token secret (the store's and gateway's default)."""
MIN_SECRET_CHARS = 32


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADMIN_CONSOLE_")

    service_name: str = "admin-console"
    host: str = "127.0.0.1"
    port: int = Field(8100, ge=1, le=65535)
    public_url: str | None = None
    """Where browsers reach the console (OAuth flows return here). Default
    ``http://{host}:{port}``."""
    store_url: str = "http://127.0.0.1:8102"
    gateway_url: str = "http://127.0.0.1:8101"
    request_timeout_s: float = Field(10.0, gt=0)

    session_secret: SecretStr = SecretStr(DEVELOPMENT_SESSION_SECRET)
    """HMAC key of the session and flash cookies and of the CSRF tokens."""
    session_max_age_s: int = Field(12 * 3600, ge=60)
    """A session ends then, or when its bearer expires, whichever is first."""
    jwt_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_JWT_SECRET), validation_alias=env_alias("PLATFORM_JWT_SECRET")
    )
    """Development sign-in only: signs the bearer of ``/dev/sign-in``."""

    oauth_cookie_name: str = Field("hub_oauth_browser", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """The gateway's browser-binding cookie (``OAUTH_GATEWAY_COOKIE_NAME``)."""
    oauth_cookie_domain: str | None = None
    """``Domain`` of that cookie when console and gateway are on sibling hosts
    (``example.com`` for ``admin.example.com`` and ``api.example.com``); unset: host-only."""
    next_origins: Annotated[list[str], NoDecode] = []
    """Origins besides the console's own that the onboarding step's ``next`` may name (the
    platform's wizard), comma-separated."""

    @field_validator("next_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @model_validator(mode="after")
    def _safe(self) -> ConsoleSettings:
        if len(self.session_secret.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(
                f"ADMIN_CONSOLE_SESSION_SECRET needs at least {MIN_SECRET_CHARS} characters"
            )
        if self.environment == "production":
            problems = []
            if self.session_secret.get_secret_value() == DEVELOPMENT_SESSION_SECRET:
                problems.append("ADMIN_CONSOLE_SESSION_SECRET must be set")
            if not self.base_url.startswith("https://"):
                problems.append("ADMIN_CONSOLE_PUBLIC_URL must be https")
            if problems:
                raise ValueError("in production: " + "; ".join(problems))
        return self
