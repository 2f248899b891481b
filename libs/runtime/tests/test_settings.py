"""Production refuses the sandbox and weak or reused secrets (SECURITY 13, 20)."""

from __future__ import annotations

import pytest
from hub_runtime import ServiceSettings
from hub_runtime.settings import MIN_SECRET_BYTES, secret_problems
from pydantic import SecretStr, ValidationError


def test_the_sandbox_override_is_refused_in_production_only() -> None:
    assert ServiceSettings(provider_base_url_override="http://127.0.0.1:8199").environment
    with pytest.raises(ValidationError, match="PROVIDER_BASE_URL_OVERRIDE"):
        ServiceSettings(environment="production", provider_base_url_override="http://x.test")


def test_short_and_reused_secrets_are_named_never_shown() -> None:
    strong = "s" * MIN_SECRET_BYTES
    problems = secret_problems(
        {
            "A_SECRET": SecretStr(strong),
            "B_SECRET": SecretStr(strong),
            "C_SECRET": SecretStr("é" * 15),  # 30 bytes, 15 characters
            "D_SECRET": None,
            "E_SECRET": SecretStr("e" * MIN_SECRET_BYTES),
        }
    )
    assert problems == ["B_SECRET must differ from A_SECRET", "C_SECRET needs at least 32 bytes"]
    assert not any(strong in p for p in problems)
