"""Ciphertexts inside JSON documents (event payloads in outboxes, a sealed column): find their key
ids and move them to the newest key. A ciphertext is an object with ``key_id``, ``nonce`` and
``ciphertext``; it is bound to the name of the key it sits under (``access_token``, a field's
name, ``code_verifier``), as every producer seals it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hub_contracts import EncryptedCredential

from hub_keyring.keyring import Binding, KeyRing

_SHAPE = frozenset({"key_id", "nonce", "ciphertext"})


def is_ciphertext(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() >= _SHAPE


def key_ids(document: Any) -> list[str]:
    """The key id of every ciphertext in ``document``."""
    if is_ciphertext(document):
        return [str(document["key_id"])]
    if isinstance(document, dict):
        return [k for value in document.values() for k in key_ids(value)]
    if isinstance(document, list):
        return [k for value in document for k in key_ids(value)]
    return []


def reencrypt_document(
    ring: KeyRing,
    document: Any,
    *,
    organization_id: uuid.UUID | str | None = None,
    provider: str | None = None,
    field: str | None = None,
) -> tuple[Any, int]:
    """``document`` with every ciphertext under the newest key, and how many moved. The binding's
    organization and provider come from the arguments, else from the document's top level (an
    event payload); ``field`` names a document that is itself one ciphertext."""
    if isinstance(document, dict) and not is_ciphertext(document):
        organization_id = organization_id or document.get("organization_id")
        provider = provider or document.get("provider")
    if organization_id is None or provider is None:
        if key_ids(document):
            raise ValueError("a ciphertext without the organization and provider it belongs to")
        return document, 0
    return _walk(ring, document, str(organization_id), str(provider), field)


def _walk(
    ring: KeyRing, value: Any, organization_id: str, provider: str, field: str | None
) -> tuple[Any, int]:
    if is_ciphertext(value):
        if value["key_id"] == ring.active_key_id:
            return value, 0
        if field is None:
            raise ValueError("a ciphertext without the field it is bound to")
        sealed = EncryptedCredential.model_validate_json(json.dumps(value))
        moved = ring.reencrypt(sealed, Binding(organization_id, provider, field))
        return json.loads(moved.model_dump_json()), 1
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        count = 0
        for name, item in value.items():
            out[name], n = _walk(ring, item, organization_id, provider, name)
            count += n
        return out, count
    if isinstance(value, list):
        items = [_walk(ring, item, organization_id, provider, field) for item in value]
        return [item for item, _ in items], sum(n for _, n in items)
    return value, 0
