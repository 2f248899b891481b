"""The HTTP API's own bodies (the error envelope and probes are ``hub_runtime.http_api``'s).

Typed secrets arrive as ``SecretStr`` in models that hide their input from validation errors, so
a refused body never echoes a key back (SECURITY.md 14).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class StartRequest(_Body):
    return_to: Annotated[str, Field(max_length=2048)] | None = None
    """Where the browser goes when the flow ends; its origin must be allow-listed. Default: the
    configured admin page."""
    shop: Annotated[str, Field(max_length=255)] | None = None
    """Shopify only: the store's domain, ``<name>.myshopify.com``."""


class StartResponse(_View):
    auth_url: str
    """Send the browser here (a top-level navigation, same browser that called start)."""
    state: str
    expires_at: datetime


class CredentialsRequest(_Body):
    fields: Annotated[
        dict[Annotated[str, Field(max_length=64)], SecretStr], Field(min_length=1, max_length=20)
    ]
    """The provider's credential fields by catalog name (``GET /v1/providers`` on the store)."""
    auth_type: Annotated[str, Field(max_length=40)] | None = None
    """Which typed mode, when a provider has several; default: its first."""


class ConnectionSummary(_View):
    id: uuid.UUID
    """The connection id (``hub_contracts.connection_id(org, provider)``)."""
    provider: str
    name: str
    status: Literal["active"]
    auth_type: str
    account_id: str | None
    account_name: str | None
    token_expires_at: datetime | None
    credentials_present: list[str]
    """Names of the fields held, never values."""
    connected_at: datetime


class ResourceItem(BaseModel):
    id: str
    name: str


class ResourceList(BaseModel):
    """What a brand can pick for a setting whose schema says ``"x-resource": kind``."""

    kind: str
    items: list[ResourceItem]
    fetched_at: datetime


class SubmissionKey(_View):
    key_id: str
    """Put it in each ``SealedCredential``'s ``key_id``."""
    scheme: Literal["x25519-hkdf-sha256-aes256gcm"]
    public_key: str
    """The raw 32-byte X25519 public key, unpadded URL-safe base64."""


class SubmissionKeyList(_View):
    keys: list[SubmissionKey]
    """Newest first: seal to the first; older ones still open what was sealed to them."""
