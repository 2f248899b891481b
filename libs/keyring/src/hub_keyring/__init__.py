"""AES-256-GCM credential key ring (SECURITY.md 10-13)."""

from hub_keyring.errors import (
    CredentialDecryptionError,
    KeyRingConfigError,
    KeyRingError,
    UnknownKeyError,
)
from hub_keyring.keyring import KEY_BYTES, Binding, KeyRing, new_key_spec

__all__ = [
    "KEY_BYTES",
    "Binding",
    "CredentialDecryptionError",
    "KeyRing",
    "KeyRingConfigError",
    "KeyRingError",
    "UnknownKeyError",
    "new_key_spec",
]
