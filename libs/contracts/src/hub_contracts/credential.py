"""Credentials as they may appear in an event: ciphertext only."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

NONCE_BYTES = 12
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")]
KeyId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class _Ciphertext(BaseModel):
    """What every AES-256-GCM ciphertext model shares: bytes as base64 in JSON, a 96-bit
    ``nonce`` and a ``ciphertext`` long enough for its tag (the fields are each model's own,
    in its own order)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )

    @field_validator("nonce", check_fields=False)
    @classmethod
    def _nonce_is_96_bits(cls, value: bytes) -> bytes:
        if len(value) != NONCE_BYTES:
            raise ValueError(f"nonce must be exactly {NONCE_BYTES} bytes")
        return value

    @field_validator("ciphertext", check_fields=False)
    @classmethod
    def _has_tag(cls, value: bytes) -> bytes:
        if len(value) < 16:
            raise ValueError("ciphertext is shorter than its 16-byte GCM tag")
        return value


class EncryptedCredential(_Ciphertext):
    """One AES-256-GCM ciphertext and what is needed to open it: the key id and the nonce.

    The associated data (format version, key id, organization, provider, field) is not stored:
    it is rebuilt from where the ciphertext is used, so a ciphertext moved to another
    organization, provider or field no longer decrypts.
    """

    format: Literal[1] = 1
    key_id: KeyId
    nonce: bytes
    ciphertext: bytes


class Credentials(BaseModel):
    """Every secret of one connection, each encrypted on its own (own nonce, own field binding).

    ``fields`` holds what an admin typed for API-key providers, by catalog field name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    access_token: EncryptedCredential | None = None
    refresh_token: EncryptedCredential | None = None
    fields: dict[FieldName, EncryptedCredential] = Field(default_factory=dict)

    def items(self) -> list[tuple[str, EncryptedCredential]]:
        """Every ciphertext with the field name it is bound to."""
        named = [("access_token", self.access_token), ("refresh_token", self.refresh_token)]
        found = [(name, value) for name, value in named if value is not None]
        return found + sorted(self.fields.items())


SealingScheme = Literal["x25519-hkdf-sha256-aes256gcm"]
SEALING_SCHEME: SealingScheme = "x25519-hkdf-sha256-aes256gcm"
"""How a ``SealedCredential`` is made (``hub_keyring.sealing``)."""
X25519_KEY_BYTES = 32


class SealedCredential(_Ciphertext):
    """One secret sealed to a public submission key of the hub: only the holder of the private
    key (the oauth-gateway) opens it. ``key_id`` names that key; ``ephemeral_public_key`` is the
    sender's one-time X25519 key. As with ``EncryptedCredential``, the associated data
    (scheme, key id, organization, provider, field) is rebuilt from where it is used."""

    scheme: SealingScheme = SEALING_SCHEME
    key_id: KeyId
    ephemeral_public_key: bytes
    nonce: bytes
    ciphertext: bytes

    @field_validator("ephemeral_public_key")
    @classmethod
    def _x25519(cls, value: bytes) -> bytes:
        if len(value) != X25519_KEY_BYTES:
            raise ValueError(f"ephemeral_public_key must be exactly {X25519_KEY_BYTES} bytes")
        return value
