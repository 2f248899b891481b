"""The model's own rules: what a provider entry must say to load."""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hub_catalog import (
    AuthMode,
    Catalog,
    CredentialField,
    FeatureFlag,
    Provider,
    SettingField,
    load_catalog,
)
from pydantic import ValidationError

MINIMAL: dict[str, Any] = {
    "id": "acme",
    "name": "Acme",
    "group": "Communication",
    "category": "communication",
    "purpose": "Testing",
    "tier": "optional",
    "scope": "tenant",
    "configured_in": ["admin_settings"],
    "allowed_hosts": ["api.acme.test"],
    "auth_modes": [
        {
            "type": "api_key",
            "fields": [{"name": "api_key", "label": "API key"}],
            "transport": [{"kind": "header", "name": "Authorization", "value": "Bearer {api_key}"}],
            "refresh": "none",
        }
    ],
    "checks": {"health_mode": "request", "health": {"url": "https://api.acme.test/me"}},
    "errors": {"revoked": [{"status": [401]}]},
}

OAUTH_MODE: dict[str, Any] = {
    "type": "oauth2_authorization_code",
    "oauth": {
        "authorize_url": "https://api.acme.test/authorize",
        "token_url": "https://api.acme.test/token",
        "revoke_url": "https://api.acme.test/revoke",
    },
    "transport": [{"kind": "header", "name": "Authorization", "value": "Bearer {access_token}"}],
    "refresh": "refresh_grant",
    "access_token_lifetime_s": 3600,
    "refresh_lead_s": 600,
}


def provider(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data.update(copy.deepcopy(changes))
    return data


def test_minimal_api_key_provider_loads() -> None:
    loaded = Provider.model_validate(provider())
    assert loaded.errors.rate_limited[0].status == [429]


def test_first_revoked_entry_must_name_a_status() -> None:
    errors = {"revoked": [{"path": "error", "values": ["invalid_grant"]}, {"status": [401]}]}
    with pytest.raises(ValidationError, match="need a status"):
        Provider.model_validate(provider(errors=errors))


def test_provider_must_say_how_it_signals_revocation() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        Provider.model_validate(provider(errors={"revoked": []}))


def test_oauth_mode_needs_the_platform_client_credentials() -> None:
    with pytest.raises(ValidationError, match="OAuth needs platform credentials"):
        Provider.model_validate(provider(auth_modes=[OAUTH_MODE]))
    client = [
        {"name": "client_id", "env": "ACME_CLIENT_ID", "secret": False},
        {"name": "client_secret", "env": "ACME_CLIENT_SECRET"},
    ]
    Provider.model_validate(provider(auth_modes=[OAUTH_MODE], platform_credentials=client))


def test_two_modes_of_one_type_are_refused() -> None:
    modes = MINIMAL["auth_modes"] * 2
    with pytest.raises(ValidationError, match="one auth mode per type"):
        Provider.model_validate(provider(auth_modes=modes))


def test_mint_request_goes_only_with_minting_modes() -> None:
    modes = copy.deepcopy(MINIMAL["auth_modes"])
    modes[0]["mint"] = {"method": "POST", "url": "https://api.acme.test/token"}
    with pytest.raises(ValidationError, match="a mint request goes with"):
        Provider.model_validate(provider(auth_modes=modes))
    modes[0]["type"] = "token_exchange"
    del modes[0]["mint"]
    with pytest.raises(ValidationError, match="a mint request goes with"):
        Provider.model_validate(provider(auth_modes=modes))


def test_token_mint_health_needs_a_default_mode_that_mints() -> None:
    with pytest.raises(ValidationError, match="token_mint needs"):
        Provider.model_validate(provider(checks={"health_mode": "token_mint"}))


def test_platform_provider_takes_every_field_from_a_platform_credential() -> None:
    platform = {"scope": "platform", "tier": "platform", "configured_in": ["platform"]}
    with pytest.raises(ValidationError, match="comes from a platform credential"):
        Provider.model_validate(provider(**platform))
    credential = [{"name": "api_key", "env": "ACME_API_KEY"}]
    Provider.model_validate(provider(**platform, platform_credentials=credential))


def test_basic_placement_needs_username_and_password() -> None:
    modes = copy.deepcopy(MINIMAL["auth_modes"])
    modes[0]["transport"] = [{"kind": "basic", "username": "{api_key}"}]
    with pytest.raises(ValidationError, match="basic placement needs"):
        Provider.model_validate(provider(auth_modes=modes))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"type": "boolean", "default": "yes"}, "does not accept"),
        ({"type": "string", "pattern": "^a+$", "default": "b"}, "does not accept"),
        ({"type": "boolean", "pattern": "^x$"}, "takes no pattern"),
        ({"type": "channel_map"}, "options go with channel_map"),
        ({"type": "string", "options": ["a"]}, "options go with channel_map"),
        ({"type": "string", "pattern": "("}, "does not compile"),
    ],
)
def test_ill_formed_setting_is_refused(setting: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SettingField.model_validate({"name": "x", "label": "X", **setting})


def test_flag_that_requires_a_connection_names_its_provider() -> None:
    with pytest.raises(ValidationError, match="names its provider"):
        FeatureFlag(default=False, requires_connection=True)


def test_check_settings_fills_defaults_and_keeps_given_values(catalog: Catalog) -> None:
    meta = catalog.get("meta_ads")
    assert meta.check_settings({"ad_account_id": "act_123"}) == {
        "ad_account_id": "act_123",
        "capi_enabled": False,
    }


def test_check_settings_defaults_are_copies(catalog: Catalog) -> None:
    klaviyo = catalog.get("klaviyo")
    klaviyo.check_settings({})["list_ids"].append("XYZ")
    assert klaviyo.check_settings({})["list_ids"] == []


@pytest.mark.parametrize(
    ("provider_id", "values", "message"),
    [
        ("meta_ads", {"ad_account_id": "123"}, "'ad_account_id' does not accept"),
        ("meta_ads", {"ad_account_id": "act_123\n"}, "'ad_account_id' does not accept"),
        ("meta_ads", {"capi_enabled": "true"}, "'capi_enabled' does not accept"),
        ("meta_ads", {"pixel": "1"}, "no setting 'pixel'"),
        ("google_ads", {"customer_id": "123-456-7890"}, "'customer_id' does not accept"),
        ("ga4", {"measurement_id": "UA-1234"}, "'measurement_id' does not accept"),
        ("klaviyo", {"list_ids": "AbC123"}, "'list_ids' does not accept"),
        ("slack", {"channel_routing": {"new_order": "#ops"}}, "'channel_routing' does not accept"),
        (
            "slack",
            {"channel_routing": {"daily_digest": "ops"}},
            "'channel_routing' does not accept",
        ),
    ],
)
def test_check_settings_refuses_what_the_schema_does_not_allow(
    catalog: Catalog, provider_id: str, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        catalog.get(provider_id).check_settings(values)


def test_slack_routes_each_notification_type_to_a_channel(catalog: Catalog) -> None:
    routing = {"connection_needs_attention": "#integrations", "daily_digest": "C0123ABCDE"}
    settings = catalog.get("slack").check_settings({"channel_routing": routing})
    assert settings["channel_routing"] == routing


def test_credential_field_pattern_must_compile() -> None:
    with pytest.raises(ValidationError, match="does not compile"):
        CredentialField(name="api_key", label="API key", pattern="[")


def test_an_action_is_a_request_whose_body_is_the_callers(catalog: Catalog) -> None:
    post = catalog.get("slack").actions["post_message"]
    assert (post.method, post.result_id_path, post.echo) == ("POST", "ts", ["channel"])
    assert (post.json_body, post.idempotency_header) == (None, None)
    assert catalog.get("resend").actions["send_email"].idempotency_header == "Idempotency-Key"


def test_an_action_param_must_be_a_placeholder_of_its_url() -> None:
    action = {"method": "POST", "url": "https://api.acme.test/hooks/{key}", "params": ["other"]}
    with pytest.raises(ValidationError, match="not placeholders of its URL"):
        Provider.model_validate(provider(actions={"hook": action}))


def test_an_action_with_a_body_template_is_refused(tmp_path: Path) -> None:
    action = {"method": "POST", "url": "https://api.acme.test/send", "json_body": {"a": "b"}}
    data = {"version": 1, "providers": [provider(actions={"send": action})]}
    path = tmp_path / "providers.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationError, match="body is the caller's"):
        load_catalog(path)


def test_action_params_are_names_of_that_providers_templates(catalog: Catalog) -> None:
    slack = catalog.get("slack")
    assert {"webhook_team", "webhook_bot", "webhook_key"} <= slack.template_names()
    url = catalog.url(
        slack,
        slack.actions["post_webhook"].url,
        {"webhook_team": "T0", "webhook_bot": "B0", "webhook_key": "x/y"},
    )
    assert url == "https://hooks.slack.com/services/T0/B0/x%2Fy"


def _oauth(**changes: Any) -> dict[str, Any]:
    oauth = {k: v for k, v in OAUTH_MODE["oauth"].items() if k != "revoke_url"}
    return {**OAUTH_MODE, "oauth": {**oauth, **changes}}


REVOCATION = {"method": "DELETE", "url": "https://api.acme.test/me/permissions"}


@pytest.mark.parametrize(
    ("oauth", "complaint"),
    [
        ({}, "either revokes"),
        (
            {"revoke_url": "https://api.acme.test/revoke", "revocation": REVOCATION},
            "pick one",
        ),
        (
            {"revocation": REVOCATION, "manual_removal": "Remove the app in Acme's settings."},
            "not both",
        ),
        (
            {"revocation": {**REVOCATION, "form_body": {"account": "{account_id}"}}},
            "account_from_identity",
        ),
    ],
)
def test_every_oauth_mode_says_how_its_grant_ends(oauth: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        AuthMode.model_validate(_oauth(**oauth))


def test_a_revocation_or_a_manual_removal_is_enough() -> None:
    assert AuthMode.model_validate(_oauth(revocation=REVOCATION)).oauth is not None
    removal = "Remove the platform's app in Acme's settings."
    mode = AuthMode.model_validate(_oauth(manual_removal=removal))
    assert mode.oauth is not None
    assert not mode.oauth.revocable
