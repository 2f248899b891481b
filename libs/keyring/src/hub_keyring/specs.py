"""What the credential key ring and the submission keys share: key ids, base64 and the
``"newest-id:base64,older-id:..."`` settings both are configured with."""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Callable, Sequence

from pydantic import SecretStr

from hub_keyring.errors import KeyRingConfigError

_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_key_id(key_id: str) -> None:
    if not _KEY_ID.match(key_id):
        raise KeyRingConfigError(f"key id {key_id!r} must match {_KEY_ID.pattern}")


def decode_base64(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional; anything else is an error."""
    normalized = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)


def length_prefixed(parts: Sequence[bytes]) -> bytes:
    """Associated data: each part behind its two-byte length, so no two lists join alike."""
    return b"".join(struct.pack(">H", len(part)) + part for part in parts)


def parse_spec(
    spec: str | SecretStr,
    *,
    setting: str,
    hint: str,
    check: Callable[[str, bytes], None] = lambda key_id, raw: None,
) -> list[tuple[str, bytes]]:
    """``(key id, raw key)`` of every ``key-id:base64`` entry, in order; ``check`` judges each
    as it is read (raising ``KeyRingConfigError``)."""
    text = spec.get_secret_value() if isinstance(spec, SecretStr) else spec
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    if not entries:
        raise KeyRingConfigError(f"{setting} is empty: {hint}")
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id:
            raise KeyRingConfigError(f"{setting} entry {position} has no 'key-id:': {hint}")
        try:
            raw = decode_base64(encoded.strip())
        except binascii.Error:
            raise KeyRingConfigError(
                f"{setting} key {key_id!r} is not valid base64: {hint}"
            ) from None
        check(key_id, raw)
        keys.append((key_id, raw))
    return keys
