"""Providers by slug, auth modes by name, tenant values, and the operator's platform secrets."""

import pytest
from hub_catalog import (
    AuthType,
    Catalog,
    PlatformCredentials,
    PlatformProviderError,
    UnknownProviderError,
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
