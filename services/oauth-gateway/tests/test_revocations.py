"""SECURITY.md 16: a disconnect revokes the grant at the provider where it can."""

from __future__ import annotations

import uuid

import pytest
from hub_contracts import ConnectionDisconnectedV1, ConnectionEstablishedV1, connection_id
from hub_keyring import Binding

from .conftest import Harness


def _disconnected(
    harness: Harness, established: ConnectionEstablishedV1
) -> ConnectionDisconnectedV1:
    return ConnectionDisconnectedV1(
        organization_id=harness.org,
        provider=established.provider,
        connection_id=connection_id(harness.org, established.provider),
        credentials=established.credentials,
    )


async def _connected(harness: Harness, provider: str) -> ConnectionEstablishedV1:
    answer = await harness.connect(provider)
    assert answer.status_code == 303, answer.text
    [established] = harness.events.of(ConnectionEstablishedV1)
    return established


async def test_disconnect_revokes_the_refresh_token_at_the_provider(gateway: Harness) -> None:
    established = await _connected(gateway, "google_ads")
    revocations = gateway.revocations()
    assert await revocations.on_disconnected(_disconnected(gateway, established))
    assert (await gateway.calls("google_ads")).get("revoke") == 1
    sealed = established.credentials.access_token
    assert sealed is not None
    access = gateway.ring.decrypt(sealed, Binding(gateway.org, "google_ads", "access_token"))
    health = await gateway.sandbox.get(
        "/p/google_ads/googleads.googleapis.com/v26/customers:listAccessibleCustomers",
        headers={
            "Authorization": f"Bearer {access.get_secret_value()}",
            "developer-token": "sandbox-google_ads-developer_token",
        },
    )
    assert health.status_code == 401, "revoking the grant also ends its access token"


async def test_providers_without_revocation_make_no_call(gateway: Harness) -> None:
    established = await _connected(gateway, "meta_ads")
    revocations = gateway.revocations()
    assert not await revocations.on_disconnected(_disconnected(gateway, established))
    assert "revoke" not in await gateway.calls("meta_ads")


async def test_nothing_to_revoke_without_credentials(gateway: Harness) -> None:
    event = ConnectionDisconnectedV1(
        organization_id=uuid.uuid4(), provider="google_ads", connection_id=uuid.uuid4()
    )
    assert not await gateway.revocations().on_disconnected(event)


async def test_an_outage_is_raised_so_the_consumer_retries(gateway: Harness) -> None:
    established = await _connected(gateway, "google_ads")
    await gateway.sandbox.post("/_sandbox/google_ads/faults", json={"mode": "unavailable"})
    with pytest.raises(Exception, match="unavailable"):
        await gateway.revocations().on_disconnected(_disconnected(gateway, established))
