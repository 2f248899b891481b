"""Sealing to the public submission key: only the private key opens, only where it was bound."""

from __future__ import annotations

import uuid

import pytest
from hub_contracts import SealedCredential
from hub_keyring import (
    Binding,
    KeyRingConfigError,
    SubmissionKeys,
    SubmissionOpenError,
    SubmissionPublicKey,
    UnknownSubmissionKeyError,
    new_submission_key_spec,
    seal,
)

ORG_A = uuid.UUID("7d0c3f3e-7c1a-4d0b-9d5e-0f6a1b2c3d4e")
ORG_B = uuid.UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
BINDING = Binding(ORG_A, "klaviyo", "private_api_key")


def _keys(*ids: str) -> SubmissionKeys:
    return SubmissionKeys.from_spec(",".join(new_submission_key_spec(i) for i in ids))


def test_a_sealed_value_opens_with_the_private_key_only_where_it_was_bound() -> None:
    keys = _keys("s2", "s1")
    newest = keys.public_keys()[0]
    assert newest.key_id == "s2"
    sealed = seal("pk_live_secret", newest, BINDING)
    assert b"pk_live_secret" not in sealed.model_dump_json().encode()
    assert keys.open(sealed, BINDING).get_secret_value() == "pk_live_secret"
    for elsewhere in (
        Binding(ORG_B, "klaviyo", "private_api_key"),
        Binding(ORG_A, "resend", "private_api_key"),
        Binding(ORG_A, "klaviyo", "public_api_key"),
    ):
        with pytest.raises(SubmissionOpenError, match="another organization"):
            keys.open(sealed, elsewhere)


def test_every_held_key_opens_what_was_sealed_to_it_so_rotation_keeps_old_seals() -> None:
    old_spec = new_submission_key_spec("s1")
    sealed = seal("v", SubmissionKeys.from_spec(old_spec).public_keys()[0], BINDING)
    rotated = SubmissionKeys.from_spec(f"{new_submission_key_spec('s2')},{old_spec}")
    assert rotated.key_ids == ("s2", "s1")
    assert [k.key_id for k in rotated.public_keys()] == ["s2", "s1"]
    assert rotated.open(sealed, BINDING).get_secret_value() == "v"


def test_an_unknown_key_id_is_named() -> None:
    sealed = seal("v", _keys("gone").public_keys()[0], BINDING)
    with pytest.raises(UnknownSubmissionKeyError, match="'gone'"):
        _keys("s1").open(sealed, BINDING)


def test_a_relabelled_key_id_or_another_hub_key_does_not_open() -> None:
    keys = _keys("s1")
    stranger = _keys("s1")  # same id, another key pair
    sealed = seal("v", stranger.public_keys()[0], BINDING)
    with pytest.raises(SubmissionOpenError):
        keys.open(sealed, BINDING)
    both = _keys("s2", "s1")
    mine = seal("v", both.public_keys()[1], BINDING)
    relabelled = mine.model_copy(update={"key_id": "s2"})
    with pytest.raises(SubmissionOpenError):
        both.open(relabelled, BINDING)


def test_tampering_and_a_low_order_ephemeral_key_fail_closed() -> None:
    keys = _keys("s1")
    sealed = seal("value", keys.public_keys()[0], BINDING)
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(SubmissionOpenError):
        keys.open(sealed.model_copy(update={"ciphertext": flipped}), BINDING)
    zero = SealedCredential(
        key_id="s1",
        ephemeral_public_key=bytes(32),
        nonce=sealed.nonce,
        ciphertext=sealed.ciphertext,
    )
    with pytest.raises(SubmissionOpenError):
        keys.open(zero, BINDING)


def test_two_seals_of_one_value_differ() -> None:
    key = _keys("s1").public_keys()[0]
    one, two = seal("v", key, BINDING), seal("v", key, BINDING)
    assert one.ephemeral_public_key != two.ephemeral_public_key
    assert one.ciphertext != two.ciphertext


def test_public_keys_round_trip_through_their_text_form() -> None:
    key = _keys("s1").public_keys()[0]
    assert "=" not in key.encoded
    assert SubmissionPublicKey.decode("s1", key.encoded) == key
    with pytest.raises(KeyRingConfigError, match="32"):
        SubmissionPublicKey.decode("s1", "AAAA")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("nocolon", "no 'key-id:'"),
        ("s1:***", "not valid base64"),
        ("s1:AAAA", "X25519 needs 32"),
        ("bad id:" + new_submission_key_spec("x").split(":")[1], "must match"),
    ],
)
def test_malformed_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(KeyRingConfigError, match=message):
        SubmissionKeys.from_spec(spec)


def test_duplicate_ids_are_refused() -> None:
    entry = new_submission_key_spec("s1")
    with pytest.raises(KeyRingConfigError, match="twice"):
        SubmissionKeys.from_spec(f"{entry},{entry}")


def test_a_seal_made_by_the_recipe_of_docs_producers_opens() -> None:
    """docs/producers.md tells publishers without Python how to seal; this follows it to the
    letter, with ``cryptography`` only, so the documented format cannot drift from the code."""
    import os
    import struct

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    keys = _keys("s7")
    hub = keys.public_keys()[0]
    scheme = "x25519-hkdf-sha256-aes256gcm"
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(hub.public_key))
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + hub.public_key,
        info=f"hub-submission-key/{scheme}".encode(),
    ).derive(shared)
    parts = [b"hub-submission", scheme.encode(), b"s7", str(ORG_A).encode(), b"klaviyo", b"pk"]
    aad = b"".join(struct.pack(">H", len(p)) + p for p in parts)
    nonce = os.urandom(12)
    sealed = SealedCredential(
        key_id="s7",
        ephemeral_public_key=ephemeral_public,
        nonce=nonce,
        ciphertext=AESGCM(key).encrypt(nonce, b"secret", aad),
    )
    assert keys.open(sealed, Binding(ORG_A, "klaviyo", "pk")).get_secret_value() == "secret"
