"""The sandbox's settings, read from ``SANDBOX_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDBOX_", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8199, ge=1, le=65535)
    access_token_lifetime_s: int | None = Field(default=None, ge=0)
    """When set, every access token the sandbox issues lives this long instead of the catalog's
    typical lifetime (tests of refresh scheduling)."""
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    """Added before every provider answer (not the control API): latency realism for the
    benchmarks; ``POST /_sandbox/latency`` changes it at run time."""
    access_log: bool = False
    """Off by default: request lines carry codes, tokens and API keys in query strings, and the
    local stack's merged output is scanned for canary secrets."""
