"""Event → row: each consumer path, redeliveries and stale versions change nothing."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from connection_store import handlers
from connection_store.adapters.database import Database
from connection_store.adapters.store import PostgresStore
from connection_store.service.connections import ConnectionEvents, UnknownEventProviderError
from connection_store.settings import StoreSettings
from hub_catalog import load_catalog
from hub_contracts import (
    Account,
    ConnectionEstablishedV1,
    ConnectionFailedV1,
    ConnectionRecoveredV1,
    ConnectionRequested,
    ConnectionRequestedV1,
    ConnectionRequestedV2,
    ConnectionUnhealthyV1,
    Credentials,
    EncryptedCredential,
    TokenRefreshedV1,
    connection_id,
)

pytestmark = pytest.mark.integration
CATALOG = load_catalog()
EXPIRES = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


def _sealed() -> EncryptedCredential:
    return EncryptedCredential(key_id="k1", nonce=os.urandom(12), ciphertext=os.urandom(48))


def _established(
    org: uuid.UUID, provider: str = "google_ads", **changes: Any
) -> ConnectionEstablishedV1:
    fields: dict[str, Any] = {
        "organization_id": org,
        "provider": provider,
        "connection_id": connection_id(org, provider),
        "auth_type": "oauth2_authorization_code",
        "credentials": Credentials(access_token=_sealed(), refresh_token=_sealed()),
        "token_expires_at": EXPIRES,
        "scopes": ["https://www.googleapis.com/auth/adwords"],
        "account": Account(id="123", name="Acme Ads"),
        "metadata": {"customers": ["1234567890"]},
    }
    return ConnectionEstablishedV1(**{**fields, **changes})


def _refreshed(org: uuid.UUID, version: int, provider: str = "google_ads") -> TokenRefreshedV1:
    return TokenRefreshedV1(
        organization_id=org,
        provider=provider,
        connection_id=connection_id(org, provider),
        credential_version=version,
        credentials=Credentials(access_token=_sealed()),
        token_expires_at=EXPIRES + timedelta(hours=version),
    )


async def _row(db: Database, org: uuid.UUID, provider: str = "google_ads") -> dict[str, Any]:
    async with db.tenant(org) as connection:
        row = await connection.fetchrow(
            "SELECT * FROM integration_connections WHERE organization_id = $1 AND provider = $2",
            org,
            provider,
        )
    assert row is not None
    return dict(row)


class Consumers:
    """The service's use cases under the handlers' consumer names."""

    def __init__(self, events: ConnectionEvents) -> None:
        self.events = events

    async def on_requested(self, event: ConnectionRequested) -> None:
        await self.events.requested(handlers.REQUESTED, event)

    async def on_failed(self, event: ConnectionFailedV1) -> None:
        await self.events.failed(handlers.FAILED, event)

    async def on_established(self, event: ConnectionEstablishedV1) -> None:
        await self.events.established(handlers.ESTABLISHED, event)

    async def on_refreshed(self, event: TokenRefreshedV1) -> None:
        await self.events.refreshed(handlers.REFRESHED, event)

    async def on_unhealthy(self, event: ConnectionUnhealthyV1) -> None:
        await self.events.unhealthy(handlers.UNHEALTHY, event)

    async def on_recovered(self, event: ConnectionRecoveredV1) -> None:
        await self.events.recovered(handlers.RECOVERED, event)


@pytest.fixture
def events(db: Database, store_settings: StoreSettings) -> Consumers:
    return Consumers(
        ConnectionEvents(
            PostgresStore(db),
            CATALOG,
            check_interval_s=store_settings.check_interval_s,
            check_jitter=store_settings.check_jitter,
        )
    )


async def test_requested_records_a_connecting_attempt(events: Consumers, db: Database) -> None:
    org, flow = uuid.uuid4(), uuid.uuid4()
    await events.on_requested(
        ConnectionRequestedV1(
            organization_id=org,
            provider="meta_ads",
            flow_id=flow,
            auth_type="oauth2_authorization_code",
        )
    )
    row = await _row(db, org, "meta_ads")
    assert (row["status"], row["attempt_state"], row["attempt_flow_id"]) == (
        "pending",
        "connecting",
        flow,
    )
    assert row["id"] == connection_id(org, "meta_ads")


async def test_a_sealed_onboarding_submission_v2_records_an_attempt_too(
    events: Consumers, db: Database
) -> None:
    from hub_contracts.examples import sealed

    org, flow = uuid.uuid4(), uuid.uuid4()
    await events.on_requested(
        ConnectionRequestedV2(
            organization_id=org,
            provider="klaviyo",
            flow_id=flow,
            auth_type="api_key",
            submission={"private_api_key": sealed()},
        )
    )
    row = await _row(db, org, "klaviyo")
    assert (row["attempt_state"], row["attempt_flow_id"], row["auth_type"]) == (
        "connecting",
        flow,
        "api_key",
    )


async def test_failed_marks_the_attempt_failed_with_its_reason(
    events: Consumers, db: Database
) -> None:
    org, flow = uuid.uuid4(), uuid.uuid4()
    await events.on_requested(
        ConnectionRequestedV1(
            organization_id=org,
            provider="meta_ads",
            flow_id=flow,
            auth_type="oauth2_authorization_code",
        )
    )
    await events.on_failed(
        ConnectionFailedV1(
            organization_id=org,
            provider="meta_ads",
            flow_id=flow,
            reason="access_denied",
            message="You declined access on Facebook.",
        )
    )
    row = await _row(db, org, "meta_ads")
    assert (row["attempt_state"], row["attempt_reason"]) == ("failed", "access_denied")
    assert row["status"] == "pending"


async def test_established_stores_ciphertext_as_received_and_schedules_work(
    events: Consumers, db: Database
) -> None:
    org = uuid.uuid4()
    event = _established(org)
    await events.on_established(event)
    row = await _row(db, org)
    assert row["status"] == "active"
    assert row["credential_version"] == 1
    assert row["access_token_encrypted"] == event.credentials.access_token.model_dump(mode="json")  # type: ignore[union-attr]
    assert row["account_name"] == "Acme Ads"
    assert row["scopes"] == ["https://www.googleapis.com/auth/adwords"]
    lead = CATALOG.get("google_ads").auth.refresh_lead_s
    assert lead is not None
    assert row["next_refresh_at"] == EXPIRES - timedelta(seconds=lead)
    assert row["next_check_at"] > datetime.now(UTC)


async def test_redelivered_event_changes_nothing(events: Consumers, db: Database) -> None:
    org = uuid.uuid4()
    event = _established(org)
    await events.on_established(event)
    await events.on_established(event)
    assert (await _row(db, org))["credential_version"] == 1


async def test_reconnecting_an_expired_connection_makes_it_active_again(
    events: Consumers, db: Database
) -> None:
    org = uuid.uuid4()
    await events.on_established(_established(org))
    await events.on_unhealthy(_unhealthy(org, version=1, reason="revoked"))
    assert (await _row(db, org))["status"] == "expired"
    await events.on_established(_established(org))
    row = await _row(db, org)
    assert (row["status"], row["last_error"], row["credential_version"]) == ("active", None, 2)


async def test_refresh_replaces_the_credential_and_bumps_the_version(
    events: Consumers, db: Database
) -> None:
    org = uuid.uuid4()
    await events.on_established(_established(org))
    before = await _row(db, org)
    refreshed = _refreshed(org, version=2)
    await events.on_refreshed(refreshed)
    row = await _row(db, org)
    assert row["credential_version"] == 2
    assert row["token_expires_at"] == refreshed.token_expires_at
    assert row["access_token_encrypted"] != before["access_token_encrypted"]
    assert row["refresh_token_encrypted"] == before["refresh_token_encrypted"]
    assert row["last_sync_at"] == refreshed.occurred_at


async def test_older_refresh_after_a_newer_one_changes_nothing(
    events: Consumers, db: Database
) -> None:
    org = uuid.uuid4()
    await events.on_established(_established(org))
    await events.on_refreshed(_refreshed(org, version=3))
    newest = await _row(db, org)
    await events.on_refreshed(_refreshed(org, version=2))
    assert await _row(db, org) == newest


def _unhealthy(org: uuid.UUID, *, version: int, reason: str) -> ConnectionUnhealthyV1:
    return ConnectionUnhealthyV1(
        organization_id=org,
        provider="google_ads",
        connection_id=connection_id(org, "google_ads"),
        credential_version=version,
        reason=reason,  # type: ignore[arg-type]
        message="Google Ads access was revoked. Reconnect Google Ads in Settings → Integrations.",
        detected_by="token-refresher",
    )


@pytest.mark.parametrize(
    ("reason", "status"),
    [("revoked", "expired"), ("provider_unavailable", "error"), ("reauth_soon", "active")],
)
async def test_unhealthy_sets_status_and_actionable_error(
    events: Consumers, db: Database, reason: str, status: str
) -> None:
    org = uuid.uuid4()
    await events.on_established(_established(org))
    await events.on_unhealthy(_unhealthy(org, version=1, reason=reason))
    row = await _row(db, org)
    assert (row["status"], row["last_error_code"]) == (status, reason)
    assert "Reconnect Google Ads" in row["last_error"]


async def test_unhealthy_about_an_older_credential_is_ignored(
    events: Consumers, db: Database
) -> None:
    org = uuid.uuid4()
    await events.on_established(_established(org))
    await events.on_refreshed(_refreshed(org, version=2))
    await events.on_unhealthy(_unhealthy(org, version=1, reason="revoked"))
    assert (await _row(db, org))["status"] == "active"


async def test_recovered_clears_the_error(events: Consumers, db: Database) -> None:
    org = uuid.uuid4()
    await events.on_established(_established(org))
    await events.on_unhealthy(_unhealthy(org, version=1, reason="provider_unavailable"))
    await events.on_recovered(
        ConnectionRecoveredV1(
            organization_id=org,
            provider="google_ads",
            connection_id=connection_id(org, "google_ads"),
            credential_version=1,
            detected_by="health-monitor",
        )
    )
    row = await _row(db, org)
    assert (row["status"], row["last_error"], row["last_error_code"]) == ("active", None, None)


async def test_unknown_provider_is_refused(events: Consumers) -> None:
    event = _established(uuid.uuid4()).model_copy(update={"provider": "myspace"})
    with pytest.raises(UnknownEventProviderError, match="unknown provider"):
        await events.on_established(event)


async def test_tenant_transaction_sees_only_its_own_rows(events: Consumers, db: Database) -> None:
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    await events.on_established(_established(org_a))
    async with db.tenant(org_b) as connection:
        count = await connection.fetchval("SELECT count(*) FROM integration_connections")
    assert count == 0


async def test_failure_arriving_before_its_request_still_shows_failed(
    events: Consumers, db: Database
) -> None:
    org, flow = uuid.uuid4(), uuid.uuid4()
    requested = ConnectionRequestedV1(
        organization_id=org, provider="klaviyo", flow_id=flow, auth_type="api_key"
    )
    failed = ConnectionFailedV1(
        organization_id=org,
        provider="klaviyo",
        flow_id=flow,
        reason="rejected",
        message="Klaviyo rejected this private API key.",
    )
    await events.on_failed(failed)
    await events.on_requested(requested)
    row = await _row(db, org, "klaviyo")
    assert (row["attempt_state"], row["attempt_reason"]) == ("failed", "rejected")
    assert row["status"] == "pending"


async def test_a_reconnects_failure_overtaking_its_request_ends_the_attempt(
    events: Consumers, db: Database
) -> None:
    """The row still names the attempt that connected it when the reconnect's failure arrives
    first: the failure's flow began later, so it applies, and its request cannot undo it."""
    org, flow = uuid.uuid4(), uuid.uuid4()
    await events.on_established(_established(org, flow_id=uuid.uuid4()))
    requested = ConnectionRequestedV1(
        organization_id=org,
        provider="google_ads",
        flow_id=flow,
        auth_type="oauth2_authorization_code",
    )
    await events.on_failed(
        ConnectionFailedV1(
            organization_id=org,
            provider="google_ads",
            flow_id=flow,
            requested_at=requested.occurred_at,
            reason="flow_expired",
            message="The Google Ads sign-in took too long.",
        )
    )
    await events.on_requested(requested)
    row = await _row(db, org)
    assert (row["attempt_state"], row["attempt_reason"]) == ("failed", "flow_expired")
    assert row["status"] == "active"


async def test_an_older_flows_failure_leaves_a_newer_attempt_connecting(
    events: Consumers, db: Database
) -> None:
    org, old, new = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    began = datetime.now(UTC) - timedelta(minutes=5)
    await events.on_requested(
        ConnectionRequestedV1(
            organization_id=org,
            provider="meta_ads",
            flow_id=new,
            auth_type="oauth2_authorization_code",
        )
    )
    await events.on_failed(
        ConnectionFailedV1(
            organization_id=org,
            provider="meta_ads",
            flow_id=old,
            requested_at=began,
            reason="flow_expired",
            message="The Meta Ads sign-in took too long.",
        )
    )
    row = await _row(db, org, "meta_ads")
    assert (row["attempt_state"], row["attempt_flow_id"]) == ("connecting", new)
