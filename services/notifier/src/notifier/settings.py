"""notifier settings (env prefix ``NOTIFIER_``; shared ones unprefixed)."""

from __future__ import annotations

import ipaddress
import re

from hub_runtime import ServiceSettings
from hub_runtime.settings import MigrationSettings, env_alias, secret_problems
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

DEVELOPMENT_SERVICE_TOKEN_SECRET = "development-only-service-token-secret-0123456789"
"""The same development default as connection-store's; refused in production by both."""
_WEBHOOK = re.compile(
    r"^https://hooks\.slack\.com/services/[A-Za-z0-9]{1,40}/[A-Za-z0-9]{1,40}/[A-Za-z0-9]{1,80}$"
)


class NotifierSettings(ServiceSettings, MigrationSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")

    service_name: str = "notifier"
    host: str = "127.0.0.1"
    port: int = 8105
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:55432/integrations_hub",
        validation_alias=env_alias("DATABASE_URL"),
    )
    database_pool_size: int = Field(5, ge=2)
    migrate_on_start: bool = True
    credential_keys: SecretStr | None = Field(None, validation_alias=env_alias("CREDENTIAL_KEYS"))
    """Decrypts the brand's Slack bot token and Resend key when sending; without it only the
    platform's channels (webhook, Resend key, SMTP) work."""

    store_url: str = "http://127.0.0.1:8102"
    """connection-store, for the internal notification-context endpoint."""
    service_token_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_SERVICE_TOKEN_SECRET),
        validation_alias=env_alias("HUB_SERVICE_TOKEN_SECRET"),
    )
    admin_base_url: str = "http://127.0.0.1:8100"
    """Links in messages: ``{admin_base_url}/admin/settings/integrations/{provider-slug}``."""

    reminder_interval_s: int = Field(24 * 3600, ge=60)
    """An open incident is told again only by an event that arrives this long after the last
    message about it; until then (or the recovery) repeats are duplicates."""

    slack_webhook_url: SecretStr | None = None
    """The platform's Slack incoming webhook, for brands without a Slack connection (a secret:
    validated, never logged)."""
    resend_api_key: SecretStr | None = None
    """The platform's Resend key: email for every brand that has no Resend connection of its
    own with a sender address set."""
    email_from: str = "Integrations hub <notifications@integrations-hub.local>"
    smtp_host: str | None = None
    """Plain SMTP for self-hosters without Resend."""
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_timeout_s: float = Field(20.0, gt=0)

    worker_interval_s: float = Field(1.0, gt=0)
    """How often the worker looks for due work when nothing woke it."""
    batch_size: int = Field(20, ge=1)
    max_attempts: int = Field(8, ge=1)
    retry_base_s: float = Field(2.0, gt=0)
    retry_max_s: float = Field(600.0, gt=0)
    send_lease_s: float = Field(120.0, gt=0)
    """A delivery still ``sending`` this long after it was claimed was abandoned by a process
    that stopped: sent again on Resend (idempotent), marked uncertain elsewhere. Must exceed the
    outbound deadline (20 s)."""

    @field_validator("slack_webhook_url")
    @classmethod
    def _webhook_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK.fullmatch(value.get_secret_value()):
            raise ValueError(
                "must be a Slack incoming-webhook URL https://hooks.slack.com/services/..."
            )
        return value

    @model_validator(mode="after")
    def _production(self) -> NotifierSettings:
        if self.environment != "production":
            return self
        if self.service_token_secret.get_secret_value() == DEVELOPMENT_SERVICE_TOKEN_SECRET:
            raise ValueError("HUB_SERVICE_TOKEN_SECRET must be set in production")
        problems = secret_problems(
            {
                "HUB_SERVICE_TOKEN_SECRET": self.service_token_secret,
                "CREDENTIAL_KEYS": self.credential_keys,
            }
        )
        if problems:
            raise ValueError("in production: " + "; ".join(problems))
        if (
            self.smtp_host
            and not (self.smtp_starttls or self.smtp_tls)
            and not _loopback(self.smtp_host)
        ):
            raise ValueError("SMTP to another host needs TLS (NOTIFIER_SMTP_STARTTLS or _TLS)")
        return self


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
