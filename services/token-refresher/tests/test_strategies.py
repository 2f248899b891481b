"""Each refresh strategy of the catalog, against the sandbox playing the provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hub_catalog import AuthType, Catalog, RefreshStrategy, load_catalog
from hub_contracts import ConnectionUnhealthyV1, TokenRefreshedV1
from hub_keyring import Binding, KeyRing
from hub_providers import OutboundHttp, TokenSet, check
from provider_sandbox import platform_environment
from token_refresher.domain import Outcome
from token_refresher.service import Refresher

from .conftest import (
    SHOP,
    Recorder,
    calls,
    connect,
    expiring,
    oauth_mode,
    refresh_calls,
    typed_fields,
)

REFRESHING = sorted(
    p.id
    for p in load_catalog().providers
    for m in p.auth_modes
    if m.type == AuthType.OAUTH2_AUTHORIZATION_CODE
    and m.refresh in (RefreshStrategy.REFRESH_GRANT, RefreshStrategy.ROTATING_REFRESH_GRANT)
)
REMINTING = sorted(
    p.id for p in load_catalog().providers for m in p.auth_modes if m.refresh == "remint"
)


def _open(ring: KeyRing, event: TokenRefreshedV1, field: str) -> str:
    credentials = event.credentials
    sealed = getattr(credentials, field)
    assert sealed is not None
    return ring.decrypt(
        sealed, Binding(event.organization_id, event.provider, field)
    ).get_secret_value()


async def _proves(outbound: OutboundHttp, catalog: Catalog, provider_id: str, token: str) -> None:
    """The new access token works at the provider (its health or identity request)."""
    provider = catalog.get(provider_id)
    spec = provider.checks.health or provider.checks.identity
    assert spec is not None
    environment = platform_environment(catalog)
    values = {c.name: environment[c.env] for c in provider.platform_credentials}
    mode = oauth_mode(provider) if provider.has_mode(AuthType.OAUTH2_AUTHORIZATION_CODE) else None
    await check(
        outbound,
        provider,
        mode or provider.auth,
        spec,
        values | {"access_token": token, "shop": SHOP},
    )


def test_every_refreshable_provider_is_covered() -> None:
    assert {"google_ads", "google_drive", "google_calendar", "klaviyo", "wise"} <= set(REFRESHING)
    assert {"shopify", "slack"} <= set(REFRESHING)
    assert set(REMINTING) == {"yotpo", "paypal"}


@pytest.mark.parametrize("provider_id", REFRESHING)
async def test_refresh_grant_publishes_new_ciphertext_expiry_and_next_version(
    provider_id: str,
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    provider = catalog.get(provider_id)
    mode = oauth_mode(provider)
    first = await connect(outbound, catalog, sandbox, provider_id)
    event = expiring(ring, provider, mode=mode, tokens=first, version=3)

    assert await refresher.handle(event) == Outcome.REFRESHED

    [refreshed] = recorder.of(TokenRefreshedV1)
    assert refreshed.connection_id == event.connection_id
    assert refreshed.credential_version == 4
    assert refreshed.token_expires_at is not None
    assert refreshed.token_expires_at > datetime.now(UTC) + timedelta(minutes=30)
    new_access = _open(ring, refreshed, "access_token")
    assert new_access != first.access_token.get_secret_value()
    await _proves(outbound, catalog, provider_id, new_access)
    assert await refresh_calls(sandbox, provider_id) == 1
    assert recorder.of(ConnectionUnhealthyV1) == []

    assert first.refresh_token is not None
    new_refresh = _open(ring, refreshed, "refresh_token")
    if mode.refresh == RefreshStrategy.ROTATING_REFRESH_GRANT:
        # Both tokens in one event; the spent one is dead, the new one works.
        assert new_refresh != first.refresh_token.get_secret_value()
        again = expiring(
            ring,
            provider,
            mode=mode,
            organization_id=event.organization_id,
            connection_id=event.connection_id,
            version=4,
            tokens=TokenSet(
                access_token=first.access_token,
                refresh_token=first.refresh_token.__class__(new_refresh),
            ),
        )
        assert await refresher.handle(again) == Outcome.REFRESHED
        assert recorder.of(TokenRefreshedV1)[-1].credential_version == 5
    else:
        # Not rotated: the stored ciphertext travels on untouched.
        assert new_refresh == first.refresh_token.get_secret_value()
        assert refreshed.credentials.refresh_token == event.credentials.refresh_token  # type: ignore[union-attr]


@pytest.mark.parametrize("provider_id", REMINTING)
async def test_remint_mints_from_the_stored_secret_and_keeps_it(
    provider_id: str,
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    provider = catalog.get(provider_id)
    event = expiring(ring, provider, fields=typed_fields(provider))

    assert await refresher.handle(event) == Outcome.REFRESHED

    [refreshed] = recorder.of(TokenRefreshedV1)
    assert refreshed.credential_version == 2
    assert refreshed.credentials.refresh_token is None
    assert refreshed.credentials.fields == event.credentials.fields  # type: ignore[union-attr]
    assert refreshed.token_expires_at is not None
    token = _open(ring, refreshed, "access_token")
    assert token.startswith(f"sbx-{provider_id}-at-")
    assert (await calls(sandbox, provider_id)).get("mint") == 1


async def test_long_lived_token_gets_a_reminder_and_no_provider_call(
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    meta = catalog.get("meta_ads")
    event = expiring(ring, meta, with_credentials=False, expires_in_s=5 * 86400)

    assert await refresher.handle(event) == Outcome.REMINDED
    # A redelivery does not remind twice.
    assert await refresher.handle(event) == Outcome.STALE

    [reminder] = recorder.events
    assert isinstance(reminder, ConnectionUnhealthyV1)
    assert reminder.reason == "reauth_soon"
    assert reminder.token_expires_at == event.token_expires_at
    assert reminder.credential_version == event.credential_version
    assert reminder.detected_by == "token-refresher"
    assert "Reconnect Meta Ads in Settings → Integrations" in reminder.message
    assert event.token_expires_at is not None
    assert event.token_expires_at.strftime("%Y-%m-%d") in reminder.message
    assert await calls(sandbox, "meta_ads") == {}


async def test_long_lived_token_already_ended_is_reported_expired(
    refresher: Refresher, recorder: Recorder, ring: KeyRing, catalog: Catalog
) -> None:
    event = expiring(ring, catalog.get("meta_ads"), with_credentials=False, expires_in_s=-60)
    assert await refresher.handle(event) == Outcome.EXPIRED
    [report] = recorder.events
    assert isinstance(report, ConnectionUnhealthyV1)
    assert report.reason == "expired"
    assert "ended on" in report.message


@pytest.mark.parametrize("provider_id", ["resend", "stripe_connect", "tiktok_ads"])
async def test_strategy_none_does_nothing(
    provider_id: str, refresher: Refresher, recorder: Recorder, ring: KeyRing, catalog: Catalog
) -> None:
    event = expiring(ring, catalog.get(provider_id), with_credentials=False)
    assert await refresher.handle(event) == Outcome.NOT_REFRESHABLE
    assert recorder.events == []


async def test_shopify_shop_may_be_stored_as_the_full_host(
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    shopify = catalog.get("shopify")
    tokens = await connect(outbound, catalog, sandbox, "shopify")
    event = expiring(ring, shopify, tokens=tokens, metadata={"shop": f"{SHOP}.myshopify.com"})
    assert await refresher.handle(event) == Outcome.REFRESHED
    assert len(recorder.of(TokenRefreshedV1)) == 1


async def test_the_catalog_strategy_wins_over_the_events(
    refresher: Refresher,
    recorder: Recorder,
    ring: KeyRing,
    outbound: OutboundHttp,
    catalog: Catalog,
    sandbox: httpx.AsyncClient,
) -> None:
    google = catalog.get("google_ads")
    tokens = await connect(outbound, catalog, sandbox, "google_ads")
    event = expiring(ring, google, tokens=tokens).model_copy(update={"refresh_strategy": "remint"})
    assert await refresher.handle(event) == Outcome.REFRESHED
    assert await refresh_calls(sandbox, "google_ads") == 1
