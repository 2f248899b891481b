"""The REST API against the real PostgreSQL: each route's behaviour and what it writes."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from connection_store.adapters.database import Database
from connection_store.app import create_app
from connection_store.auth import READ, WRITE, issue_token
from connection_store.settings import StoreSettings
from hub_catalog import load_catalog
from hub_contracts import ConnectionCheckDueV1, EncryptedCredential, TokenExpiringV1

pytestmark = pytest.mark.integration
CATALOG = load_catalog()
CANARY = b"CANARY-ciphertext-must-never-leave-the-store-0123456789"


def sealed(plaintext: bytes | None = None) -> dict[str, Any]:
    ciphertext = plaintext or os.urandom(48)
    return EncryptedCredential(key_id="k1", nonce=os.urandom(12), ciphertext=ciphertext).model_dump(
        mode="json"
    )


async def seed(db: Database, org: uuid.UUID, provider: str, **columns: Any) -> dict[str, Any]:
    """Insert one connection row (active with an OAuth credential unless told otherwise)."""
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "organization_id": org,
        "provider": provider,
        "auth_type": "oauth2_authorization_code",
        "access_token_encrypted": sealed(),
        "refresh_token_encrypted": sealed(),
        "credential_version": 1,
        "status": "active",
        "account_name": f"{provider} account of {org}",
        "connected_at": now,
        "last_sync_at": now,
        "next_check_at": now + timedelta(hours=6),
        **columns,
    }
    names = ", ".join(row)
    values = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    async with db.worker() as connection:
        await connection.execute(
            f"INSERT INTO integration_connections ({names}) VALUES ({values})",  # noqa: S608
            *row.values(),
        )
    return row


async def stored(db: Database, org: uuid.UUID, provider: str) -> dict[str, Any]:
    async with db.worker() as connection:
        record = await connection.fetchrow(
            "SELECT * FROM integration_connections WHERE organization_id = $1 AND provider = $2",
            org,
            provider,
        )
    assert record is not None
    return dict(record)


async def outbox(db: Database, org: uuid.UUID) -> list[dict[str, Any]]:
    async with db.worker() as connection:
        records = await connection.fetch(
            "SELECT topic, message_key, payload FROM outbox WHERE organization_id = $1 ORDER BY id",
            org,
        )
    return [{**record, "payload": _decoded(record["payload"])} for record in records]


def _decoded(payload: Any) -> Any:
    """The event as an object (an older outbox stored the JSON text as a JSON string)."""
    while isinstance(payload, str):
        payload = json.loads(payload)
    return payload


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


async def test_providers_lists_the_catalog_with_credential_fields_and_settings_schema(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get("/v1/providers", headers=auth)
    assert response.status_code == 200
    providers = {p["id"]: p for p in response.json()["providers"]}
    assert list(providers) == [p.id for p in CATALOG.providers]
    meta = providers["meta_ads"]
    assert (meta["name"], meta["group"], meta["tier"], meta["category"]) == (
        "Meta Ads",
        "Advertising Platforms",
        "optional",
        "advertising",
    )
    assert meta["auth_types"] == ["oauth2_authorization_code"]
    assert meta["configured_in"] == ["admin_settings"]
    assert meta["settings_schema"]["properties"]["ad_account_id"]["pattern"] == r"^act_\d+$"
    assert meta["settings_schema"]["additionalProperties"] is False
    ga4_fields = providers["ga4"]["auth_modes"][0]["credential_fields"]
    assert ga4_fields == [
        {"name": "measurement_id", "label": "Measurement ID", "secret": False},
        {"name": "api_secret", "label": "Measurement Protocol API secret", "secret": True},
    ]
    assert (providers["shopify"]["tier"], providers["sentry"]["tier"]) == ("required", "platform")
    groups = response.json()["groups"]
    assert groups[0] == {
        "name": "Advertising Platforms",
        "description": "Track conversions and sync ad spend",
        "platform": False,
    }
    assert [g["name"] for g in groups] == [g.name for g in CATALOG.groups]


async def test_onboarding_lists_the_seed_cards_in_their_categories(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get("/v1/onboarding", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body == (await client.get("/v1/providers", headers=auth)).json()["onboarding"]
    assert body["categories"] == ["marketing", "analytics", "communication", "reviews"]
    cards = {card["provider"]: card for card in body["cards"]}
    assert list(cards) == [
        "meta_ads",
        "google_ads",
        "tiktok_ads",
        "ga4",
        "klaviyo",
        "yotpo",
        "slack",
    ]
    assert cards["ga4"] == {
        "provider": "ga4",
        "name": "Google Analytics 4",
        "category": "analytics",
        "description": "Web analytics and conversion tracking",
        "recommended": True,
        "auth_types": ["api_key"],
    }
    assert [c for c, card in cards.items() if card["recommended"]] == [
        "meta_ads",
        "google_ads",
        "ga4",
    ]


async def test_integrations_lists_every_tenant_provider_grouped_with_its_status(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    await seed(db, org, "meta_ads", account_name="Acme Ads")
    await seed(
        db,
        org,
        "google_ads",
        status="expired",
        last_error="Google Ads access was revoked.",
        last_error_code="revoked",
    )
    await seed(
        db,
        org,
        "slack",
        status="expired",
        attempt_state="connecting",
        attempt_at=datetime.now(UTC),
    )
    await seed(
        db,
        org,
        "tiktok_ads",
        status="pending",
        credential_version=0,
        access_token_encrypted=None,
        refresh_token_encrypted=None,
        attempt_state="failed",
        attempt_reason="access_denied",
        attempt_message="You declined access on TikTok.",
    )
    response = await client.get(f"/v1/orgs/{org}/integrations", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["organization_id"] == str(org)
    groups = body["groups"]
    expected: dict[str, list[str]] = {}
    for provider in CATALOG.tenant_providers():
        expected.setdefault(provider.group, []).append(provider.id)
    assert {name: [i["id"] for i in items] for name, items in groups.items()} == expected
    assert list(groups)[:2] == ["Advertising Platforms", "Analytics"]  # the seed's order
    assert body["group_descriptions"]["Reviews"] == "Product reviews and UGC"
    assert "platform-level" not in groups
    items = {i["id"]: i for group in groups.values() for i in group}
    assert items["meta_ads"] | {"last_sync_at": None} == items["meta_ads"] | {
        "status": "active",
        "connected": True,
        "account_name": "Acme Ads",
        "next_step": None,
        "last_sync_at": None,
        "tier": "optional",
    }
    assert items["google_ads"]["status"] == "expired"
    assert items["google_ads"]["next_step"] == "Reconnect Google Ads in Settings → Integrations."
    assert items["google_ads"]["last_error"] == "Google Ads access was revoked."
    # A reconnect in progress keeps the status it would fix, the attempt beside it (issue 13).
    assert items["slack"]["status"] == "expired"
    assert items["slack"]["attempt"]["state"] == "connecting"
    assert items["tiktok_ads"]["status"] == "not_connected"
    assert items["tiktok_ads"]["attempt"]["message"] == "You declined access on TikTok."
    assert items["tiktok_ads"]["next_step"] == (
        "Connect TikTok Ads again in Settings → Integrations."
    )
    assert items["shopify"] | {"status": "not_connected", "connected": False} == items["shopify"]
    assert items["shopify"]["tier"] == "required"


async def test_detail_names_the_credential_fields_held_but_never_their_values(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    expires = datetime(2027, 3, 1, tzinfo=UTC)
    row = await seed(
        db,
        org,
        "klaviyo",
        auth_type="api_key",
        access_token_encrypted=None,
        refresh_token_encrypted=None,
        credential_fields_encrypted={"private_key": sealed(), "public_key": sealed()},
        token_expires_at=expires,
        scopes=["lists:read"],
        account_id="K123",
        settings={"list_ids": ["AbC123"]},
        metadata={"company": "Acme"},
    )
    response = await client.get(f"/v1/orgs/{org}/integrations/klaviyo", headers=auth)
    assert response.status_code == 200
    detail = response.json()
    assert detail["credentials_present"] == ["private_key", "public_key"]
    assert detail["connection_id"] == str(row["id"])
    assert (detail["scopes"], detail["account_id"], detail["credential_version"]) == (
        ["lists:read"],
        "K123",
        1,
    )
    assert datetime.fromisoformat(detail["token_expires_at"]) == expires
    assert detail["settings"] == {"list_ids": ["AbC123"]}
    assert detail["flags"] == {"integrations.klaviyo": False}
    assert "ciphertext" not in response.text
    assert "nonce" not in response.text


async def test_detail_of_a_never_connected_provider_says_not_connected(
    client: httpx.AsyncClient, auth: dict[str, str], org: uuid.UUID
) -> None:
    response = await client.get(f"/v1/orgs/{org}/integrations/meta-ads", headers=auth)
    assert response.status_code == 200
    detail = response.json()
    assert (detail["id"], detail["status"], detail["connection_id"]) == (
        "meta_ads",
        "not_connected",
        None,
    )
    assert detail["credentials_present"] == []


async def test_settings_of_a_never_connected_provider_are_stored_on_a_pending_row(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    response = await client.patch(
        f"/v1/orgs/{org}/integrations/meta_ads/settings",
        headers=auth,
        json={"ad_account_id": "act_123", "pixel_id": "456"},
    )
    assert response.status_code == 200
    assert response.json()["settings"] == {
        "ad_account_id": "act_123",
        "pixel_id": "456",
        "capi_enabled": False,
    }
    row = await stored(db, org, "meta_ads")
    assert (row["status"], row["settings"]["ad_account_id"]) == ("pending", "act_123")
    listing = (await client.get(f"/v1/orgs/{org}/integrations", headers=auth)).json()
    meta = next(i for i in listing["groups"]["Advertising Platforms"] if i["id"] == "meta_ads")
    assert meta["status"] == "not_connected"


async def test_settings_patch_merges_and_null_removes_a_setting(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    await seed(db, org, "meta_ads", settings={"ad_account_id": "act_1", "pixel_id": "9"})
    response = await client.patch(
        f"/v1/orgs/{org}/integrations/meta_ads/settings",
        headers=auth,
        json={"pixel_id": None, "capi_enabled": True},
    )
    assert response.status_code == 200
    row = await stored(db, org, "meta_ads")
    assert row["settings"] == {"ad_account_id": "act_1", "capi_enabled": True}
    assert row["status"] == "active"


@pytest.mark.parametrize(
    ("provider", "patch", "field", "fragment"),
    [
        ("meta_ads", {"ad_account_id": "123"}, "ad_account_id", r"matching ^act_\d+$"),
        ("meta_ads", {"pixel_id": "px-1"}, "pixel_id", r"matching ^\d+$"),
        ("meta_ads", {"capi_enabled": "yes"}, "capi_enabled", "true or false"),
        ("meta_ads", {"ad_acount_id": "act_1"}, "ad_acount_id", "has no setting"),
        ("google_ads", {"customer_id": "123-456-7890"}, "customer_id", r"^\d{10}$"),
        ("slack", {"channel_routing": {"weekly": "#ops"}}, "channel_routing", "mapping"),
        ("slack", {"default_channel": "ops room"}, "default_channel", "matching"),
        ("ga4", {"measurement_id": 42}, "measurement_id", "a string"),
    ],
)
async def test_invalid_settings_are_refused_naming_the_setting(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    db: Database,
    org: uuid.UUID,
    provider: str,
    patch: dict[str, Any],
    field: str,
    fragment: str,
) -> None:
    response = await client.patch(
        f"/v1/orgs/{org}/integrations/{provider}/settings", headers=auth, json=patch
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_setting", field)
    assert repr(field) in error["message"]
    assert fragment in error["message"]
    async with db.worker() as connection:
        count = await connection.fetchval(
            "SELECT count(*) FROM integration_connections WHERE organization_id = $1", org
        )
    assert count == 0


async def test_sync_now_queues_a_health_check_with_the_stored_ciphertext(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    far = datetime.now(UTC) + timedelta(days=30)
    row = await seed(
        db,
        org,
        "google_ads",
        status="error",
        last_error_code="provider_unavailable",
        token_expires_at=far,
        next_refresh_at=far - timedelta(minutes=10),
        metadata={"customers": ["1234567890"]},
    )
    response = await client.post(f"/v1/orgs/{org}/integrations/google_ads/sync", headers=auth)
    assert response.status_code == 202
    body = response.json()
    assert body == {
        "provider": "google_ads",
        "check_id": body["check_id"],
        "queued": ["connection.check_due"],
    }
    [written] = await outbox(db, org)
    assert (written["topic"], written["message_key"]) == (
        "connection.check_due",
        f"{org}:google_ads",
    )
    event = ConnectionCheckDueV1.model_validate(written["payload"])
    assert str(event.event_id) == body["check_id"]  # what connection.checked will name
    assert (event.trigger, event.status, event.last_error_code) == (
        "sync_now",
        "error",
        "provider_unavailable",
    )
    assert (event.connection_id, event.credential_version) == (row["id"], 1)
    assert event.credentials.access_token is not None
    assert event.credentials.access_token.model_dump(mode="json") == row["access_token_encrypted"]
    assert event.metadata == {"customers": ["1234567890"]}
    after = await stored(db, org, "google_ads")
    assert after["next_check_at"] > datetime.now(UTC) + timedelta(hours=1)
    assert after["next_refresh_at"] == row["next_refresh_at"]


async def test_sync_now_also_asks_for_a_refresh_when_one_is_due(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=8)
    await seed(
        db,
        org,
        "google_ads",
        token_expires_at=soon,
        next_refresh_at=soon - timedelta(minutes=10),
    )
    response = await client.post(f"/v1/orgs/{org}/integrations/google_ads/sync", headers=auth)
    assert response.json()["queued"] == ["connection.check_due", "token.expiring"]
    check, expiring = await outbox(db, org)
    assert check["topic"] == "connection.check_due"
    event = TokenExpiringV1.model_validate(expiring["payload"])
    assert (event.refresh_strategy, event.token_expires_at) == ("refresh_grant", soon)
    assert event.credentials is not None
    assert event.credentials.refresh_token is not None
    after = await stored(db, org, "google_ads")
    assert after["next_refresh_at"] > datetime.now(UTC) + timedelta(seconds=60)


async def test_sync_now_reminds_once_for_a_token_that_cannot_be_refreshed(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    expires = datetime.now(UTC) + timedelta(days=3)
    await seed(
        db, org, "meta_ads", token_expires_at=expires, next_refresh_at=expires - timedelta(days=7)
    )
    response = await client.post(f"/v1/orgs/{org}/integrations/meta_ads/sync", headers=auth)
    assert response.json()["queued"] == ["connection.check_due", "token.expiring"]
    event = TokenExpiringV1.model_validate((await outbox(db, org))[1]["payload"])
    assert (event.refresh_strategy, event.credentials) == ("long_lived_reminder", None)
    assert (await stored(db, org, "meta_ads"))["next_refresh_at"] is None


@pytest.mark.parametrize("status", ["pending", "disconnected", None])
async def test_sync_now_of_an_unconnected_integration_is_a_conflict(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    db: Database,
    org: uuid.UUID,
    status: str | None,
) -> None:
    if status is not None:
        await seed(
            db,
            org,
            "slack",
            status=status,
            access_token_encrypted=None,
            refresh_token_encrypted=None,
        )
    response = await client.post(f"/v1/orgs/{org}/integrations/slack/sync", headers=auth)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "not_connected"
    assert "connect it in Settings → Integrations" in error["message"]
    assert await outbox(db, org) == []


async def test_disconnect_wipes_every_ciphertext_and_emits_connection_disconnected(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    now = datetime.now(UTC)
    row = await seed(
        db,
        org,
        "yotpo",
        auth_type="token_exchange",
        credential_fields_encrypted={"store_id": sealed(), "secret": sealed()},
        token_expires_at=now + timedelta(days=10),
        next_refresh_at=now + timedelta(days=9),
        settings={"reviews_widget_enabled": False},
    )
    response = await client.delete(f"/v1/orgs/{org}/integrations/yotpo", headers=auth)
    assert (response.status_code, response.content) == (204, b"")
    after = await stored(db, org, "yotpo")
    assert after["access_token_encrypted"] is None
    assert after["refresh_token_encrypted"] is None
    assert after["credential_fields_encrypted"] == {}
    assert (after["status"], after["next_refresh_at"], after["next_check_at"]) == (
        "disconnected",
        None,
        None,
    )
    assert after["disconnected_at"] >= now
    assert after["settings"] == {"reviews_widget_enabled": False}
    [written] = await outbox(db, org)
    assert written["topic"] == "connection.disconnected"
    assert written["payload"]["connection_id"] == str(row["id"])
    assert written["payload"]["disconnected_by"] == "ada"
    carried = written["payload"]["credentials"]["fields"]
    assert carried == row["credential_fields_encrypted"], "ciphertext travels for revocation"
    again = await client.delete(f"/v1/orgs/{org}/integrations/yotpo", headers=auth)
    assert (again.status_code, again.json()["error"]["code"]) == (404, "not_connected")
    detail = (await client.get(f"/v1/orgs/{org}/integrations/yotpo", headers=auth)).json()
    assert (detail["status"], detail["credentials_present"]) == ("disconnected", [])


async def test_disconnecting_what_was_never_connected_is_not_found(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    response = await client.delete(f"/v1/orgs/{org}/integrations/wise", headers=auth)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_connected")
    assert await outbox(db, org) == []


async def test_flags_are_the_catalog_defaults_until_changed(
    client: httpx.AsyncClient, auth: dict[str, str], org: uuid.UUID
) -> None:
    response = await client.get(f"/v1/orgs/{org}/flags", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["flags"] == {name: f.default for name, f in CATALOG.feature_flags.items()}
    assert body["details"]["integrations.meta_ads"] == {
        "enabled": False,
        "effective": False,
        "reason": None,
        "default": False,
        "overridden": False,
        "requires_connection": True,
        "provider": "meta_ads",
        "connection_active": False,
    }


async def test_enabling_a_flag_that_needs_a_connection_without_one_is_a_conflict(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    response = await client.put(
        f"/v1/orgs/{org}/flags",
        headers=auth,
        json={"flags": {"integrations.reviews_email": False, "integrations.meta_ads": True}},
    )
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "connection_required",
        "message": "Connect Meta Ads in Settings → Integrations before enabling "
        "integrations.meta_ads.",
        "field": "integrations.meta_ads",
    }
    flags = (await client.get(f"/v1/orgs/{org}/flags", headers=auth)).json()["flags"]
    assert flags["integrations.reviews_email"] is True  # all or nothing


async def test_enabling_a_flag_of_an_expired_connection_asks_to_reconnect(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    await seed(db, org, "slack", status="expired")
    response = await client.put(
        f"/v1/orgs/{org}/flags", headers=auth, json={"flags": {"integrations.slack": True}}
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith("Reconnect Slack in Settings")


async def test_flags_change_and_persist_when_the_connection_is_active(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    await seed(db, org, "meta_ads")
    response = await client.put(
        f"/v1/orgs/{org}/flags",
        headers=auth,
        json={"flags": {"integrations.meta_ads": True, "integrations.ga4": False}},
    )
    assert response.status_code == 200
    again = (await client.get(f"/v1/orgs/{org}/flags", headers=auth)).json()
    assert again == response.json()
    assert (again["flags"]["integrations.meta_ads"], again["flags"]["integrations.ga4"]) == (
        True,
        False,
    )
    assert again["details"]["integrations.meta_ads"]["overridden"] is True
    async with db.worker() as connection:
        by = await connection.fetchval(
            "SELECT updated_by FROM organization_flags WHERE organization_id = $1 AND flag = $2",
            org,
            "integrations.meta_ads",
        )
    assert by == "ada"
    detail = (await client.get(f"/v1/orgs/{org}/integrations/meta_ads", headers=auth)).json()
    assert detail["flags"] == {"integrations.meta_ads": True}


async def test_unknown_flag_is_refused(
    client: httpx.AsyncClient, auth: dict[str, str], org: uuid.UUID
) -> None:
    response = await client.put(
        f"/v1/orgs/{org}/flags", headers=auth, json={"flags": {"integrations.myspace": True}}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("unknown_flag", "integrations.myspace")
    assert "integrations.meta_ads" in error["message"]


async def test_health_and_readiness_need_no_token(
    client: httpx.AsyncClient, store_settings: StoreSettings
) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_readiness_fails_when_postgresql_is_unreachable(
    store_settings: StoreSettings,
) -> None:
    app = create_app(store_settings, run_consumers=False, run_background=False, start_broker=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as http,
    ):
        await app.state.db.pool.close()
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "not_ready"
        assert (await http.get("/healthz")).status_code == 200


async def test_no_response_ever_carries_a_stored_ciphertext_or_the_bearer_token(
    client: httpx.AsyncClient, auth: dict[str, str], db: Database, org: uuid.UUID
) -> None:
    canaries = {"access_token_encrypted": sealed(CANARY), "refresh_token_encrypted": sealed(CANARY)}
    await seed(db, org, "google_ads", **canaries, next_refresh_at=datetime.now(UTC))
    await seed(
        db,
        org,
        "klaviyo",
        auth_type="api_key",
        credential_fields_encrypted={"private_key": sealed(CANARY)},
    )
    forbidden = {
        base64.b64encode(CANARY).decode(),
        base64.urlsafe_b64encode(CANARY).decode(),
        CANARY.decode(),
        canaries["access_token_encrypted"]["nonce"],
        auth["Authorization"].removeprefix("Bearer "),
    }
    base = f"/v1/orgs/{org}"
    calls = [
        ("GET", "/v1/providers", None),
        ("GET", f"{base}/integrations", None),
        ("GET", f"{base}/integrations/google_ads", None),
        ("GET", f"{base}/integrations/klaviyo", None),
        ("PATCH", f"{base}/integrations/google_ads/settings", {"login_customer_id": "1234567890"}),
        ("PATCH", f"{base}/integrations/google_ads/settings", {"login_customer_id": "bad"}),
        ("POST", f"{base}/integrations/google_ads/sync", None),
        ("POST", f"{base}/integrations/klaviyo/sync", None),
        ("GET", f"{base}/flags", None),
        ("PUT", f"{base}/flags", {"flags": {"integrations.google_ads": True}}),
        ("DELETE", f"{base}/integrations/klaviyo", None),
        ("GET", f"{base}/integrations/klaviyo", None),
        ("GET", "/openapi.json", None),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, headers=auth, json=body)
        assert response.status_code < 500, (method, path)
        for canary in forbidden:
            assert canary not in response.text, (method, path)
    assert len(await outbox(db, org)) == 4  # the canary did go where it belongs: the outbox
