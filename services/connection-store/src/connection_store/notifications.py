"""Who hears about a connection that needs attention, and what the notifier needs to tell them.

- ``GET|PATCH /v1/orgs/{org_id}/notifications`` (tenant API, like integration settings): the
  organization's notification settings: email recipients, email and Slack on or off, and the
  sender address for email sent through the brand's own Resend connection.
- ``GET /internal/v1/orgs/{org_id}/notification-context?provider=`` (hub services only, service
  token with scope ``notifications:context``; not in the public OpenAPI document): those settings,
  the facts of the connection in question, and the brand's Slack and Resend credentials **as
  stored ciphertext** with the Slack channel routing. The notifier decrypts a credential only
  when it sends (SECURITY.md 14). Served in a tenant transaction (row-level security applies).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from hub_catalog import Catalog, Scope
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from connection_store import errors
from connection_store.adapters import notifications as sql
from connection_store.adapters.database import Database
from connection_store.http import ORG, OrgId, Reader, Writer, _components
from connection_store.service_auth import NOTIFICATION_CONTEXT, verify_service_token

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
DEFAULTS: dict[str, Any] = {
    "email_recipients": [],
    "email_enabled": True,
    "slack_enabled": True,
    "email_from": None,
}


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


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


router = APIRouter(tags=["notifications"])
internal = APIRouter(include_in_schema=False)
_service_bearer = HTTPBearer(auto_error=False)


def _db(request: Request) -> Database:
    db = _components(request).db
    if db is None:
        raise errors.UnavailableError("The store is starting; try again in a moment.")
    return db


def _view(row: dict[str, Any] | None) -> NotificationSettingsView:
    return NotificationSettingsView(**(row or DEFAULTS))


@router.get(f"{ORG}/notifications")
async def get_notifications(principal: Reader, request: Request) -> NotificationSettingsView:
    """Who hears about connections that need attention, and how."""
    async with _db(request).tenant(principal.organization_id) as tx:
        return _view(await sql.settings(tx, principal.organization_id))


@router.patch(f"{ORG}/notifications")
async def update_notifications(
    principal: Writer, request: Request, patch: NotificationSettingsPatch
) -> NotificationSettingsView:
    """Change the notification settings; fields left out keep their value."""
    org = principal.organization_id
    async with _db(request).tenant(org) as tx:
        current = await sql.settings(tx, org) or DEFAULTS
        merged = {name: current[name] for name in DEFAULTS}
        for name in patch.model_fields_set:
            value = getattr(patch, name)
            merged[name] = DEFAULTS[name] if value is None else value
        merged["email_recipients"] = _unique(merged["email_recipients"])
        await sql.save_settings(tx, org, merged, by=principal.subject[:200])
        return _view(await sql.settings(tx, org))


def _unique(addresses: list[str]) -> list[str]:
    """Each address once (case-insensitively), in the order given."""
    kept: dict[str, str] = {}
    for address in addresses:
        kept.setdefault(address.lower(), address)
    return list(kept.values())


async def _service(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_service_bearer)],
) -> None:
    if credentials is None:
        raise errors.UnauthenticatedError(
            "Send 'Authorization: Bearer <service token>'.", code="missing_token"
        )
    settings = _components(request).settings
    verify_service_token(credentials.credentials, settings.service_token_secret).require(
        NOTIFICATION_CONTEXT
    )


@internal.get("/internal/v1/orgs/{org_id}/notification-context", dependencies=[Depends(_service)])
async def notification_context(
    org_id: OrgId,
    request: Request,
    provider: Annotated[str, Query(max_length=64)],
) -> NotificationContext:
    """Everything the notifier needs to tell ``org_id`` about ``provider`` (ciphertext only)."""
    try:
        org = uuid.UUID(org_id)
    except ValueError:
        raise errors.NotFoundError("Nothing here: the organization is not a UUID.") from None
    catalog = _components(request).catalog
    subject = _tenant_provider(catalog, provider)
    async with _db(request).tenant(org) as tx:
        settings = await sql.settings(tx, org)
        rows = {
            row["provider"]: row
            for row in await sql.connections(tx, org, sorted({subject, "slack", "resend"}))
        }
    return NotificationContext(
        organization_id=org,
        settings=_view(settings),
        connection=_facts(catalog, rows.get(subject)),
        slack=_slack(rows.get("slack")),
        resend=_resend(rows.get("resend")),
    )


def _tenant_provider(catalog: Catalog, provider_id: str) -> str:
    try:
        provider = catalog.get(provider_id.replace("-", "_"))
    except KeyError:
        raise errors.UnknownProviderError(provider_id) from None
    if provider.scope != Scope.TENANT:
        raise errors.PlatformProviderError(provider.id, provider.name)
    return provider.id


def _facts(catalog: Catalog, row: dict[str, Any] | None) -> ConnectionFacts | None:
    if row is None:
        return None
    return ConnectionFacts(
        provider=row["provider"],
        name=catalog.get(row["provider"]).name,
        status=row["status"],
        account_id=row["account_id"],
        account_name=row["account_name"],
        last_error_code=row["last_error_code"],
        token_expires_at=row["token_expires_at"],
        credential_version=row["credential_version"],
    )


def _slack(row: dict[str, Any] | None) -> SlackTarget | None:
    if row is None or row["status"] != "active" or row["access_token_encrypted"] is None:
        return None
    settings = row["settings"] or {}
    return SlackTarget(
        credential_version=row["credential_version"],
        access_token=row["access_token_encrypted"],
        team=row["account_name"],
        channel_routing=dict(settings.get("channel_routing") or {}),
        default_channel=settings.get("default_channel"),
    )


def _resend(row: dict[str, Any] | None) -> ResendTarget | None:
    fields = (row or {}).get("credential_fields_encrypted") or {}
    if row is None or row["status"] != "active" or fields.get("api_key") is None:
        return None
    return ResendTarget(credential_version=row["credential_version"], api_key=fields["api_key"])
