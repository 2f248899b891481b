"""Providers by slug, auth modes by name, tenant values, and the operator's platform secrets."""

import pytest
from hub_catalog import (
    AuthType,
    Catalog,
    CatalogError,
    PlatformCredentials,
    PlatformProviderError,
    Provider,
    UnknownProviderError,
    load_catalog,
    tenant_host,
    tenant_label,
    tenant_values,
)


def test_tenant_provider_takes_underscores_or_dashes(catalog: Catalog) -> None:
    assert catalog.tenant_provider("meta_ads").id == "meta_ads"
    assert catalog.tenant_provider("meta-ads").id == "meta_ads"


def test_tenant_provider_refuses_an_unknown_slug_without_quoting_it_whole(catalog: Catalog) -> None:
    with pytest.raises(UnknownProviderError) as caught:
        catalog.tenant_provider("nope" * 40)
    assert caught.value.code == "unknown_provider"
    assert "GET /v1/providers" in str(caught.value)
    assert "nope" * 17 not in str(caught.value)


def test_tenant_provider_refuses_a_platform_provider(catalog: Catalog) -> None:
    platform = next(p for p in catalog.providers if p.scope.value == "platform")
    with pytest.raises(PlatformProviderError) as caught:
        catalog.tenant_provider(platform.id)
    assert caught.value.code == "platform_provider"
    assert platform.name in str(caught.value)


def test_auth_mode_by_name_default_and_unknown(catalog: Catalog) -> None:
    shopify = catalog.get("shopify")
    assert shopify.auth_mode(None) is shopify.auth
    assert shopify.auth_mode(AuthType.OAUTH2_AUTHORIZATION_CODE.value) is shopify.mode(
        AuthType.OAUTH2_AUTHORIZATION_CODE
    )
    assert shopify.auth_mode("carrier_pigeon") is None


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("acme", "acme"),
        ("Acme.myshopify.com.", "acme"),
        (" acme-2.myshopify.com ", "acme-2"),
        ("evil.com", None),
        ("acme.myshopify.com.evil.com", None),
        ("a/b", None),
    ],
)
def test_tenant_label_is_one_dns_label_of_the_allowed_domain(
    catalog: Catalog, raw: str, label: str | None
) -> None:
    assert tenant_label(catalog.get("shopify"), "shop", raw) == label


def test_tenant_values_read_labels_and_pass_other_text_on(catalog: Catalog) -> None:
    shopify = catalog.get("shopify")
    assert tenant_values(shopify, {"shop": "acme.myshopify.com", "other": "x"}) == {"shop": "acme"}
    assert tenant_values(shopify, {"shop": "evil.com"}) == {"shop": "evil.com"}
    assert tenant_values(shopify, {"shop": ""}) == {}
    assert tenant_host(shopify, "shop", "acme") == "acme.myshopify.com"
    assert tenant_host(catalog.get("slack"), "shop", "acme") is None


def test_platform_credentials_read_only_catalog_names_and_say_what_is_missing(
    catalog: Catalog,
) -> None:
    slack = catalog.get("slack")
    first, *rest = slack.platform_credentials
    environ = {first.env: "value-1", "UNRELATED": "x", **{c.env: "" for c in rest}}
    credentials = PlatformCredentials.from_environment(catalog, environ)
    assert credentials.values(slack) == {first.name: "value-1"}
    assert credentials.missing(slack) == [c.env for c in rest]
    assert "value-1" not in repr(vars(credentials))


def test_plaid_env_and_paypal_mode_pick_the_hosts() -> None:
    default = load_catalog(environ={})
    chosen = load_catalog(environ={"PLAID_ENV": "sandbox", "PAYPAL_MODE": "sandbox"})
    assert default.get("plaid").allowed_hosts == ["production.plaid.com"]
    plaid = chosen.get("plaid")
    assert plaid.allowed_hosts == ["sandbox.plaid.com"]
    assert plaid.checks.health is not None
    assert plaid.checks.health.url == "https://sandbox.plaid.com/institutions/get"
    paypal = chosen.get("paypal").auth.mint
    assert paypal is not None
    assert paypal.url == "https://api-m.sandbox.paypal.com/v1/oauth2/token"
    assert chosen.url(chosen.get("paypal"), paypal.url, {}).startswith("https://api-m.sandbox.")
    development = load_catalog(environ={"PLAID_ENV": "development"}).get("plaid")
    assert development.allowed_hosts == ["development.plaid.com"]


def test_an_unknown_host_choice_fails_loading_naming_the_variable() -> None:
    with pytest.raises(CatalogError, match="PAYPAL_MODE='production' is not one of: live, sandbox"):
        load_catalog(environ={"PAYPAL_MODE": "production"})


def test_the_seeds_platform_accounts_are_shared_accounts(catalog: Catalog) -> None:
    shared = {p.id: p.shared_account for p in catalog.providers if p.shared_account is not None}
    assert sorted(shared) == sorted(
        ["resend", "retell", "elevenlabs", "lob", "mux", "assemblyai", "fairing", "plaid", "paypal"]
    )
    assert shared["retell"] is not None
    assert shared["retell"].fields == {"api_key": "RETELL_API_KEY"}
    assert set(shared["retell"].extra.values()) == {
        "RETELL_VOICE_AGENT_ID",
        "RETELL_CHAT_AGENT_ID",
        "RETELL_PHONE_NUMBER_ID",
    }
    assert catalog.get("slack").shared_account_note is not None


def test_a_shared_account_is_configured_only_when_all_its_variables_are(catalog: Catalog) -> None:
    mux = catalog.get("mux")
    half = PlatformCredentials.from_environment(catalog, {"MUX_TOKEN_ID": "id"})
    assert half.shared(mux) is None
    both = {"MUX_TOKEN_ID": "id", "MUX_TOKEN_SECRET": "secret", "RETELL_API_KEY": "key"}
    full = PlatformCredentials.from_environment(catalog, both)
    assert full.shared(mux) == {"token_id": "id", "token_secret": "secret"}
    assert full.shared_providers(catalog) == {"mux", "retell"}
    assert full.shared(catalog.get("slack")) is None


def test_a_shared_account_must_supply_the_default_modes_fields(catalog: Catalog) -> None:
    raw = catalog.get("mux").model_dump(mode="json", exclude_none=True)
    raw["shared_account"] = {"fields": {"token_id": "MUX_TOKEN_ID"}}
    with pytest.raises(ValueError, match="exactly the default mode's fields"):
        Provider.model_validate(raw)
