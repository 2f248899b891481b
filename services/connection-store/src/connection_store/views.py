"""What the REST API shows: request and response bodies, and the catalog rendered for callers.
Tenant views name the credential fields held, never a value; only the internal notification
context carries ciphertext."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from hub_catalog import Catalog, Provider, SettingField
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from connection_store.domain import IntegrationStatus

_LOCAL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})+"
EMAIL = rf"{_LOCAL}@{_DOMAIN}"
EmailAddress = Annotated[str, Field(pattern=rf"^{EMAIL}$", max_length=254)]
Sender = Annotated[
    str, Field(pattern=rf'^(?:{EMAIL}|[^<>"\r\n]{{1,100}} <{EMAIL}>)$', max_length=360)
]
"""``ops@brand.com`` or ``Brand Ops <ops@brand.com>`` (no line breaks: no header injection)."""
MAX_RECIPIENTS = 20


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class CredentialFieldView(_View):
    name: str
    label: str
    secret: bool


class AuthModeView(_View):
    type: str
    credential_fields: list[CredentialFieldView]
    """What an admin types for this mode (empty for OAuth: the provider issues the token)."""
    revocable: bool = False
    """Whether disconnecting also withdraws the access at the provider (OAuth revocation)."""
    manual_removal: str | None = None
    """Where the brand removes the app itself, for an OAuth provider with no revocation."""


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


class GroupView(_View):
    name: str
    description: str
    platform: bool
    """A group the catalog adds to the seed's hub."""


class OnboardingCardView(_View):
    provider: str
    name: str
    category: str
    description: str
    recommended: bool
    auth_types: list[str]


class OnboardingView(_View):
    """The onboarding step "Connect Integrations": its categories in order, and its cards."""

    categories: list[str]
    cards: list[OnboardingCardView]


class ProviderList(_View):
    providers: list[ProviderView]
    groups: list[GroupView]
    """The admin hub's groups in display order, with their descriptions."""
    onboarding: OnboardingView


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
    account_source: Literal["platform", "brand"] | None = None
    """Whose account is in use: the brand's own, the platform's shared one ("Using the
    platform's account"), or none."""
    platform_account_available: bool = False
    """Whether the platform's shared account is configured for this provider: a brand using
    its own key can switch back to it by disconnecting."""
    last_sync_at: datetime | None
    last_error: str | None
    next_step: str | None
    """What a person should do now, when the integration needs attention."""
    attempt: AttemptView | None
    last_checked_at: datetime | None = None
    """When the last health check finished (every check, healthy too)."""
    last_check_outcome: str | None = None
    """What it found: ``healthy``, ``revoked``, ``rate_limited``, ``error``... (the
    ``outcome`` of ``connection.checked``)."""


class IntegrationList(_View):
    organization_id: uuid.UUID
    groups: dict[str, list[IntegrationSummary]]
    """Admin-hub group name → its integrations, groups in the catalog's group order."""
    group_descriptions: dict[str, str] = Field(default_factory=dict)
    """Admin-hub group name → the line shown under its title."""


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
    last_check_id: uuid.UUID | None
    """Which check that was: the ``check_id`` "Sync now" answered with."""
    last_error_code: str | None
    metadata: dict[str, Any]
    settings: dict[str, Any]
    flags: dict[str, bool]
    """The integration feature flags of this provider and whether each is on."""


class HistoryItem(_View):
    at: datetime
    kind: str
    """requested, connected, failed, refreshed, unhealthy, recovered, disconnected (others may
    be added: show unknown kinds as they come)."""
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)


class HistoryPage(_View):
    provider: str
    items: list[HistoryItem]
    next_cursor: str | None
    """Pass as ``cursor`` for the next (older) page; ``null`` on the last page."""


class CredentialAccount(_View):
    id: str | None
    name: str | None


class CredentialView(_View):
    """A connection's credential in plaintext, for a hub service (``credentials:read``); sent
    with ``Cache-Control: no-store`` and never logged."""

    organization_id: uuid.UUID
    provider: str
    auth_type: str | None
    fields: dict[str, str]
    """What the provider's transport needs: the access token, the API key, non-secret ids, the
    tenant parameters (Shopify ``shop``). Never the refresh token, never a secret that only
    mints tokens."""
    expires_at: datetime | None
    account: CredentialAccount
    metadata: dict[str, Any]
    credential_version: int
    """0 for the platform's shared account (``metadata.account_source`` "platform")."""


class AccessLogItem(_View):
    at: datetime
    service: str
    outcome: str
    """served, served_platform, not_connected, reconnect_required, refresh_unavailable,
    provider_not_allowed, unreadable."""
    credential_version: int | None


class AccessLogPage(_View):
    provider: str
    items: list[AccessLogItem]
    next_cursor: str | None
    """Pass as ``cursor`` for the next (older) page; ``null`` on the last page."""


class SettingsView(_View):
    provider: str
    settings: dict[str, Any]


class SyncAccepted(_View):
    provider: str
    check_id: uuid.UUID
    """The check just queued; the integration's ``last_check_id`` shows it once it finished."""
    queued: list[str]
    """Events written: ``connection.check_due``, and ``token.expiring`` when a refresh is due."""


class FlagView(_View):
    enabled: bool
    """The stored choice (the catalog default unless changed); kept across disconnects."""
    effective: bool
    """Whether the feature is on now: ``enabled``, and its required connection active."""
    reason: str | None
    """Why an enabled flag is not in effect (a person's sentence), else ``None``."""
    default: bool
    overridden: bool
    requires_connection: bool
    provider: str | None
    connection_active: bool | None
    """For flags of a provider: whether its connection is active now."""


class FlagsView(_View):
    flags: dict[str, bool]
    """Flag → ``effective``: what platform code reads."""
    details: dict[str, FlagView]


class FlagsUpdate(BaseModel):
    """``PUT /flags``: the flags to change; flags not named keep their value."""

    model_config = ConfigDict(extra="forbid")

    flags: dict[str, StrictBool] = Field(min_length=1)


class NotificationSettingsView(_View):
    email_recipients: list[str]
    """Who gets an email when a connection needs attention (none: no email)."""
    email_enabled: bool
    slack_enabled: bool
    """Slack messages go to the brand's own workspace when Slack is connected."""
    email_from: str | None
    """Sender for email sent through the brand's own Resend connection (a verified domain there);
    unset: the platform's sender is used."""
    updated_at: datetime | None = None


class NotificationSettingsPatch(BaseModel):
    """Fields to change; a field left out keeps its value, ``null`` restores its default."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    email_recipients: Annotated[list[EmailAddress], Field(max_length=MAX_RECIPIENTS)] | None = None
    email_enabled: StrictBool | None = None
    slack_enabled: StrictBool | None = None
    email_from: Sender | None = None


class ConnectionFacts(_View):
    provider: str
    name: str
    status: str
    account_id: str | None
    account_name: str | None
    last_error_code: str | None
    token_expires_at: datetime | None
    credential_version: int


class SlackTarget(_View):
    """The brand's active Slack connection: bot token ciphertext and channel routing."""

    credential_version: int
    access_token: dict[str, Any]
    """``EncryptedCredential`` JSON, bound to (organization, slack, access_token)."""
    team: str | None
    channel_routing: dict[str, str]
    default_channel: str | None


class ResendTarget(_View):
    credential_version: int
    api_key: dict[str, Any]
    """``EncryptedCredential`` JSON, bound to (organization, resend, api_key)."""


class NotificationContext(_View):
    organization_id: uuid.UUID
    settings: NotificationSettingsView
    connection: ConnectionFacts | None
    slack: SlackTarget | None
    resend: ResendTarget | None


def provider_list(catalog: Catalog) -> ProviderList:
    """``GET /v1/providers``: the catalog, the hub's groups and the onboarding step."""
    return ProviderList(
        providers=[provider_view(p) for p in catalog.providers],
        groups=[
            GroupView(name=g.name, description=g.description, platform=g.platform)
            for g in catalog.groups
        ],
        onboarding=onboarding_view(catalog),
    )


def onboarding_view(catalog: Catalog) -> OnboardingView:
    cards = []
    for card in catalog.onboarding.cards:
        provider = catalog.get(card.provider)
        cards.append(
            OnboardingCardView(
                provider=provider.id,
                name=provider.name,
                category=card.category,
                description=card.description,
                recommended=card.recommended,
                auth_types=[mode.type.value for mode in provider.auth_modes],
            )
        )
    return OnboardingView(categories=list(catalog.onboarding.categories), cards=cards)


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
                revocable=mode.oauth is not None and mode.oauth.revocable,
                manual_removal=mode.oauth.manual_removal if mode.oauth is not None else None,
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
        "properties": {
            setting.name: _with_params(provider, setting, _setting_schema(setting))
            for setting in provider.settings
        },
        "required": [setting.name for setting in provider.settings if setting.required],
    }


def _with_params(
    provider: Provider, setting: SettingField, schema: dict[str, Any]
) -> dict[str, Any]:
    """A picker whose listing depends on other settings names them (``x-resource-params``: Meta
    pixels take the ``ad_account_id``), so a page can ask for the right list."""
    listing = provider.resources.get(setting.resource or "")
    if listing is not None and listing.params:
        schema["x-resource-params"] = list(listing.params)
    return schema


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
    if setting.resource is not None:
        # GET /v1/orgs/{org}/integrations/{provider}/resources/{kind} (oauth-gateway) lists it.
        schema["x-resource"] = setting.resource
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


class SealedCredentialView(_View):
    """One connection's credential exactly as stored (ciphertext), for a hub service."""

    provider: str
    auth_type: str | None
    credential_version: int
    sealed: dict[str, Any]
    metadata: dict[str, Any]
