"""The console's use cases: each page's content from the store and gateway, and each form's
change. Pages are plain dicts for the templates; times are relative to ``clock()``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from admin_console import domain
from admin_console.domain import Session
from admin_console.errors import NotFoundError, RefusedError
from admin_console.service.ports import GatewayApi, Json, StoreApi

HISTORY_PAGE = 20
SETTLE_S = 5.0
"""After a connect ends: how long to wait for the store to see the new connection."""
RECENT = timedelta(seconds=30)
"""A connection made this recently is the one that just ended (clock skew included)."""


def _now() -> datetime:
    return datetime.now(UTC)


def slug(provider_id: str) -> str:
    """The URL form of a provider id (``meta_ads`` → ``meta-ads``)."""
    return provider_id.replace("_", "-")


def provider_id(path_slug: str) -> str:
    return path_slug.replace("-", "_")


@dataclass
class Console:
    store: StoreApi
    gateway: GatewayApi
    clock: Callable[[], datetime] = _now
    _catalog: Json | None = field(default=None, repr=False)
    """``GET /v1/providers``: the same for every organization, so fetched once."""

    async def catalog(self, session: Session) -> Json:
        if self._catalog is None:
            self._catalog = await self.store.providers(session.bearer)
        return self._catalog

    async def provider(self, session: Session, path_slug: str) -> Json:
        catalog = await self.catalog(session)
        wanted = provider_id(path_slug)
        for entry in catalog["providers"]:
            if entry["id"] == wanted and entry["scope"] == "tenant":
                return dict(entry)
        raise NotFoundError(f"There is no integration called {path_slug[:64]!r}.")

    # --- the hub -------------------------------------------------------------------------------

    async def hub(self, session: Session) -> Json:
        catalog, listing = await asyncio.gather(
            self.catalog(session), self.store.integrations(session.bearer, session.organization_id)
        )
        described = {g["name"]: g for g in catalog.get("groups", [])}
        descriptions = listing.get("group_descriptions") or {}
        now = self.clock()
        groups = []
        for name, items in listing["groups"].items():
            group = described.get(name, {})
            groups.append(
                {
                    "title": name,
                    "description": descriptions.get(name) or group.get("description"),
                    "platform": group.get("platform", False),
                    "rows": [self._row(item, now) for item in items],
                }
            )
        return {"groups": groups, "count": sum(len(g["rows"]) for g in groups)}

    def _row(self, item: Mapping[str, Any], now: datetime) -> Json:
        status, step = item["status"], item.get("next_step")
        badge = domain.badge(status, step)
        connected = bool(item.get("connected")) or status == "active"
        platform_account = item.get("account_source") == "platform"
        if platform_account and not connected:
            badge = domain.Badge("Platform account", "ok")
        return {
            "id": item["id"],
            "slug": slug(item["id"]),
            "name": item["name"],
            "account": item.get("account_name") if connected else None,
            "platform_account": platform_account,
            "platform_available": bool(item.get("platform_account_available")),
            "badge": badge,
            "connected": connected,
            "connecting": _connecting(item),
            "attention": domain.needs_attention(status, step),
            "action": domain.action_label(step, item["name"]),
            "next_step": step,
            "last_sync": domain.relative(domain.parse_time(item.get("last_sync_at")), now),
            "last_checked": domain.relative(domain.parse_time(item.get("last_checked_at")), now),
            "last_check_outcome": item.get("last_check_outcome"),
            "required": item.get("tier") == "required",
        }

    # --- one integration -----------------------------------------------------------------------

    async def integration(
        self, session: Session, path_slug: str, *, cursor: str | None = None
    ) -> Json:
        entry = await self.provider(session, path_slug)
        org, bearer = session.organization_id, session.bearer
        detail, flags, history = await asyncio.gather(
            self.store.integration(bearer, org, entry["id"]),
            self.store.flags(bearer, org),
            self.store.history(bearer, org, entry["id"], limit=HISTORY_PAGE, cursor=cursor),
        )
        now = self.clock()
        row = self._row(detail, now)
        fields = domain.settings_fields(entry["settings_schema"], detail.get("settings") or {})
        choices, notes = await self._choices(session, entry, fields, connected=row["connected"])
        return {
            "provider": entry,
            "row": row,
            "detail": detail,
            "status": {
                "account": detail.get("account_name"),
                "account_id": detail.get("account_id"),
                "last_error": detail.get("last_error"),
                "last_refreshed": domain.relative(
                    domain.parse_time(detail.get("last_sync_at")), now
                ),
                "last_checked": row["last_checked"],
                "token_expires": domain.relative(
                    domain.parse_time(detail.get("token_expires_at")), now
                ),
                "connected_at": domain.relative(domain.parse_time(detail.get("connected_at")), now),
            },
            "fields": fields,
            "choices": choices,
            "picker_notes": notes,
            "flags": self._flags(flags, entry),
            "history": self._history(history, now),
        }

    async def _choices(
        self, session: Session, entry: Json, fields: list[domain.FormField], *, connected: bool
    ) -> tuple[dict[str, list[Json]], dict[str, str]]:
        """What each picker offers (the gateway's listing of the brand's resources, by kind)
        and, for each picker that falls back to typing ids, a note saying why."""
        name = entry["name"]
        values = {f.name: f.value for f in fields}
        labels = {f.name: f.label for f in fields}
        found: dict[str, list[Json]] = {}
        notes: dict[str, str] = {}
        for picker in fields:
            kind = picker.resource
            if kind is None:
                continue
            what = kind.replace("_", " ")
            if not connected:
                notes[picker.name] = f"Connect {name} to choose from your {what}; until then, "
                notes[picker.name] += "type the id."
                continue
            missing = [p for p in picker.resource_params if not values.get(p)]
            if missing:
                first = labels.get(missing[0], missing[0]).lower()
                notes[picker.name] = f"Choose the {first} and save first; then pick its {what}."
                continue
            if kind not in found:
                params = {p: str(values[p]) for p in picker.resource_params}
                try:
                    listing = await self.gateway.resources(
                        session.bearer, session.organization_id, entry["id"], kind, params
                    )
                except RefusedError:
                    listing = None
                if listing is None:
                    notes[picker.name] = (
                        f"Your {what} could not be listed from {name} right now, so type the id "
                        "(reload the page to try again)."
                    )
                    continue
                found[kind] = list(listing.get("items") or [])
            if not found[kind]:
                notes[picker.name] = f"{name} lists no {what} for this account; type the id."
        return found, notes

    def _flags(self, flags: Mapping[str, Any], entry: Mapping[str, Any]) -> list[Json]:
        shown = []
        for name, view in (flags.get("details") or {}).items():
            if view.get("provider") != entry["id"]:
                continue
            enabled = bool(view.get("enabled"))
            blocked = bool(view.get("requires_connection")) and not view.get("connection_active")
            shown.append(
                {
                    "name": name,
                    "enabled": enabled,
                    "effective": view.get("effective", enabled and not blocked),
                    "reason": view.get("reason"),
                    "requires_connection": bool(view.get("requires_connection")),
                    "blocked": blocked and not enabled,
                    "explanation": (
                        f"{name} requires a connection: connect {entry['name']} first."
                        if blocked
                        else None
                    ),
                }
            )
        return shown

    def _history(self, history: Json | None, now: datetime) -> Json:
        if history is None:
            return {"available": False, "entries": [], "next_cursor": None}
        items = []
        for item in history.get("items") or []:
            at = domain.parse_time(item.get("at"))
            items.append(
                {
                    "kind": str(item.get("kind", "")),
                    "summary": str(item.get("summary", "")),
                    "when": domain.relative(at, now),
                    "at": at.isoformat(timespec="seconds") if at else "",
                }
            )
        return {"available": True, "entries": items, "next_cursor": history.get("next_cursor")}

    async def save_settings(
        self,
        session: Session,
        path_slug: str,
        form: Mapping[str, list[str]],
        *,
        only: frozenset[str] | None = None,
    ) -> tuple[Json, dict[str, str]]:
        """Send the form (its ``only`` fields) as a merge patch; per-field errors when refused."""
        entry = await self.provider(session, path_slug)
        detail = await self.store.integration(session.bearer, session.organization_id, entry["id"])
        fields = domain.settings_fields(entry["settings_schema"], detail.get("settings") or {})
        if only is not None:
            fields = [f for f in fields if f.name in only]
        patch, problems = domain.settings_patch(fields, form)
        if not problems:
            try:
                await self.store.update_settings(
                    session.bearer, session.organization_id, entry["id"], patch
                )
            except RefusedError as refused:
                if refused.status not in (400, 409, 422):
                    raise
                problems[refused.field or "_form"] = refused.message
        return entry, problems

    async def sync(self, session: Session, path_slug: str) -> Json:
        entry = await self.provider(session, path_slug)
        return await self.store.sync(session.bearer, session.organization_id, entry["id"])

    async def disconnect_view(self, session: Session, path_slug: str) -> Json:
        """The confirmation page: disconnecting a brand's own key switches back to the
        platform's shared account where the platform has one; and what happens to the access
        at the provider."""
        entry = await self.provider(session, path_slug)
        detail = await self.store.integration(session.bearer, session.organization_id, entry["id"])
        return {
            "provider": entry,
            "slug": slug(entry["id"]),
            "row": self._row(detail, self.clock()),
            "removal": domain.removal_notice(entry, detail.get("auth_type")),
        }

    async def disconnect(self, session: Session, path_slug: str) -> Json:
        entry = await self.provider(session, path_slug)
        await self.store.disconnect(session.bearer, session.organization_id, entry["id"])
        return entry

    async def set_flag(self, session: Session, path_slug: str, name: str, on: bool) -> Json:
        entry = await self.provider(session, path_slug)
        flags = await self.store.flags(session.bearer, session.organization_id)
        view = (flags.get("details") or {}).get(name)
        if view is None or view.get("provider") != entry["id"]:
            raise NotFoundError(f"{entry['name']} has no flag {name[:64]!r}.")
        await self.store.set_flags(session.bearer, session.organization_id, {name: on})
        return entry

    # --- connecting ----------------------------------------------------------------------------

    async def start_oauth(
        self, session: Session, path_slug: str, *, return_to: str, shop: str | None
    ) -> str:
        entry = await self.provider(session, path_slug)
        started = await self.gateway.start_oauth(
            session.bearer,
            session.organization_id,
            entry["id"],
            browser_id=session.browser_id,
            return_to=return_to,
            shop=shop,
        )
        return str(started["auth_url"])

    async def connect_key(
        self, session: Session, path_slug: str, form: Mapping[str, list[str]]
    ) -> tuple[Json, dict[str, str]]:
        entry = await self.provider(session, path_slug)
        mode = key_mode(entry)
        if mode is None:
            raise NotFoundError(f"{entry['name']} does not connect with a key.")
        values = {}
        problems: dict[str, str] = {}
        for spec in mode["credential_fields"]:
            value = (form.get(spec["name"]) or [""])[0].strip()
            if not value:
                problems[spec["name"]] = f"Enter the {spec['label']}."
            values[spec["name"]] = value
        if problems:
            return entry, problems
        try:
            await self.gateway.connect_key(
                session.bearer, session.organization_id, entry["id"], values
            )
        except RefusedError as refused:
            if refused.status not in (400, 409, 422, 429):
                raise
            names = [spec["name"] for spec in mode["credential_fields"]]
            target = refused.field if refused.field and refused.field in names else names[0]
            problems[target] = refused.message
        return entry, problems

    async def settle(self, session: Session, provider: str) -> Json:
        """The integration once the store has applied the connect that just ended (or after
        ``SETTLE_S``). The browser returns before ``connection.established`` is consumed, and
        even before ``connection.requested`` is, so the row may still show the old status:
        wait for an active row connected within ``RECENT``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S
        since = self.clock() - RECENT
        while True:
            detail = await self.store.integration(session.bearer, session.organization_id, provider)
            connected_at = domain.parse_time(detail.get("connected_at"))
            settled = (
                detail["status"] == "active"
                and not _connecting(detail)
                and connected_at is not None
                and connected_at >= since
            )
            if settled or loop.time() > deadline:
                return detail
            await asyncio.sleep(0.1)

    # --- onboarding and notifications ----------------------------------------------------------

    async def onboarding(self, session: Session) -> Json:
        catalog, listing = await asyncio.gather(
            self.catalog(session), self.store.integrations(session.bearer, session.organization_id)
        )
        items = {item["id"]: item for group in listing["groups"].values() for item in group}
        onboarding = catalog.get("onboarding") or {"categories": [], "cards": []}
        sections = []
        for category in onboarding["categories"]:
            cards = []
            for card in onboarding["cards"]:
                if card["category"] != category:
                    continue
                item = items.get(card["provider"], {})
                cards.append(
                    {
                        **card,
                        "slug": slug(card["provider"]),
                        "connected": item.get("status") == "active",
                        "connecting": _connecting(item),
                        "oauth": "oauth2_authorization_code" in card.get("auth_types", []),
                    }
                )
            sections.append({"category": category, "cards": cards})
        shopify = items.get("shopify", {})
        return {
            "sections": sections,
            "shopify": {
                "connected": shopify.get("status") == "active",
                "account": shopify.get("account_name"),
            },
        }

    async def notifications(self, session: Session) -> Json:
        org, bearer = session.organization_id, session.bearer
        settings, slack = await asyncio.gather(
            self.store.notifications(bearer, org), self.store.integration(bearer, org, "slack")
        )
        entry = await self.provider(session, "slack")
        fields = domain.settings_fields(entry["settings_schema"], slack.get("settings") or {})
        return {
            "settings": settings,
            "slack": self._row(slack, self.clock()),
            "routing": [f for f in fields if f.kind == "map" or f.name == "default_channel"],
        }

    async def save_notifications(
        self, session: Session, form: Mapping[str, list[str]]
    ) -> dict[str, str]:
        recipients = [
            line.strip()
            for line in (form.get("email_recipients") or [""])[0].replace(",", "\n").splitlines()
            if line.strip()
        ]
        patch = {
            "email_recipients": recipients,
            "email_enabled": (form.get("email_enabled") or [""])[0] == "on",
            "slack_enabled": (form.get("slack_enabled") or [""])[0] == "on",
        }
        problems: dict[str, str] = {}
        try:
            await self.store.update_notifications(session.bearer, session.organization_id, patch)
        except RefusedError as refused:
            if refused.status not in (400, 409, 422):
                raise
            problems["email_recipients" if not refused.field else refused.field.split(".")[0]] = (
                refused.message
            )
            return problems
        if "routing" in form:
            entry = await self.provider(session, "slack")
            names = frozenset(
                f.name
                for f in domain.settings_fields(entry["settings_schema"], {})
                if f.kind == "map" or f.name == "default_channel"
            )
            _, slack_problems = await self.save_settings(session, "slack", form, only=names)
            problems.update(slack_problems)
        return problems


def key_mode(entry: Mapping[str, Any]) -> Json | None:
    """The provider's first mode an admin types values for (API key, token exchange...)."""
    for mode in entry.get("auth_modes") or []:
        if mode.get("credential_fields"):
            return dict(mode)
    return None


def oauth_mode(entry: Mapping[str, Any]) -> bool:
    return "oauth2_authorization_code" in (entry.get("auth_types") or [])


def _connecting(item: Mapping[str, Any]) -> bool:
    """An attempt in progress: "connecting" on its own, or a reconnect beside the status it
    would fix (the store keeps ``expired``/``error``/``active`` under a new attempt)."""
    return item.get("status") == "connecting" or (item.get("attempt") or {}).get("state") == (
        "connecting"
    )
