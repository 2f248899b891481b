"""Sealing a secret to the hub's public submission key, so a publisher never holds a key that
opens anything (X25519 + HKDF-SHA256 + AES-256-GCM, an ECIES shape).

The sender makes a one-time X25519 key pair, agrees a secret with the recipient's public key,
derives an AES-256 key with HKDF-SHA256 (salt: both public keys) and encrypts under it with the
associated data::

    b"hub-submission" | scheme | key id | organization | provider | field

(each part length-prefixed), so a value sealed for another organization, provider or field, or
relabelled with another key id, does not open. ``SubmissionKeys`` holds the private keys by id,
newest first: the newest is the one published first, every one opens what was sealed to it.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hub_contracts import NONCE_BYTES, SEALING_SCHEME, SealedCredential
from pydantic import SecretStr

from hub_keyring.errors import KeyRingConfigError, SubmissionOpenError, UnknownSubmissionKeyError
from hub_keyring.keyring import Binding
from hub_keyring.specs import check_key_id, decode_base64, length_prefixed, parse_spec

SETTING = "OAUTH_GATEWAY_SUBMISSION_KEYS"
KEY_BYTES = 32
_AAD_LABEL = b"hub-submission"
_HKDF_INFO = b"hub-submission-key/" + SEALING_SCHEME.encode()


@dataclass(frozen=True)
class SubmissionPublicKey:
    """A public key to seal to: what ``GET /v1/submission-keys`` serves."""

    key_id: str
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_id(self.key_id)
        if len(self.public_key) != KEY_BYTES:
            raise KeyRingConfigError(
                f"submission key {self.key_id!r} is {len(self.public_key)} bytes; "
                f"X25519 public keys are {KEY_BYTES}"
            )

    @property
    def encoded(self) -> str:
        """The public key as unpadded URL-safe base64 (how it travels in JSON)."""
        return base64.urlsafe_b64encode(self.public_key).decode().rstrip("=")

    @classmethod
    def decode(cls, key_id: str, encoded: str) -> SubmissionPublicKey:
        try:
            return cls(key_id, decode_base64(encoded))
        except binascii.Error:
            raise KeyRingConfigError(f"submission key {key_id!r} is not valid base64") from None


def associated_data(binding: Binding, key_id: str) -> bytes:
    parts = [
        _AAD_LABEL,
        SEALING_SCHEME.encode(),
        key_id.encode(),
        str(uuid.UUID(str(binding.organization_id))).encode(),
        binding.provider.encode(),
        binding.field.encode(),
    ]
    return length_prefixed(parts)


def _derive(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=_HKDF_INFO
    ).derive(shared)
    return AESGCM(key)


def seal(value: str | SecretStr, key: SubmissionPublicKey, binding: Binding) -> SealedCredential:
    """``value`` sealed to ``key`` for ``binding`` (a fresh ephemeral key and nonce each time)."""
    plaintext = value.get_secret_value() if isinstance(value, SecretStr) else value
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(key.public_key))
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = _derive(shared, ephemeral_public, key.public_key).encrypt(
        nonce, plaintext.encode(), associated_data(binding, key.key_id)
    )
    return SealedCredential(
        key_id=key.key_id, ephemeral_public_key=ephemeral_public, nonce=nonce, ciphertext=ciphertext
    )


class SubmissionKeys:
    """The hub's private submission keys, newest first (only the oauth-gateway holds them)."""

    def __init__(self, keys: Sequence[tuple[str, X25519PrivateKey]]) -> None:
        if not keys:
            raise KeyRingConfigError(f"{SETTING} needs at least one key")
        self._keys: dict[str, tuple[X25519PrivateKey, bytes]] = {}
        for key_id, private in keys:
            check_key_id(key_id)
            if key_id in self._keys:
                raise KeyRingConfigError(f"submission key id {key_id!r} appears twice")
            self._keys[key_id] = (private, private.public_key().public_bytes_raw())

    @classmethod
    def from_spec(cls, spec: str | SecretStr, *, setting: str = SETTING) -> SubmissionKeys:
        """Parse ``"newest-id:base64(32-byte X25519 private key),older-id:..."``."""
        hint = (
            f"set {setting} to 'key-id:<base64 X25519 private key>[,older-id:...]' "
            "(newest first; `hubctl keys submission-key` prints a fresh one)"
        )

        def x25519(key_id: str, raw: bytes) -> None:
            if len(raw) != KEY_BYTES:
                raise KeyRingConfigError(
                    f"{setting} key {key_id!r} is {len(raw)} bytes; X25519 needs {KEY_BYTES}"
                )

        entries = parse_spec(spec, setting=setting, hint=hint, check=x25519)
        return cls([(key_id, X25519PrivateKey.from_private_bytes(raw)) for key_id, raw in entries])

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def public_keys(self) -> list[SubmissionPublicKey]:
        """Newest first: publishers seal to the first."""
        return [SubmissionPublicKey(key_id, public) for key_id, (_, public) in self._keys.items()]

    def open(self, sealed: SealedCredential, binding: Binding) -> SecretStr:
        held = self._keys.get(sealed.key_id)
        if held is None:
            raise UnknownSubmissionKeyError(sealed.key_id)
        private, public = held
        try:
            shared = private.exchange(
                X25519PublicKey.from_public_bytes(sealed.ephemeral_public_key)
            )
            plaintext = _derive(shared, sealed.ephemeral_public_key, public).decrypt(
                sealed.nonce, sealed.ciphertext, associated_data(binding, sealed.key_id)
            )
        except (InvalidTag, ValueError):  # ValueError: a low-order point (all-zero secret)
            raise SubmissionOpenError(
                sealed.key_id, str(binding.organization_id), binding.provider, binding.field
            ) from None
        return SecretStr(plaintext.decode())


def new_submission_key_spec(key_id: str) -> str:
    """A fresh ``key-id:base64`` private-key entry for ``OAUTH_GATEWAY_SUBMISSION_KEYS``."""
    check_key_id(key_id)
    raw = X25519PrivateKey.generate().private_bytes_raw()
    return f"{key_id}:{base64.urlsafe_b64encode(raw).decode()}"
