"""Key ring errors. Every one fails closed: no fallback key, no partial result.

KeyRingError
├── KeyRingConfigError          keys missing or malformed at start-up
├── UnknownKeyError             a ciphertext names a key id the ring does not hold
└── CredentialDecryptionError   the tag does not verify (tampered, or bound to another
                                organization / provider / field); also an InvalidTag
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag


class KeyRingError(Exception):
    pass


class KeyRingConfigError(KeyRingError, ValueError):
    pass


class UnknownKeyError(KeyRingError, LookupError):
    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"credential was encrypted with key {key_id!r}, which this key ring does not hold; "
            "add that key to CREDENTIAL_KEYS (never remove a key before re-encryption finished)"
        )
        self.key_id = key_id


class CredentialDecryptionError(KeyRingError, InvalidTag):
    def __init__(self, key_id: str, organization_id: str, provider: str, field: str) -> None:
        super().__init__(
            f"credential {field!r} of {provider!r} for organization {organization_id} failed "
            f"authentication under key {key_id!r}: tampered, or copied from another connection"
        )
        self.key_id = key_id
