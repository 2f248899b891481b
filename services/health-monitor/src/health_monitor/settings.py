"""health-monitor settings (env prefix ``HEALTH_MONITOR_``; shared ones unprefixed). The operator's
platform credentials are ``hub_catalog.PlatformCredentials``, read by their catalog env names."""

from __future__ import annotations

from hub_runtime import ServiceSettings
from hub_runtime.settings import env_alias
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class MonitorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTH_MONITOR_")

    service_name: str = "health-monitor"
    host: str = "127.0.0.1"
    port: int = Field(8104, ge=1, le=65535)
    """Liveness (``/healthz``), readiness (``/readyz``) and metrics (``/metrics``)."""

    credential_keys: SecretStr = Field(validation_alias=env_alias("CREDENTIAL_KEYS"))
    """``newest-id:base64,older-id:base64``; see hub_keyring. Only decrypts here."""

    max_concurrency: int = Field(64, ge=1, le=4096)
    """Provider calls in flight at once, over every provider."""
    per_provider_concurrency: int = Field(8, ge=1, le=1024)
    """Provider calls in flight at once to any one provider."""
    batch_size: int = Field(256, ge=1, le=10_000)
    """``connection.check_due`` records taken per poll and checked concurrently; offsets are
    committed when the whole batch is done (at-least-once)."""
    batch_timeout_ms: int = Field(50, ge=1)

    attempts: int = Field(3, ge=1, le=10)
    """N: tries of one check before an outage (5xx, timeout, unexpected answer) counts as
    ``provider_unavailable``; one blip never alarms."""
    retry_base_delay_s: float = Field(0.5, ge=0)
    """Backoff before the second try; doubles each time, jittered."""
    retry_max_delay_s: float = Field(5.0, ge=0)
    """A provider's ``Retry-After`` longer than this is not waited for in the run: a rate
    limited check ends without a verdict, and the next due check tries again."""

    outbound_connect_timeout_s: float = Field(5.0, gt=0)
    outbound_total_timeout_s: float = Field(10.0, gt=0)
    outbound_max_response_bytes: int = Field(1024 * 1024, ge=1024)

    platform_check_interval_s: float = Field(300.0, gt=0)
    """How often the platform's shared accounts (``shared_account`` in the catalog, configured
    from their environment variables) are checked."""

    memory_size: int = Field(100_000, ge=0)
    """Connections whose latest reported transition is remembered (in memory, lost on restart)
    to keep a redelivered or overlapping ``connection.check_due`` from reporting it twice."""
    memory_grace_s: float = Field(30.0, ge=0)
    """A check due less than this long after our last report for the connection may carry a
    status the store set before that report was applied: the remembered one wins."""
