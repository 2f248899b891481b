"""Onboarding submissions sealed to the hub's public key: fetch the key, seal each field, build
the ``connection.requested`` v2 event. The publisher never holds a key that opens anything."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Literal

import httpx
from hub_contracts import ConnectionRequestedV2, SealedCredential
from hub_keyring import Binding, SubmissionPublicKey, seal
from pydantic import BaseModel, SecretStr, ValidationError

from hub_client.errors import HubError, HubUnavailable


class _KeyView(BaseModel):
    key_id: str
    scheme: Literal["x25519-hkdf-sha256-aes256gcm"]
    public_key: str


class _KeyList(BaseModel):
    keys: list[_KeyView]


async def fetch_submission_key(
    gateway_url: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> SubmissionPublicKey:
    """The key to seal to now: the first of the gateway's ``GET /v1/submission-keys``. Fetch
    it again when the gateway rotates (a submission to a retired key is dead-lettered)."""
    async with httpx.AsyncClient(
        base_url=gateway_url.rstrip("/"), transport=transport, timeout=10.0
    ) as http:
        try:
            answer = await http.get("/v1/submission-keys")
        except httpx.TransportError as exc:
            raise HubUnavailable(f"the gateway did not answer: {type(exc).__name__}") from None
    if not answer.is_success:
        raise HubError(
            "the gateway did not list its submission keys",
            code="submission_keys_unavailable",
            status=answer.status_code,
        )
    try:
        listed = _KeyList.model_validate_json(answer.content).keys
    except ValidationError:
        raise HubError("the gateway's key list is malformed", code="invalid_answer") from None
    if not listed:
        raise HubError(
            "the gateway holds no submission key (OAUTH_GATEWAY_SUBMISSION_KEYS is unset)",
            code="no_submission_key",
        )
    return SubmissionPublicKey.decode(listed[0].key_id, listed[0].public_key)


def seal_submission(
    key: SubmissionPublicKey,
    organization_id: uuid.UUID | str,
    provider: str,
    fields: Mapping[str, str | SecretStr],
) -> dict[str, SealedCredential]:
    """Every field sealed on its own to ``key``, bound to the organization, provider and field:
    sealed for one brand, it opens for no other."""
    org = uuid.UUID(str(organization_id))
    return {name: seal(value, key, Binding(org, provider, name)) for name, value in fields.items()}


def connection_requested(
    key: SubmissionPublicKey,
    organization_id: uuid.UUID | str,
    provider: str,
    fields: Mapping[str, str | SecretStr],
    *,
    auth_type: str = "api_key",
    requested_by: str | None = None,
    tenant_params: Mapping[str, str] | None = None,
    flow_id: uuid.UUID | None = None,
) -> ConnectionRequestedV2:
    """The ``connection.requested`` v2 event of a typed-credential submission, sealed; publish
    it on its topic keyed by ``hub_contracts.message_key(organization_id, provider)``."""
    org = uuid.UUID(str(organization_id))
    return ConnectionRequestedV2(
        organization_id=org,
        provider=provider,
        flow_id=flow_id or uuid.uuid4(),
        auth_type=auth_type,
        requested_by=requested_by,
        submission=seal_submission(key, org, provider, fields),
        tenant_params=dict(tenant_params or {}),
    )
