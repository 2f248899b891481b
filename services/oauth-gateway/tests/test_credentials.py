"""API-key connect over HTTP, for every provider connected by typed values, against the sandbox."""

from __future__ import annotations

import pytest
from hub_catalog import AuthMode, HealthCheckMode, Provider, Scope, load_catalog
from hub_contracts import ConnectionEstablishedV1, ConnectionFailedV1, connection_id
from hub_keyring import Binding
from provider_sandbox import example_value

from .conftest import Harness

CATALOG = load_catalog()
TYPED = [
    p.id
    for p in CATALOG.providers
    if p.scope == Scope.TENANT and any(mode.fields for mode in p.auth_modes)
]
PROVEN = [p for p in TYPED if CATALOG.get(p).checks.health_mode != HealthCheckMode.BEST_EFFORT]


def typed_mode(provider: Provider) -> AuthMode:
    return next(mode for mode in provider.auth_modes if mode.fields)


def good_fields(provider_id: str) -> dict[str, str]:
    return {f.name: example_value(f) for f in typed_mode(CATALOG.get(provider_id)).fields}


def rejected_fields(provider_id: str) -> dict[str, str]:
    """The sandbox refuses a value starting with ``rejected`` as the provider would."""
    fields = good_fields(provider_id)
    for field in typed_mode(CATALOG.get(provider_id)).fields:
        if field.secret:
            fields[field.name] = "rejected" + fields[field.name] + "x" * 8
    return fields


async def post(gateway: Harness, provider: str, body: object) -> object:
    return await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/{provider}/credentials",
        json=body,
        headers=gateway.headers,
    )


@pytest.mark.parametrize("provider_id", TYPED)
async def test_accepted_values_connect(provider_id: str, gateway: Harness) -> None:
    fields = good_fields(provider_id)
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/{provider_id}/credentials",
        json={"fields": fields},
        headers=gateway.headers,
    )
    assert answer.status_code == 201, answer.text
    summary = answer.json()
    assert summary["id"] == str(connection_id(gateway.org, provider_id))
    assert summary["status"] == "active"
    assert summary["credentials_present"] == sorted(fields)
    assert not any(value in answer.text for value in fields.values() if len(value) > 6)
    (event,) = gateway.events.of(ConnectionEstablishedV1)
    provider = CATALOG.get(provider_id)
    mode = typed_mode(provider)
    assert event.auth_type == mode.type.value
    for name, value in fields.items():
        stored = event.credentials.fields[name]
        binding = Binding(gateway.org, provider_id, name)
        assert gateway.ring.decrypt(stored, binding).get_secret_value() == value
    assert (event.credentials.access_token is not None) is (mode.mint is not None)
    calls = await gateway.calls(provider_id)
    if provider.checks.health_mode == HealthCheckMode.BEST_EFFORT:
        assert calls == {}
    else:
        assert sum(calls.values()) >= 1


@pytest.mark.parametrize("provider_id", PROVEN)
async def test_values_the_provider_rejects_are_422_and_nothing_is_published(
    provider_id: str, gateway: Harness
) -> None:
    fields = rejected_fields(provider_id)
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/{provider_id}/credentials",
        json={"fields": fields},
        headers=gateway.headers,
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "credentials_rejected"
    assert error["message"].startswith(f"{CATALOG.get(provider_id).name} rejected this ")
    assert not any(value in answer.text for value in fields.values())
    assert gateway.events.published == []


async def test_klaviyo_rejection_names_the_private_api_key(gateway: Harness) -> None:
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/klaviyo/credentials",
        json={"fields": rejected_fields("klaviyo")},
        headers=gateway.headers,
    )
    assert answer.json()["error"]["message"].startswith("Klaviyo rejected this private API key")


async def test_minted_providers_store_the_token_with_its_expiry(gateway: Harness) -> None:
    for provider_id in ("yotpo", "paypal"):
        answer = await gateway.browser.post(
            f"/v1/orgs/{gateway.org}/integrations/{provider_id}/credentials",
            json={"fields": good_fields(provider_id)},
            headers=gateway.headers,
        )
        assert answer.json()["token_expires_at"] is not None
        assert (await gateway.calls(provider_id)) == {"mint": 1}


async def test_the_identity_names_the_account(gateway: Harness) -> None:
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/mux/credentials",
        json={"fields": good_fields("mux")},
        headers=gateway.headers,
    )
    assert answer.json()["account_name"] == "Sandbox Mux Video account"


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        (
            {"private_api_key": "short", "public_api_key": "abcd"},
            "invalid_field",
            "fields.private_api_key",
        ),
        (
            {"private_api_key": "with space 1234", "public_api_key": "abcd"},
            "invalid_field",
            "fields.private_api_key",
        ),
        (
            {"private_api_key": "pk_1234567890\n", "public_api_key": "abcd"},
            "invalid_field",
            "fields.private_api_key",
        ),
        ({"public_api_key": "abcd"}, "missing_field", "fields.private_api_key"),
        (
            {"private_api_key": "", "public_api_key": "abcd"},
            "missing_field",
            "fields.private_api_key",
        ),
        (
            {"private_api_key": "pk_1234567890", "public_api_key": "abcd", "x": "y"},
            "unknown_field",
            "fields.x",
        ),
    ],
)
async def test_values_of_the_wrong_shape_never_reach_the_provider(
    fields: dict[str, str], code: str, field: str, gateway: Harness
) -> None:
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/klaviyo/credentials",
        json={"fields": fields},
        headers=gateway.headers,
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert "with space" not in answer.text
    assert await gateway.calls("klaviyo") == {}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"fields": {}},
        {"fields": {"api_key": 5}},
        {"fields": "x"},
        {"fields": {"api_key": "x" * 20}, "other": 1},
        [],
    ],
)
async def test_malformed_bodies_are_422_without_echoing_values(
    body: object, gateway: Harness
) -> None:
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/resend/credentials",
        json=body,
        headers=gateway.headers,
    )
    assert answer.status_code == 422
    assert "x" * 20 not in answer.text


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("unavailable", 503, "provider_unavailable"), ("rate_limited", 429, "provider_rate_limited")],
)
async def test_provider_outages_are_retryable_answers(
    fault: str, status: int, code: str, gateway: Harness
) -> None:
    await gateway.sandbox.post("/_sandbox/resend/faults", json={"mode": fault, "retry_after": 12})
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/resend/credentials",
        json={"fields": good_fields("resend")},
        headers=gateway.headers,
    )
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert "retry-after" in answer.headers
    if fault == "rate_limited":
        assert answer.headers["retry-after"] == "12"
    assert gateway.events.published == []


@pytest.mark.parametrize(
    ("provider", "status", "code"),
    [
        ("slack", 409, "wrong_auth_type"),
        ("sentry", 404, "platform_provider"),
        ("nope", 404, "unknown_provider"),
    ],
)
async def test_providers_without_typed_credentials_are_refused(
    provider: str, status: int, code: str, gateway: Harness
) -> None:
    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/{provider}/credentials",
        json={"fields": {"api_key": "abcdefghijkl"}},
        headers=gateway.headers,
    )
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


async def test_credentials_need_the_write_scope(gateway: Harness) -> None:
    from .conftest import token

    answer = await gateway.browser.post(
        f"/v1/orgs/{gateway.org}/integrations/resend/credentials",
        json={"fields": good_fields("resend")},
        headers={"Authorization": f"Bearer {token(gateway.org, 'integrations:read')}"},
    )
    assert answer.status_code == 403
    assert gateway.events.of(ConnectionFailedV1) == []
    assert gateway.events.published == []
