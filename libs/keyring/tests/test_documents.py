"""Ciphertexts inside event payloads: found by shape, moved under the binding of the name they
sit under and the event's organization and provider."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from hub_contracts import ConnectionRequestedV1, Credentials, TokenRefreshedV1
from hub_keyring import Binding, KeyRing
from hub_keyring.documents import key_ids, reencrypt_document

OLD_KEY, NEW_KEY = os.urandom(32), os.urandom(32)
OLD = KeyRing([("old", OLD_KEY)])
ROTATED = KeyRing([("new", NEW_KEY), ("old", OLD_KEY)])


def _payload(event: object) -> dict[str, object]:
    return json.loads(event.model_dump_json())  # type: ignore[attr-defined,no-any-return]


def test_every_ciphertext_of_an_event_moves_and_still_opens_where_it_belongs() -> None:
    org = uuid.uuid4()
    seal = lambda field, value: OLD.encrypt(value, Binding(org, "shopify", field))  # noqa: E731
    event = TokenRefreshedV1(
        organization_id=org,
        provider="shopify",
        connection_id=uuid.uuid4(),
        credential_version=2,
        token_expires_at=None,
        credentials=Credentials(
            access_token=seal("access_token", "at"),
            refresh_token=seal("refresh_token", "rt"),
            fields={"api_key": seal("api_key", "k")},
        ),
    )
    payload = _payload(event)
    assert sorted(key_ids(payload)) == ["old", "old", "old"]

    moved, count = reencrypt_document(ROTATED, payload)
    assert count == 3
    assert key_ids(moved) == ["new", "new", "new"]
    again = TokenRefreshedV1.model_validate_json(json.dumps(moved))
    new_only = KeyRing([("new", NEW_KEY)])
    assert again.credentials.refresh_token is not None
    opened = new_only.decrypt(
        again.credentials.refresh_token, Binding(org, "shopify", "refresh_token")
    )
    assert opened.get_secret_value() == "rt"
    assert reencrypt_document(ROTATED, moved) == (moved, 0)  # idempotent


def test_a_submission_and_a_sealed_column_move_too() -> None:
    org = uuid.uuid4()
    requested = ConnectionRequestedV1(
        organization_id=org,
        provider="klaviyo",
        flow_id=uuid.uuid4(),
        auth_type="api_key",
        submission={
            "private_api_key": OLD.encrypt("pk", Binding(org, "klaviyo", "private_api_key"))
        },
    )
    moved, count = reencrypt_document(ROTATED, _payload(requested))
    assert count == 1
    assert key_ids(moved) == ["new"]

    verifier = json.loads(
        OLD.encrypt("v", Binding(org, "slack", "code_verifier")).model_dump_json()
    )
    column, count = reencrypt_document(
        ROTATED, verifier, organization_id=org, provider="slack", field="code_verifier"
    )
    assert count == 1
    assert key_ids(column) == ["new"]


def test_a_ciphertext_bound_elsewhere_is_refused_not_relabelled() -> None:
    org = uuid.uuid4()
    wrong = json.loads(OLD.encrypt("v", Binding(org, "slack", "code_verifier")).model_dump_json())
    with pytest.raises(Exception):  # noqa: B017, PT011 - the key ring's decryption error
        reencrypt_document(ROTATED, wrong, organization_id=org, provider="slack", field="other")
