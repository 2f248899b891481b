"""What the REST API shows: response and request bodies, and the catalog rendered for callers.

Nothing here can hold a credential: connection views name which credential fields are present,
never a value or a ciphertext. Pydantic only, no I/O.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from hub_catalog import Provider, SettingField
from pydantic import BaseModel, ConfigDict, Field, StrictBool

IntegrationStatus = Literal[
    "not_connected", "connecting", "active", "expired", "error", "disconnected"
]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_View):
    code: str
    message: str
    field: str | None = None


class ErrorBody(_View):
    error: ErrorDetail


class CredentialFieldView(_View):
    name: str
    label: str
    secret: bool


class AuthModeView(_View):
    type: str
    credential_fields: list[CredentialFieldView]
    """What an admin types for this mode (empty for OAuth: the provider issues the token)."""


class ProviderView(_View):
    id: str
    name: str
    category: str
    group: str
    """The admin hub's group ("Advertising Platforms", ...)."""
    tier: str
    scope: str
    purpose: str
    configured_in: list[str]
    auth_types: list[str]
    auth_modes: list[AuthModeView]
    settings_schema: dict[str, Any]
    """JSON Schema of the provider's settings (``PATCH .../settings``)."""


class ProviderList(_View):
    providers: list[ProviderView]


class AttemptView(_View):
    """The latest connect attempt: in progress, or failed with the provider's reason."""

    state: Literal["connecting", "failed"]
    reason: str | None
    message: str | None
    at: datetime | None


class IntegrationSummary(_View):
    id: str
    name: str
    category: str
    tier: str
    configured_in: list[str]
    status: IntegrationStatus
    connected: bool
    """Whether a credential is held (active, expired or error)."""
    account_name: str | None
    last_sync_at: datetime | None
    last_error: str | None
    next_step: str | None
    """What a person should do now, when the integration needs attention."""
    attempt: AttemptView | None


class IntegrationList(_View):
    organization_id: uuid.UUID
    groups: dict[str, list[IntegrationSummary]]
    """Admin-hub group name → its integrations, in catalog order."""


class IntegrationDetail(IntegrationSummary):
    group: str
    connection_id: uuid.UUID | None
    auth_type: str | None
    account_id: str | None
    scopes: list[str]
    token_expires_at: datetime | None
    credential_version: int
    credentials_present: list[str]
    """Names of the credential fields held (``access_token``, ``api_key``...), never values."""
    connected_at: datetime | None
    disconnected_at: datetime | None
    last_checked_at: datetime | None
    last_error_code: str | None
    metadata: dict[str, Any]
    settings: dict[str, Any]
    flags: dict[str, bool]
    """The integration feature flags of this provider and whether each is on."""


class SettingsView(_View):
    provider: str
    settings: dict[str, Any]


class SyncAccepted(_View):
    provider: str
    queued: list[str]
    """Events written: ``connection.check_due``, and ``token.expiring`` when a refresh is due."""


class FlagView(_View):
    enabled: bool
    default: bool
    overridden: bool
    requires_connection: bool
    provider: str | None
    connection_active: bool | None
    """For flags of a provider: whether its connection is active now."""


class FlagsView(_View):
    flags: dict[str, bool]
    details: dict[str, FlagView]


class FlagsUpdate(BaseModel):
    """``PUT /flags``: the flags to change; flags not named keep their value."""

    model_config = ConfigDict(extra="forbid")

    flags: dict[str, StrictBool] = Field(min_length=1)


class Health(_View):
    status: Literal["ok", "ready"]


def provider_view(provider: Provider) -> ProviderView:
    return ProviderView(
        id=provider.id,
        name=provider.name,
        category=provider.category,
        group=provider.group,
        tier=provider.tier.value,
        scope=provider.scope.value,
        purpose=provider.purpose,
        configured_in=[place.value for place in provider.configured_in],
        auth_types=[mode.type.value for mode in provider.auth_modes],
        auth_modes=[
            AuthModeView(
                type=mode.type.value,
                credential_fields=[
                    CredentialFieldView(name=f.name, label=f.label, secret=f.secret)
                    for f in mode.fields
                ],
            )
            for mode in provider.auth_modes
        ],
        settings_schema=settings_schema(provider),
    )


def settings_schema(provider: Provider) -> dict[str, Any]:
    """The provider's settings as a JSON Schema object (what ``check_settings`` accepts)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {setting.name: _setting_schema(setting) for setting in provider.settings},
        "required": [setting.name for setting in provider.settings if setting.required],
    }


def _setting_schema(setting: SettingField) -> dict[str, Any]:
    text: dict[str, Any] = {"type": "string"}
    if setting.pattern is not None:
        text["pattern"] = setting.pattern
    schema: dict[str, Any]
    match setting.type:
        case "string":
            schema = dict(text)
        case "boolean":
            schema = {"type": "boolean"}
        case "integer":
            schema = {"type": "integer"}
        case "string_list":
            schema = {"type": "array", "items": text}
        case "channel_map":
            schema = {
                "type": "object",
                "properties": dict.fromkeys(setting.options or (), text),
                "additionalProperties": False,
            }
    schema["title"] = setting.label
    if setting.default is not None:
        schema["default"] = setting.default
    return schema


def describe_setting(setting: SettingField) -> str:
    """What a setting accepts, in words: ``a string matching ^act_\\d+$``."""
    shape = {
        "string": "a string",
        "boolean": "true or false",
        "integer": "a whole number",
        "string_list": "a list of strings",
        "channel_map": f"an object mapping {', '.join(setting.options or ())} to a channel",
    }[setting.type]
    if setting.pattern is not None:
        qualifier = "each matching" if setting.type != "string" else "matching"
        shape += f" {qualifier} {setting.pattern}"
    return shape
