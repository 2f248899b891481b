"""What a connection event says beyond its credentials: the account ("Connected to X"), the
non-secret metadata, and a ``connection.failed`` for a gateway error."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub_contracts import Account, ConnectionFailedV1
from pydantic import JsonValue

from oauth_gateway.errors import GatewayError

_UNSAFE_KEY = re.compile(
    r"token|secret|password|key|code|webhook|url|state|verifier|cookie|auth|signature", re.I
)
MAX_METADATA_JSON = 2000


def account(account_id: str | None, name: str | None) -> Account:
    """The account for "Connected to X": its name, or its id where the provider names none."""
    shown = name or account_id
    return Account(
        id=account_id[:200] if account_id else None,
        name=shown[:200] if shown else None,
    )


def metadata(tenant: Mapping[str, str], extra: Mapping[str, Any]) -> dict[str, JsonValue]:
    """Non-secret facts for the connection: the tenant parameters (``shop``) and the token
    answer's extras, leaving out anything named like a secret or a URL at any depth."""
    found: dict[str, JsonValue] = dict(tenant)
    for key, value in extra.items():
        if key in found or len(key) > 64 or _UNSAFE_KEY.search(key):
            continue
        cleaned = _clean(value)
        if cleaned is not None and len(json.dumps(cleaned)) <= MAX_METADATA_JSON:
            found[key] = cleaned
    return found


def failed(
    organization_id: uuid.UUID,
    provider: str,
    flow_id: uuid.UUID | None,
    error: GatewayError,
    *,
    requested_at: datetime | None,
    event_id: uuid.UUID | None = None,
) -> ConnectionFailedV1:
    """``connection.failed`` carrying the error's code and message, and what the provider said."""
    return ConnectionFailedV1(
        event_id=event_id or uuid.uuid4(),
        organization_id=organization_id,
        provider=provider,
        flow_id=flow_id,
        requested_at=requested_at,
        reason=error.code,
        message=error.message[:2000],
        provider_status=error.provider_status,
        provider_error=error.provider_error[:200] if error.provider_error else None,
    )


def _clean(value: Any) -> JsonValue:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, dict):
        return {
            str(k): _clean(v)
            for k, v in value.items()
            if not _UNSAFE_KEY.search(str(k)) and _clean(v) is not None
        }
    if isinstance(value, list):
        return [item for item in (_clean(v) for v in value[:50]) if item is not None]
    return None
