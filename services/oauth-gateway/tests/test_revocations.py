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


async def _revoked(harness: Harness, established: ConnectionEstablishedV1) -> bool:
    """Whether the sandbox holds the connection's access token revoked."""
    sealed = established.credentials.access_token
    assert sealed is not None
    binding = Binding(harness.org, established.provider, "access_token")
    value = harness.ring.decrypt(sealed, binding).get_secret_value()
    listed = (await harness.sandbox.get(f"/_sandbox/{established.provider}/tokens")).json()
    (token,) = [token for token in listed if token["token"] == value]
    return bool(token["revoked"])


@pytest.mark.parametrize("provider", ["slack", "meta_ads", "stripe_connect", "shopify"])
async def test_disconnect_sends_the_providers_own_revocation(
    gateway: Harness, provider: str
) -> None:
    established = await _connected(gateway, provider)
    assert not await _revoked(gateway, established)
    event = _disconnected(gateway, established).model_copy(
        update={"metadata": established.metadata}
    )
    assert await gateway.revocations().on_disconnected(event)
    calls = await gateway.calls(provider)
    assert calls.get("revocation") == 1
    assert "revoke" not in calls
    assert await _revoked(gateway, established)


async def test_a_grant_already_gone_counts_as_revoked(gateway: Harness) -> None:
    established = await _connected(gateway, "slack")
    event = _disconnected(gateway, established)
    assert await gateway.revocations().on_disconnected(event)
    assert await gateway.revocations().on_disconnected(event)  # the recorded refusal: gone
    assert (await gateway.calls("slack")).get("revocation") == 2


async def test_providers_without_revocation_make_no_call(gateway: Harness) -> None:
    established = await _connected(gateway, "tiktok_ads")
    revocations = gateway.revocations()
    assert not await revocations.on_disconnected(_disconnected(gateway, established))
    calls = await gateway.calls("tiktok_ads")
    assert "revoke" not in calls
    assert "revocation" not in calls


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
