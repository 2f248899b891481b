"""AES-256-GCM key ring: several keys by id, the newest encrypts, the stored id decrypts.

Associated data binds each ciphertext to where it belongs::

    b"hub-credential" | format | key id | organization | provider | field

(each part length-prefixed), so a ciphertext copied to another row, provider or field, or
relabelled with another key id, fails authentication.
"""

from __future__ import annotations

import base64
import functools
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hub_contracts import NONCE_BYTES, EncryptedCredential
from pydantic import SecretStr

from hub_keyring.errors import CredentialDecryptionError, KeyRingConfigError, UnknownKeyError
from hub_keyring.specs import check_key_id, length_prefixed, parse_spec

KEY_BYTES = 32
FORMAT = 1
_AAD_LABEL = b"hub-credential"


@dataclass(frozen=True)
class Binding:
    """Where a credential belongs; part of its associated data."""

    organization_id: uuid.UUID | str
    provider: str
    field: str

    def associated_data(self, key_id: str) -> bytes:
        return _associated_data(self.organization_id, self.provider, self.field, key_id)


@functools.lru_cache(maxsize=8192)
def _associated_data(
    organization_id: uuid.UUID | str, provider: str, field: str, key_id: str
) -> bytes:
    """Computed once per connection field and key (hot: every encrypt and decrypt)."""
    parts = [
        _AAD_LABEL,
        str(FORMAT).encode(),
        key_id.encode(),
        str(uuid.UUID(str(organization_id))).encode(),
        provider.encode(),
        field.encode(),
    ]
    return length_prefixed(parts)


class KeyRing:
    """Keys in order, newest first. The newest encrypts; any key decrypts what it encrypted."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise KeyRingConfigError("the key ring needs at least one key")
        self._keys: dict[str, AESGCM] = {}
        for key_id, key in keys:
            check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise KeyRingConfigError(
                    f"key {key_id!r} is {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}"
                )
            if key_id in self._keys:
                raise KeyRingConfigError(f"key id {key_id!r} appears twice")
            self._keys[key_id] = AESGCM(key)
        self.active_key_id = keys[0][0]

    @classmethod
    def from_spec(cls, spec: str | SecretStr, *, setting: str = "CREDENTIAL_KEYS") -> KeyRing:
        """Parse ``"newest-id:base64key,older-id:base64key"``."""
        hint = (
            f"set {setting} to 'key-id:<base64 of 32 random bytes>[,older-id:...]' "
            "(newest first; `make key` prints a fresh one)"
        )
        return cls(parse_spec(spec, setting=setting, hint=hint))

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def encrypt(self, plaintext: str | SecretStr, binding: Binding) -> EncryptedCredential:
        value = plaintext.get_secret_value() if isinstance(plaintext, SecretStr) else plaintext
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.active_key_id
        ciphertext = self._keys[key_id].encrypt(
            nonce, value.encode(), binding.associated_data(key_id)
        )
        return EncryptedCredential(key_id=key_id, nonce=nonce, ciphertext=ciphertext)

    def decrypt(self, credential: EncryptedCredential, binding: Binding) -> SecretStr:
        aead = self._keys.get(credential.key_id)
        if aead is None:
            raise UnknownKeyError(credential.key_id)
        if len(credential.nonce) != NONCE_BYTES:  # the model checks too; never trust one layer
            raise CredentialDecryptionError(
                credential.key_id, str(binding.organization_id), binding.provider, binding.field
            )
        try:
            plaintext = aead.decrypt(
                credential.nonce, credential.ciphertext, binding.associated_data(credential.key_id)
            )
        except InvalidTag:
            raise CredentialDecryptionError(
                credential.key_id, str(binding.organization_id), binding.provider, binding.field
            ) from None
        return SecretStr(plaintext.decode())

    def needs_reencryption(self, credential: EncryptedCredential) -> bool:
        return credential.key_id != self.active_key_id

    def reencrypt(self, credential: EncryptedCredential, binding: Binding) -> EncryptedCredential:
        """The same secret under the newest key; unchanged if it already is (idempotent)."""
        if not self.needs_reencryption(credential):
            return credential
        return self.encrypt(self.decrypt(credential, binding), binding)


def new_key_spec(key_id: str) -> str:
    """A fresh ``key-id:base64`` entry for ``CREDENTIAL_KEYS``."""
    check_key_id(key_id)
    return f"{key_id}:{base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()}"
