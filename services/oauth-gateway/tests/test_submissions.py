"""Onboarding's encrypted API-key submissions on connection.requested: validated like the HTTP
path, answered with connection.established or connection.failed (ids derived, so redeliveries
are idempotent downstream)."""

from __future__ import annotations

import uuid

import pytest
from hub_contracts import ConnectionEstablishedV1, ConnectionFailedV1, ConnectionRequestedV1
from hub_keyring import Binding

from .conftest import Harness
from .test_credentials import good_fields, rejected_fields


def submission(
    gateway: Harness,
    provider: str,
    fields: dict[str, str],
    *,
    auth_type: str = "api_key",
    org: uuid.UUID | None = None,
) -> ConnectionRequestedV1:
    bound_to = org or gateway.org
    return ConnectionRequestedV1(
        organization_id=gateway.org,
        provider=provider,
        flow_id=uuid.uuid4(),
        auth_type=auth_type,
        requested_by="onboarding",
        submission={
            name: gateway.ring.encrypt(value, Binding(bound_to, provider, name))
            for name, value in fields.items()
        },
    )


async def test_an_accepted_submission_is_established_under_a_derived_id(gateway: Harness) -> None:
    request = submission(gateway, "klaviyo", good_fields("klaviyo"))
    await gateway.app.state.api.keys.on_requested(request)
    (event,) = gateway.events.published
    assert isinstance(event, ConnectionEstablishedV1)
    assert event.event_id == uuid.uuid5(request.event_id, "connection.established")
    assert event.flow_id == request.flow_id
    assert event.account.name == "Sandbox Klaviyo account"
    stored = event.credentials.fields["private_api_key"]
    plain = gateway.ring.decrypt(stored, Binding(gateway.org, "klaviyo", "private_api_key"))
    assert plain.get_secret_value() == good_fields("klaviyo")["private_api_key"]
    assert stored.ciphertext != request.submission["private_api_key"].ciphertext


async def test_a_rejected_submission_fails_with_the_providers_answer(gateway: Harness) -> None:
    request = submission(gateway, "klaviyo", rejected_fields("klaviyo"))
    await gateway.app.state.api.keys.on_requested(request)
    (event,) = gateway.events.published
    assert isinstance(event, ConnectionFailedV1)
    assert event.event_id == uuid.uuid5(request.event_id, "connection.failed")
    assert event.reason == "credentials_rejected"
    assert event.message.startswith("Klaviyo rejected this private API key")
    assert event.provider_status == 401
    assert "rejected" + good_fields("klaviyo")["private_api_key"] not in event.model_dump_json()


async def test_a_token_exchange_submission_mints(gateway: Harness) -> None:
    request = submission(gateway, "yotpo", good_fields("yotpo"), auth_type="token_exchange")
    await gateway.app.state.api.keys.on_requested(request)
    (event,) = gateway.events.published
    assert isinstance(event, ConnectionEstablishedV1)
    assert event.credentials.access_token is not None


async def test_a_submission_bound_to_another_organization_does_not_decrypt(
    gateway: Harness,
) -> None:
    request = submission(gateway, "resend", good_fields("resend"), org=uuid.uuid4())
    await gateway.app.state.api.keys.on_requested(request)
    (event,) = gateway.events.published
    assert isinstance(event, ConnectionFailedV1)
    assert event.reason == "undecryptable_submission"
    assert await gateway.calls("resend") == {}


@pytest.mark.parametrize(
    ("provider", "auth_type", "reason"),
    [
        ("slack", "oauth2_authorization_code", "wrong_auth_type"),
        ("resend", "token_exchange", "wrong_auth_type"),
        ("sentry", "api_key", "platform_provider"),
        ("no_such_provider", "api_key", "unknown_provider"),
    ],
)
async def test_submissions_that_cannot_be_connected_fail_with_a_reason(
    provider: str, auth_type: str, reason: str, gateway: Harness
) -> None:
    request = submission(gateway, provider, {"api_key": "a" * 20}, auth_type=auth_type)
    await gateway.app.state.api.keys.on_requested(request)
    (event,) = gateway.events.published
    assert isinstance(event, ConnectionFailedV1)
    assert event.reason == reason


async def test_oauth_starts_carry_no_submission_and_are_ignored(gateway: Harness) -> None:
    await gateway.start("slack")
    (started,) = gateway.events.of(ConnectionRequestedV1)
    await gateway.app.state.api.keys.on_requested(started)
    assert gateway.events.published == [started]


async def test_an_outage_is_retried_then_reported(gateway: Harness) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    keys = gateway.app.state.api.keys
    keys.sleep = sleep
    await gateway.sandbox.post("/_sandbox/resend/faults", json={"mode": "unavailable"})
    await keys.on_requested(submission(gateway, "resend", good_fields("resend")))
    assert (await gateway.calls("resend"))["health"] == keys.retry_attempts
    assert slept == [1.0, 2.0]
    (event,) = gateway.events.published
    assert isinstance(event, ConnectionFailedV1)
    assert event.reason == "provider_unavailable"


async def test_a_rate_limit_waits_as_the_provider_asks_up_to_the_cap(gateway: Harness) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await gateway.sandbox.post("/_sandbox/resend/faults", json={"mode": "ok"})

    keys = gateway.app.state.api.keys
    keys.sleep = sleep
    await gateway.sandbox.post(
        "/_sandbox/resend/faults", json={"mode": "rate_limited", "retry_after": 60}
    )
    await keys.on_requested(submission(gateway, "resend", good_fields("resend")))
    assert slept == [keys.retry_max_delay_s]
    (event,) = gateway.events.published
    assert isinstance(event, ConnectionEstablishedV1)
