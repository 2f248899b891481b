"""Loading the catalog and answering host, URL and template questions."""

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hub_catalog import (
    Catalog,
    CatalogError,
    HostNotAllowedError,
    host_pattern,
    load_catalog,
    render,
)
from pydantic import ValidationError

SANDBOX = "http://127.0.0.1:8199"


def raw_catalog() -> dict[str, Any]:
    """The packaged catalog's data, to break on purpose."""
    text = resources.files("hub_catalog").joinpath("providers.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def provider_data(data: dict[str, Any], provider_id: str) -> dict[str, Any]:
    return next(p for p in data["providers"] if p["id"] == provider_id)


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "providers.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def test_every_provider_loads() -> None:
    assert len(load_catalog().providers) == 24


@pytest.mark.parametrize("host", ["acme.myshopify.com", "my-shop-2.myshopify.com"])
def test_tenant_host_pattern_accepts_a_shop_domain(host: str) -> None:
    assert host_pattern("{shop}.myshopify.com").match(host)


@pytest.mark.parametrize(
    "host",
    [
        "acme.myshopify.com.evil.com",
        "evil.com",
        "a.b.myshopify.com",
        "myshopify.com",
        ".myshopify.com",
        "-acme.myshopify.com",
        "acmexmyshopify.com",
        "acme.myshopify.com\n",
    ],
)
def test_tenant_host_pattern_refuses_other_hosts(host: str) -> None:
    assert not host_pattern("{shop}.myshopify.com").match(host)


def test_check_host_ignores_case_and_a_trailing_dot(catalog: Catalog) -> None:
    catalog.check_host(catalog.get("shopify"), "ACME.MyShopify.com.")


def test_unknown_template_placeholder_fails_loading(tmp_path: Path) -> None:
    data = raw_catalog()
    provider_data(data, "retell")["checks"]["health"]["headers"] = {"X-Agent": "{agent_id}"}
    with pytest.raises(ValidationError, match=r"unknown \['agent_id'\]"):
        load_catalog(write(tmp_path, data))


def test_placeholder_of_another_provider_fails_loading(tmp_path: Path) -> None:
    data = raw_catalog()
    provider_data(data, "meta_ads")["checks"]["health"]["url"] = "https://graph.facebook.com/{shop}"
    with pytest.raises(ValidationError, match=r"unknown \['shop'\]"):
        load_catalog(write(tmp_path, data))


def test_url_outside_the_allow_list_fails_loading(tmp_path: Path) -> None:
    data = raw_catalog()
    provider_data(data, "lob")["checks"]["health"]["url"] = "https://api.lob.com.evil.com/v1"
    with pytest.raises(ValidationError, match="not in the allow-list"):
        load_catalog(write(tmp_path, data))


def test_duplicate_provider_id_fails_loading(tmp_path: Path) -> None:
    data = raw_catalog()
    data["providers"].append(provider_data(data, "lob"))
    with pytest.raises(ValidationError, match="duplicate provider ids"):
        load_catalog(write(tmp_path, data))


def test_flag_naming_an_unknown_provider_fails_loading(tmp_path: Path) -> None:
    data = raw_catalog()
    data["feature_flags"]["integrations.pinterest"] = {
        "default": False,
        "requires_connection": True,
        "provider": "pinterest",
    }
    with pytest.raises(ValidationError, match="unknown provider pinterest"):
        load_catalog(write(tmp_path, data))


def test_base_url_override_rewrites_every_url_to_the_sandbox_form() -> None:
    catalog = load_catalog(base_url_override=SANDBOX + "/")
    for provider in catalog.providers:
        values = dict.fromkeys(provider.template_names(), "acme")
        for template in provider.url_templates():
            direct = load_catalog().url(provider, template, values)
            host, _, path = direct.removeprefix("https://").partition("/")
            assert (
                catalog.url(provider, template, values)
                == f"{SANDBOX}/p/{provider.id}/{host}/{path}"
            )


def test_base_url_override_keeps_the_query() -> None:
    catalog = load_catalog(base_url_override=SANDBOX)
    shopify = catalog.get("shopify")
    url = catalog.url(shopify, "https://{shop}.myshopify.com/admin/x?a=1", {"shop": "acme"})
    assert url == f"{SANDBOX}/p/shopify/acme.myshopify.com/admin/x?a=1"


@pytest.mark.parametrize("override", [None, SANDBOX])
def test_url_refuses_a_host_outside_the_allow_list(override: str | None) -> None:
    catalog = load_catalog(base_url_override=override)
    with pytest.raises(HostNotAllowedError) as refused:
        catalog.url(catalog.get("slack"), "https://evil.com/api/auth.test", {})
    assert (refused.value.provider, refused.value.host) == ("slack", "evil.com")


@pytest.mark.parametrize(
    "shop", ["acme.myshopify.com.evil.com", "evil.com/x", "evil.com#", "a.b", "acme:443@evil.com"]
)
def test_url_keeps_a_tenant_value_inside_one_host_label(catalog: Catalog, shop: str) -> None:
    shopify = catalog.get("shopify")
    with pytest.raises(HostNotAllowedError):
        catalog.url(shopify, "https://{shop}.myshopify.com/admin/oauth/authorize", {"shop": shop})


def test_url_percent_encodes_values_in_the_path(catalog: Catalog) -> None:
    yotpo = catalog.get("yotpo")
    url = catalog.url(
        yotpo, "https://api.yotpo.com/core/v3/stores/{store_id}/x", {"store_id": "../a?b"}
    )
    assert url == "https://api.yotpo.com/core/v3/stores/..%2Fa%3Fb/x"


def test_url_refuses_plain_http(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match="must be https"):
        catalog.url(catalog.get("lob"), "http://api.lob.com/v1/addresses", {})


def test_render_refuses_a_missing_value_and_leaves_json_braces_alone() -> None:
    with pytest.raises(CatalogError, match=r"needs \['shop'\]"):
        render("https://{shop}.myshopify.com", {})
    assert render('{ shop { name } } {"a": "{x}"}', {"x": "1"}) == '{ shop { name } } {"a": "1"}'


def test_oauth_and_api_key_providers_include_second_modes(catalog: Catalog) -> None:
    oauth = {p.id for p in catalog.oauth_providers()}
    api_key = {p.id for p in catalog.api_key_providers()}
    assert {"shopify", "klaviyo", "wise", "slack"} <= oauth
    assert {"klaviyo", "wise", "lob", "better_stack"} <= api_key
    assert "paypal" not in oauth | api_key
    assert "yotpo" not in oauth | api_key
