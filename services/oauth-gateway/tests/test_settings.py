"""Settings refuse unsafe combinations, above all in production (SECURITY.md 13, 21)."""

from __future__ import annotations

import pytest
from hub_catalog import PlatformCredentials, load_catalog
from hub_keyring import new_submission_key_spec
from oauth_gateway.settings import (
    DEVELOPMENT_JWT_SECRET,
    DEVELOPMENT_SERVICE_TOKEN_SECRET,
    GatewaySettings,
)
from pydantic import ValidationError

from .conftest import new_key_spec

STRONG = "p" * 48


def production(**changes: object) -> GatewaySettings:
    values: dict[str, object] = {
        "credential_keys": new_key_spec(),
        "submission_keys": new_submission_key_spec("s1"),
        "environment": "production",
        "state_secret": STRONG,
        "jwt_secret": "j" * 48,
        "jwt_audience": "integrations-hub",
        "service_token_secret": "t" * 48,
        "public_base_url": "https://connect.example.com",
        "return_origins": "https://admin.example.com",
        "default_return_url": "https://admin.example.com/settings/integrations",
    }
    return GatewaySettings.model_validate(values | changes)


def test_a_complete_production_configuration_loads() -> None:
    settings = production()
    assert settings.redirect_base == "https://connect.example.com"
    assert settings.return_origins == ["https://admin.example.com"]
    assert settings.symmetric_submissions is False


def test_the_symmetric_submission_path_is_open_in_development_only() -> None:
    development = GatewaySettings(credential_keys=new_key_spec())
    assert development.symmetric_submissions is True
    assert (
        GatewaySettings(
            credential_keys=new_key_spec(), accept_symmetric_submissions=False
        ).symmetric_submissions
        is False
    )


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"state_secret": "development-only-oauth-state-secret-change-me-9876543210"}, "STATE"),
        ({"jwt_secret": DEVELOPMENT_JWT_SECRET}, "PLATFORM_JWT_SECRET"),
        ({"public_base_url": "http://connect.example.com"}, "PUBLIC_BASE_URL"),
        (
            {
                "return_origins": "http://admin.example.com",
                "default_return_url": "http://admin.example.com/",
            },
            "RETURN_ORIGINS",
        ),
        ({"provider_base_url_override": "http://127.0.0.1:8199"}, "PROVIDER_BASE_URL_OVERRIDE"),
        ({"jwt_audience": None}, "PLATFORM_JWT_AUDIENCE must be set"),
        ({"jwt_secret": "j" * 31}, "PLATFORM_JWT_SECRET needs at least 32 bytes"),
        ({"submission_keys": None}, "OAUTH_GATEWAY_SUBMISSION_KEYS must be set"),
        ({"accept_symmetric_submissions": True}, "SYMMETRIC_SUBMISSIONS must be off"),
        ({"service_token_secret": DEVELOPMENT_SERVICE_TOKEN_SECRET}, "HUB_SERVICE_TOKEN_SECRET"),
        ({"service_token_secret": "j" * 48}, "must differ from PLATFORM_JWT_SECRET"),
    ],
)
def test_production_refuses_development_values(changes: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        production(**changes)


def test_the_state_secret_must_not_double_as_another_secret() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        production(jwt_secret=STRONG)


def test_a_short_state_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least"):
        production(state_secret="short")


@pytest.mark.parametrize(
    "origins",
    [
        "https://admin.example.com/",
        "https://admin.example.com/path",
        "admin.example.com",
        "HTTPS://A.B",
    ],
)
def test_return_origins_are_bare_lowercase_origins(origins: str) -> None:
    with pytest.raises(ValidationError):
        production(return_origins=origins)


def test_return_origins_read_a_json_list_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIAL_KEYS", new_key_spec())
    monkeypatch.setenv("OAUTH_GATEWAY_RETURN_ORIGINS", '["http://127.0.0.1:8100", "http://a.b"]')
    assert GatewaySettings().return_origins == ["http://127.0.0.1:8100", "http://a.b"]
    monkeypatch.setenv("OAUTH_GATEWAY_RETURN_ORIGINS", "http://127.0.0.1:8100, http://a.b")
    assert GatewaySettings().return_origins == ["http://127.0.0.1:8100", "http://a.b"]


def test_the_default_return_url_must_be_on_an_allowed_origin() -> None:
    with pytest.raises(ValidationError, match="DEFAULT_RETURN_URL"):
        production(default_return_url="https://evil.example/")


def test_the_redirect_base_defaults_to_host_and_port() -> None:
    settings = GatewaySettings(credential_keys=new_key_spec(), port=9000)
    assert settings.redirect_base == "http://127.0.0.1:9000"


def test_platform_credentials_come_from_the_catalogs_env_names() -> None:
    catalog = load_catalog()
    platform = PlatformCredentials.from_environment(
        catalog, {"SLACK_CLIENT_ID": "id", "SLACK_CLIENT_SECRET": "s", "UNRELATED": "x"}
    )
    slack = catalog.get("slack")
    assert platform.values(slack) == {"client_id": "id", "client_secret": "s"}
    assert platform.missing(slack) == []
    assert platform.missing(catalog.get("google_ads")) == [
        "GOOGLE_ADS_CLIENT_ID",
        "GOOGLE_ADS_CLIENT_SECRET",
        "GOOGLE_ADS_DEVELOPER_TOKEN",
    ]
