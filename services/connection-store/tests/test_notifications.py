"""Notification settings (tenant API) and the notifier's internal context endpoint."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from connection_store.adapters.database import Database
from connection_store.app import create_app
from connection_store.auth import READ, WRITE, issue_service_token, issue_token
from connection_store.settings import StoreSettings
from hub_contracts import EncryptedCredential
from pydantic import SecretStr

pytestmark = pytest.mark.integration


def sealed() -> dict[str, Any]:
    return EncryptedCredential(
        key_id="k1", nonce=os.urandom(12), ciphertext=os.urandom(40)
    ).model_dump(mode="json")


async def seed(db: Database, org: uuid.UUID, provider: str, **columns: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "organization_id": org,
        "provider": provider,
        "auth_type": "oauth2_authorization_code",
        "access_token_encrypted": sealed(),
        "credential_version": 2,
        "status": "active",
        "account_name": f"{provider} of {org}",
        **columns,
    }
    names, values = ", ".join(row), ", ".join(f"${i}" for i in range(1, len(row) + 1))
    async with db.worker() as connection:
        await connection.execute(
            f"INSERT INTO integration_connections ({names}) VALUES ({values})",  # noqa: S608
            *row.values(),
        )
    return row


@pytest.fixture
async def client(store_settings: StoreSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store_settings, run_consumers=False, run_background=False, start_broker=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://store") as http,
    ):
        yield http


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def auth(store_settings: StoreSettings, org: uuid.UUID) -> dict[str, str]:
    token = issue_token(store_settings.jwt_secret, org, scopes=[READ, WRITE], subject="ada")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def service(store_settings: StoreSettings) -> dict[str, str]:
    token = issue_service_token(store_settings.service_token_secret, "notifier")
    return {"Authorization": f"Bearer {token}"}


async def test_notification_settings_default_to_slack_and_email_without_recipients(
    client: httpx.AsyncClient, auth: dict[str, str], org: uuid.UUID
) -> None:
    answer = await client.get(f"/v1/orgs/{org}/notifications", headers=auth)
    assert answer.status_code == 200
    assert answer.json() == {
        "email_recipients": [],
        "email_enabled": True,
        "slack_enabled": True,
        "email_from": None,
        "updated_at": None,
    }


async def test_patch_merges_dedupes_and_null_restores_a_default(
    client: httpx.AsyncClient, auth: dict[str, str], org: uuid.UUID
) -> None:
    path = f"/v1/orgs/{org}/notifications"
    first = await client.patch(
        path,
        headers=auth,
        json={"email_recipients": ["ops@brand.test", "OPS@brand.test", "cto@brand.test"]},
    )
    assert first.status_code == 200, first.text
    assert first.json()["email_recipients"] == ["ops@brand.test", "cto@brand.test"]
    second = await client.patch(
        path, headers=auth, json={"slack_enabled": False, "email_from": "Brand <hub@brand.test>"}
    )
    body = second.json()
    assert body["email_recipients"] == ["ops@brand.test", "cto@brand.test"]
    assert (body["slack_enabled"], body["email_from"]) == (False, "Brand <hub@brand.test>")
    third = await client.patch(path, headers=auth, json={"slack_enabled": None, "email_from": None})
    assert (third.json()["slack_enabled"], third.json()["email_from"]) == (True, None)
    assert (await client.get(path, headers=auth)).json()["updated_at"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email_recipients": ["not-an-address"]}, "email_recipients.0"),
        ({"email_recipients": "ops@brand.test"}, "email_recipients"),
        ({"email_from": "Evil <a@b.test>\r\nBcc: x@y.test"}, "email_from"),
        ({"email_enabled": "yes"}, "email_enabled"),
        ({"email_recipients": [f"u{i}@brand.test" for i in range(21)]}, "email_recipients"),
        ({"organization_id": str(uuid.uuid4())}, "organization_id"),
    ],
)
async def test_bad_notification_settings_are_refused_naming_the_field(
    client: httpx.AsyncClient, auth: dict[str, str], org: uuid.UUID, body: Any, field: str
) -> None:
    answer = await client.patch(f"/v1/orgs/{org}/notifications", headers=auth, json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == field
    assert "Bcc" not in answer.text


async def test_context_carries_slack_ciphertext_and_routing_and_the_connection_facts(
    client: httpx.AsyncClient,
    db: Database,
    auth: dict[str, str],
    service: dict[str, str],
    org: uuid.UUID,
) -> None:
    routing = {"channel_routing": {"connection_needs_attention": "#ops"}, "default_channel": "#all"}
    slack = await seed(db, org, "slack", settings=routing, account_name="Brand HQ")
    await seed(db, org, "meta_ads", status="expired", last_error_code="revoked")
    resend = await seed(
        db,
        org,
        "resend",
        auth_type="api_key",
        access_token_encrypted=None,
        credential_fields_encrypted={"api_key": sealed()},
    )
    await client.patch(
        f"/v1/orgs/{org}/notifications", headers=auth, json={"email_recipients": ["a@b.test"]}
    )
    answer = await client.get(
        f"/internal/v1/orgs/{org}/notification-context",
        params={"provider": "meta-ads"},
        headers=service,
    )
    assert answer.status_code == 200, answer.text
    context = answer.json()
    assert context["settings"]["email_recipients"] == ["a@b.test"]
    assert context["connection"]["name"] == "Meta Ads"
    assert (context["connection"]["status"], context["connection"]["last_error_code"]) == (
        "expired",
        "revoked",
    )
    assert context["slack"] == {
        "credential_version": 2,
        "access_token": slack["access_token_encrypted"],
        "team": "Brand HQ",
        "channel_routing": {"connection_needs_attention": "#ops"},
        "default_channel": "#all",
    }
    assert context["resend"]["api_key"] == resend["credential_fields_encrypted"]["api_key"]


async def test_context_leaves_out_a_slack_connection_that_is_not_active(
    client: httpx.AsyncClient, db: Database, service: dict[str, str], org: uuid.UUID
) -> None:
    await seed(db, org, "slack", status="expired")
    answer = await client.get(
        f"/internal/v1/orgs/{org}/notification-context",
        params={"provider": "slack"},
        headers=service,
    )
    assert answer.json()["slack"] is None
    assert answer.json()["connection"]["status"] == "expired"
    assert answer.json()["resend"] is None


async def test_context_of_one_organization_never_shows_anothers(
    client: httpx.AsyncClient, db: Database, service: dict[str, str], org: uuid.UUID
) -> None:
    await seed(db, org, "slack")
    other = uuid.uuid4()
    answer = await client.get(
        f"/internal/v1/orgs/{other}/notification-context",
        params={"provider": "meta_ads"},
        headers=service,
    )
    assert answer.status_code == 200
    assert (answer.json()["slack"], answer.json()["connection"]) == (None, None)


async def test_context_needs_a_service_token_with_its_scope(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    store_settings: StoreSettings,
    org: uuid.UUID,
) -> None:
    path = f"/internal/v1/orgs/{org}/notification-context?provider=meta_ads"
    secret = store_settings.service_token_secret
    other_scope = issue_service_token(secret, "gateway", ("something:else",))
    long_lived = issue_service_token(secret, "notifier", lifetime=timedelta(days=1))
    forged = issue_service_token(SecretStr("another-secret-0123456789abcdef0123"), "notifier")
    cases = [
        ({}, 401, "missing_token"),
        (auth, 401, "invalid_token"),  # a platform user token is signed with another secret
        ({"Authorization": f"Bearer {forged}"}, 401, "invalid_token"),
        ({"Authorization": f"Bearer {long_lived}"}, 401, "invalid_token"),
        ({"Authorization": f"Bearer {other_scope}"}, 403, "insufficient_scope"),
    ]
    for headers, status, code in cases:
        answer = await client.get(path, headers=headers)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), headers


@pytest.mark.parametrize(
    ("org_id", "provider", "code"),
    [
        ("not-a-uuid", "meta_ads", "not_found"),
        (str(uuid.uuid4()), "pinterest", "unknown_provider"),
        (str(uuid.uuid4()), "sentry", "platform_provider"),
    ],
)
async def test_context_of_an_unknown_organization_or_provider_is_a_404(
    client: httpx.AsyncClient, service: dict[str, str], org_id: str, provider: str, code: str
) -> None:
    answer = await client.get(
        f"/internal/v1/orgs/{org_id}/notification-context",
        params={"provider": provider},
        headers=service,
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, code)


async def test_the_internal_route_is_not_in_the_public_openapi_document(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/v1/orgs/{org_id}/notifications" in paths
    assert not [path for path in paths if path.startswith("/internal")]
