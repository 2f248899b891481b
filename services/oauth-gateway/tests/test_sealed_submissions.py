"""Onboarding submissions sealed to the gateway's public key (connection.requested v2): the
gateway serves the key, opens what was sealed for this organization, provider and field,
re-encrypts it under CREDENTIAL_KEYS, and refuses (for the DLQ) what it cannot open."""

from __future__ import annotations

import uuid

import httpx
import pytest
from hub_client import connection_requested, fetch_submission_key
from hub_contracts import ConnectionEstablishedV1, ConnectionFailedV1
from hub_keyring import Binding, SubmissionKeys, SubmissionPublicKey, new_submission_key_spec
from oauth_gateway.errors import SubmissionRefusedError

from .conftest import GATEWAY, Harness
from .test_credentials import good_fields
from .test_submissions import submission


async def _key(gateway: Harness) -> SubmissionPublicKey:
    return await fetch_submission_key(GATEWAY, transport=httpx.ASGITransport(gateway.app))


async def test_the_gateway_serves_its_public_keys_newest_first(gateway: Harness) -> None:
    answer = await gateway.browser.get("/v1/submission-keys")
    assert answer.status_code == 200
    (listed,) = answer.json()["keys"]
    assert listed["key_id"] == "s1"
    assert listed["scheme"] == "x25519-hkdf-sha256-aes256gcm"
    assert gateway.settings.submission_keys is not None
    held = SubmissionKeys.from_spec(gateway.settings.submission_keys)
    assert listed["public_key"] == held.public_keys()[0].encoded
    assert gateway.settings.submission_keys.get_secret_value().split(":")[1] not in answer.text


async def test_a_sealed_submission_is_opened_and_re_encrypted_under_the_key_ring(
    gateway: Harness,
) -> None:
    fields = good_fields("klaviyo")
    request = connection_requested(
        await _key(gateway), gateway.org, "klaviyo", fields, requested_by="onboarding"
    )
    await gateway.app.state.api.keys.on_requested(request)
    (event,) = gateway.events.published
    assert isinstance(event, ConnectionEstablishedV1)
    assert event.event_id == uuid.uuid5(request.event_id, "connection.established")
    assert event.flow_id == request.flow_id
    stored = event.credentials.fields["private_api_key"]
    plain = gateway.ring.decrypt(stored, Binding(gateway.org, "klaviyo", "private_api_key"))
    assert plain.get_secret_value() == fields["private_api_key"]
    assert fields["private_api_key"] not in request.model_dump_json()


async def _refused(gateway: Harness, request: object) -> SubmissionRefusedError:
    with pytest.raises(SubmissionRefusedError) as raised:
        await gateway.app.state.api.keys.on_requested(request)
    (failed,) = gateway.events.published
    assert isinstance(failed, ConnectionFailedV1)
    assert failed.reason == raised.value.code
    assert failed.message.startswith("The Resend credentials could not be read on our side")
    assert await gateway.calls("resend") == {}
    return raised.value


async def test_a_submission_sealed_for_another_organization_is_refused(gateway: Harness) -> None:
    sealed_elsewhere = connection_requested(
        await _key(gateway), uuid.uuid4(), "resend", good_fields("resend")
    )
    request = sealed_elsewhere.model_copy(update={"organization_id": gateway.org})
    refused = await _refused(gateway, request)
    assert refused.code == "unopenable_submission"
    assert "another organization" in refused.detail


async def test_a_submission_sealed_for_another_provider_is_refused(gateway: Harness) -> None:
    fields = good_fields("resend")
    for_klaviyo = connection_requested(await _key(gateway), gateway.org, "klaviyo", fields)
    request = for_klaviyo.model_copy(update={"provider": "resend"})
    assert (await _refused(gateway, request)).code == "unopenable_submission"


async def test_a_submission_sealed_to_an_unknown_key_is_refused(gateway: Harness) -> None:
    stranger = SubmissionKeys.from_spec(new_submission_key_spec("retired")).public_keys()[0]
    request = connection_requested(stranger, gateway.org, "resend", good_fields("resend"))
    refused = await _refused(gateway, request)
    assert refused.code == "unknown_submission_key"
    assert "'retired'" in refused.detail


async def test_the_symmetric_path_is_refused_where_it_is_off(gateway: Harness) -> None:
    keys = gateway.app.state.api.keys
    keys.accept_symmetric = False
    refused = await _refused(gateway, submission(gateway, "resend", good_fields("resend")))
    assert refused.code == "symmetric_submission_refused"
    assert "v2" in refused.detail
