"""AES-256-GCM credential key ring (SECURITY.md 10-13) and sealing to the hub's public
submission keys."""

from hub_keyring.errors import (
    CredentialDecryptionError,
    KeyRingConfigError,
    KeyRingError,
    SubmissionOpenError,
    UnknownKeyError,
    UnknownSubmissionKeyError,
)
from hub_keyring.keyring import KEY_BYTES, Binding, KeyRing, new_key_spec
from hub_keyring.sealing import (
    SubmissionKeys,
    SubmissionPublicKey,
    new_submission_key_spec,
    seal,
)

__all__ = [
    "KEY_BYTES",
    "Binding",
    "CredentialDecryptionError",
    "KeyRing",
    "KeyRingConfigError",
    "KeyRingError",
    "SubmissionKeys",
    "SubmissionOpenError",
    "SubmissionPublicKey",
    "UnknownKeyError",
    "UnknownSubmissionKeyError",
    "new_key_spec",
    "new_submission_key_spec",
    "seal",
]
