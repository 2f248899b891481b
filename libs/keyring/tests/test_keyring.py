"""Key ring properties of SECURITY.md 10-13, each able to fail."""

from __future__ import annotations

import base64
import os
import uuid

import pytest
from cryptography.exceptions import InvalidTag
from hub_contracts import EncryptedCredential
from hub_keyring import (
    Binding,
    CredentialDecryptionError,
    KeyRing,
    KeyRingConfigError,
    UnknownKeyError,
    new_key_spec,
)
from pydantic import SecretStr

ORG_A = uuid.UUID("7d0c3f3e-7c1a-4d0b-9d5e-0f6a1b2c3d4e")
ORG_B = uuid.UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
BINDING = Binding(ORG_A, "google_ads", "access_token")


def _ring(*ids: str) -> KeyRing:
    return KeyRing([(key_id, os.urandom(32)) for key_id in ids])


def test_round_trip_returns_the_secret_wrapped() -> None:
    ring = _ring("k1")
    sealed = ring.encrypt("ya29.canary-access-token", BINDING)
    opened = ring.decrypt(sealed, BINDING)
    assert isinstance(opened, SecretStr)
    assert opened.get_secret_value() == "ya29.canary-access-token"
    assert b"canary" not in sealed.ciphertext


def test_every_encryption_uses_a_fresh_12_byte_nonce() -> None:
    ring = _ring("k1")
    nonces = {ring.encrypt("same", BINDING).nonce for _ in range(200)}
    assert len(nonces) == 200
    assert {len(n) for n in nonces} == {12}


def test_flipped_ciphertext_bit_fails_closed() -> None:
    ring = _ring("k1")
    sealed = ring.encrypt("secret", BINDING)
    tampered = bytearray(sealed.ciphertext)
    tampered[0] ^= 0x01
    forged = sealed.model_copy(update={"ciphertext": bytes(tampered)})
    with pytest.raises(InvalidTag):
        ring.decrypt(forged, BINDING)


def test_flipped_nonce_bit_fails_closed() -> None:
    ring = _ring("k1")
    sealed = ring.encrypt("secret", BINDING)
    nonce = bytearray(sealed.nonce)
    nonce[-1] ^= 0x80
    with pytest.raises(CredentialDecryptionError):
        ring.decrypt(sealed.model_copy(update={"nonce": bytes(nonce)}), BINDING)


@pytest.mark.parametrize(
    "other",
    [
        Binding(ORG_B, "google_ads", "access_token"),
        Binding(ORG_A, "meta_ads", "access_token"),
        Binding(ORG_A, "google_ads", "refresh_token"),
    ],
    ids=["other-organization", "other-provider", "other-field"],
)
def test_ciphertext_moved_to_another_binding_does_not_decrypt(other: Binding) -> None:
    ring = _ring("k1")
    sealed = ring.encrypt("secret", BINDING)
    with pytest.raises(CredentialDecryptionError) as caught:
        ring.decrypt(sealed, other)
    assert "secret" not in str(caught.value).replace("credential", "")


def test_relabelling_the_key_id_fails_even_when_the_key_is_the_same() -> None:
    key = os.urandom(32)
    ring = KeyRing([("k2", key), ("k1", key)])
    sealed = ring.encrypt("secret", BINDING)
    with pytest.raises(CredentialDecryptionError):
        ring.decrypt(sealed.model_copy(update={"key_id": "k1"}), BINDING)


def test_unknown_key_id_fails_closed_without_trying_other_keys() -> None:
    sealed = _ring("gone").encrypt("secret", BINDING)
    with pytest.raises(UnknownKeyError, match="'gone'"):
        _ring("k1", "k0").decrypt(sealed, BINDING)


def test_wrong_nonce_length_is_refused_even_past_the_model() -> None:
    ring = _ring("k1")
    sealed = ring.encrypt("secret", BINDING)
    forged = EncryptedCredential.model_construct(
        format=1, key_id="k1", nonce=os.urandom(16), ciphertext=sealed.ciphertext
    )
    with pytest.raises(CredentialDecryptionError):
        ring.decrypt(forged, BINDING)


def test_rotation_newest_key_encrypts_old_key_still_decrypts() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = KeyRing([("k1", old_key)])
    sealed = before.encrypt("secret", BINDING)
    after = KeyRing([("k2", new_key), ("k1", old_key)])
    assert after.encrypt("x", BINDING).key_id == "k2"
    assert after.decrypt(sealed, BINDING).get_secret_value() == "secret"


def test_reencryption_moves_to_the_newest_key_and_is_idempotent() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    sealed = KeyRing([("k1", old_key)]).encrypt("secret", BINDING)
    rotated_ring = KeyRing([("k2", new_key), ("k1", old_key)])
    moved = rotated_ring.reencrypt(sealed, BINDING)
    assert moved.key_id == "k2"
    assert rotated_ring.reencrypt(moved, BINDING) is moved
    only_new = KeyRing([("k2", new_key)])
    assert only_new.decrypt(moved, BINDING).get_secret_value() == "secret"
    with pytest.raises(UnknownKeyError):
        only_new.decrypt(sealed, BINDING)


def test_spec_parses_newest_first() -> None:
    spec = f"{new_key_spec('k2')}, {new_key_spec('k1')}"
    ring = KeyRing.from_spec(SecretStr(spec))
    assert ring.key_ids == ("k2", "k1")
    assert ring.active_key_id == "k2"


def test_standard_base64_is_accepted_too() -> None:
    raw = os.urandom(32)
    ring = KeyRing.from_spec(f"k1:{base64.b64encode(raw).decode()}")
    assert ring.key_ids == ("k1",)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "CREDENTIAL_KEYS is empty"),
        ("  ,  ", "CREDENTIAL_KEYS is empty"),
        ("bm9rZXlpZA==", "no 'key-id:'"),
        ("k1:not base64!!", "not valid base64"),
        (f"k1:{base64.b64encode(os.urandom(16)).decode()}", "16 bytes; AES-256 needs exactly 32"),
        (f"k 1:{base64.b64encode(os.urandom(32)).decode()}", "must match"),
        (f"{new_key_spec('k1')},{new_key_spec('k1')}", "appears twice"),
    ],
)
def test_malformed_key_settings_fail_at_start_with_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(KeyRingConfigError, match=message):
        KeyRing.from_spec(spec)
