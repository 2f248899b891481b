"""Key ring errors. Every one fails closed: no fallback key, no partial result.

KeyRingError
├── KeyRingConfigError          keys missing or malformed at start-up
├── UnknownKeyError             a ciphertext names a key id the ring does not hold
├── CredentialDecryptionError   the tag does not verify (tampered, or bound to another
│                               organization / provider / field); also an InvalidTag
├── UnknownSubmissionKeyError   a sealed submission names a submission key the hub does not hold
└── SubmissionOpenError         a sealed submission does not open (another organization /
                                provider / field, or tampered)
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


class UnknownSubmissionKeyError(KeyRingError, LookupError):
    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"submission was sealed to key {key_id!r}, which the hub does not hold; fetch "
            "GET /v1/submission-keys again and seal to the first key it lists"
        )
        self.key_id = key_id


class SubmissionOpenError(KeyRingError):
    def __init__(self, key_id: str, organization_id: str, provider: str, field: str) -> None:
        super().__init__(
            f"sealed {field!r} of {provider!r} for organization {organization_id} does not open "
            f"under submission key {key_id!r}: sealed for another organization, provider or "
            "field, or tampered"
        )
        self.key_id = key_id
