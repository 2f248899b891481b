"""Platform credential values, the API-key rule and example values."""

from __future__ import annotations

import pytest
from hub_catalog import Catalog, CredentialField
from provider_sandbox import accepts, example_value, platform_environment


def test_every_platform_credential_gets_its_sandbox_value(catalog: Catalog) -> None:
    environment = platform_environment(catalog)
    assert environment["GOOGLE_ADS_DEVELOPER_TOKEN"] == "sandbox-google_ads-developer_token"
    expected = {c.env for p in catalog.providers for c in p.platform_credentials}
    assert environment.keys() == expected


@pytest.mark.parametrize(
    "pattern",
    [r"^\S{8,512}$", r"^[A-Za-z0-9_-]{8,128}$", r"^(#[a-z0-9._-]{1,80}|[CG][A-Z0-9]{8,20})$"],
)
def test_example_values_have_the_fields_shape(pattern: str) -> None:
    field = CredentialField(name="key", label="Key", pattern=pattern)
    assert accepts(field, example_value(field))


def test_the_api_key_rule_refuses_rejected_values_and_wrong_shapes() -> None:
    field = CredentialField(name="key", label="Key", pattern=r"^\S{8,512}$")
    assert accepts(field, "re_0123456789")
    assert not accepts(field, "rejected-re_0123456789")
    assert not accepts(field, "short")
    assert not accepts(field, "has a space")
