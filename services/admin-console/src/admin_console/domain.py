"""Pure rules of the console: signed cookies (session, flash), CSRF tokens, allow-listed
``next`` URLs, status badges, relative times, and settings forms from a JSON Schema."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

_BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{22,128}$")


def _mac(secret: bytes, purpose: str, payload: bytes) -> str:
    digest = hmac.new(secret, purpose.encode() + b"\x00" + payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def seal(secret: bytes, purpose: str, value: Mapping[str, Any]) -> str:
    """``value`` as JSON, signed for ``purpose`` (not encrypted: it holds nothing the browser
    did not already hold)."""
    payload = base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode())
    return f"{payload.decode().rstrip('=')}.{_mac(secret, purpose, payload.rstrip(b'='))}"


def unseal(secret: bytes, purpose: str, cookie: str | None) -> dict[str, Any] | None:
    """The value ``seal`` signed, or ``None`` for anything else (tampered, other purpose)."""
    if not cookie or len(cookie) > 8192 or "." not in cookie:
        return None
    payload, _, mac = cookie.rpartition(".")
    # Bytes: compare_digest raises on a str with non-ASCII characters (a forged cookie).
    if not hmac.compare_digest(mac.encode(), _mac(secret, purpose, payload.encode()).encode()):
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Session:
    """A signed-in admin: the platform bearer the APIs take, and what it says."""

    bearer: str
    organization_id: str
    subject: str
    expires_at: int
    """Unix seconds: the bearer's ``exp`` or the session's maximum age, whichever is first."""
    nonce: str
    """Random per session: the CSRF tokens derive from it."""
    browser_id: str
    """The OAuth browser binding this browser presents to the gateway (``docs/decisions.md``)."""

    @classmethod
    def new(cls, bearer: str, organization_id: str, subject: str, expires_at: int) -> Session:
        return cls(
            bearer=bearer,
            organization_id=organization_id,
            subject=subject,
            expires_at=expires_at,
            nonce=secrets.token_urlsafe(16),
            browser_id=secrets.token_urlsafe(32),
        )

    def seal(self, secret: bytes) -> str:
        return seal(secret, "session", asdict(self))

    @classmethod
    def open(cls, secret: bytes, cookie: str | None, now: datetime) -> Session | None:
        value = unseal(secret, "session", cookie)
        if value is None:
            return None
        try:
            session = cls(**value)
        except TypeError:
            return None
        if not isinstance(session.expires_at, int) or session.expires_at <= now.timestamp():
            return None
        if not _BROWSER_ID.fullmatch(str(session.browser_id)):
            return None
        return session


def csrf_token(secret: bytes, nonce: str) -> str:
    return _mac(secret, "csrf", nonce.encode())


def csrf_valid(secret: bytes, nonce: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(
        csrf_token(secret, nonce).encode(), str(given).encode()
    )


def bearer_facts(claims: Mapping[str, Any]) -> tuple[str, str, int] | None:
    """(organization, subject, exp) of a bearer's unverified claims, or ``None`` when they are
    not shaped like the platform's (the store verifies the signature)."""
    org, subject, expires = claims.get("org"), claims.get("sub"), claims.get("exp")
    if not isinstance(subject, str) or not subject or not isinstance(expires, int):
        return None
    try:
        organization = str(uuid.UUID(str(org)))
    except ValueError:
        return None
    return organization, subject[:200], expires


def safe_next(candidate: str | None, own_origin: str, origins: Iterable[str], default: str) -> str:
    """``candidate`` when it is a path on the console or a URL on an allow-listed origin;
    ``default`` otherwise (an open redirect is never possible)."""
    if not candidate or len(candidate) > 2048 or "\\" in candidate:
        return default
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in candidate):
        return default
    if candidate.startswith("/") and not candidate.startswith("//"):
        return candidate
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return default
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = {own_origin.rstrip("/"), *(o.rstrip("/") for o in origins)}
    if parts.scheme in ("http", "https") and "@" not in parts.netloc and origin in allowed:
        return candidate
    return default


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str
    """CSS class suffix: ok, busy, warn, bad, off."""


def badge(status: str, next_step: str | None) -> Badge:
    """The status badge of an integration row (seed Part 3: Connected, Error...)."""
    if status == "active":
        return Badge("Connected", "ok")
    if status == "connecting":
        return Badge("Connecting", "busy")
    if status == "expired" or (next_step or "").startswith("Reconnect"):
        return Badge("Needs attention", "warn")
    if status == "error":
        return Badge("Error", "bad")
    return Badge("Not connected", "off")


def needs_attention(status: str, next_step: str | None) -> bool:
    return badge(status, next_step).tone in ("warn", "bad")


def action_label(next_step: str | None, name: str) -> str:
    """The button for a row that needs attention: "Reconnect Meta Ads" (from the store's next
    step), else "Connect Meta Ads again"."""
    if next_step and next_step.startswith("Reconnect"):
        return f"Reconnect {name}"
    return f"Connect {name} again"


def relative(at: datetime | None, now: datetime) -> str | None:
    """``just now``, ``5 minutes ago``, ``in 3 days``; ``None`` for no time."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    seconds = int((now - at).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now" if not future else "in a moment"
    for size, unit in (
        (86400 * 365, "year"),
        (86400 * 30, "month"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if seconds >= size:
            count = round(seconds / size) if size == 60 else seconds // size
            words = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {words}" if future else f"{words} ago"
    return "just now"  # pragma: no cover - 45..59 s round to a minute above


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


REASONS = {
    "access_denied": "You declined access on {name}. Try again and approve the permissions.",
    "flow_expired": "The sign-in with {name} took too long and expired. Try again.",
    "expired": "The sign-in with {name} took too long and expired. Try again.",
    "browser_mismatch": (
        "The sign-in with {name} was finished in a different browser than the one that started "
        "it, so nothing was connected. Try again in this browser."
    ),
    "flow_used": (
        "This sign-in with {name} was already used; each one works once. If {name} does not "
        "show as connected, try again."
    ),
    "invalid_state": (
        "The answer from {name} could not be tied to a sign-in you started. Try again."
    ),
    "provider_mismatch": (
        "The answer came back for a different integration than {name}, so nothing was "
        "connected. Try again."
    ),
    "issuer_mismatch": (
        "The answer claiming to come from {name} could not be verified, so nothing was "
        "connected. Try again."
    ),
    "callback_signature_invalid": (
        "The answer claiming to come from {name} could not be verified, so nothing was "
        "connected. Try again."
    ),
    "shop_mismatch": ("{name} answered for a different store than the one you entered. Try again."),
    "invalid_callback": "{name} sent an incomplete answer. Try again.",
    "code_rejected": "{name} refused to finish the sign-in. Try again.",
    "identity_refused": (
        "{name} gave access that cannot read your account. Check the permissions you grant "
        "and try again."
    ),
    "provider_error": "{name} could not complete the sign-in. Try again.",
    "credentials_rejected": "{name} did not accept what it was given. Try again.",
    "provider_unavailable": "{name} is not answering right now. Try again in a few minutes.",
    "provider_rate_limited": "{name} is busy right now. Try again in a few minutes.",
    "unavailable": "We could not record the connection just now. Try again in a moment.",
    "store_unavailable": "We could not record the connection just now. Try again in a moment.",
    "provider_not_configured": (
        "{name} is not set up on this platform yet, so it cannot be connected. Tell your "
        "platform team."
    ),
}


def explain_reason(reason: str | None, name: str) -> str:
    """A failed connect's reason code in words a person understands."""
    template = REASONS.get(reason or "", "Connecting {name} did not work ({reason}). Try again.")
    return template.format(name=name, reason=(reason or "unknown")[:40])


@dataclass(frozen=True)
class FormField:
    """One input of a settings form, built from the provider's settings schema."""

    name: str
    label: str
    kind: str
    """text, checkbox, number, list (one per line), select and multiselect (resource pickers:
    one id, or several), map."""
    value: Any
    pattern: str | None = None
    options: tuple[str, ...] = ()
    """``map``: the keys (notification types); ``select``: filled by the caller."""
    resource: str | None = None
    resource_params: tuple[str, ...] = ()
    """Other settings the resource listing depends on (``x-resource-params``: Meta pixels)."""
    required: bool = False


def settings_fields(schema: Mapping[str, Any], values: Mapping[str, Any]) -> list[FormField]:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    fields = []
    for name, spec in properties.items():
        kind = {"boolean": "checkbox", "integer": "number", "array": "list", "object": "map"}.get(
            spec.get("type"), "text"
        )
        resource = spec.get("x-resource")
        if kind == "text" and isinstance(resource, str):
            kind = "select"
        elif kind == "list" and isinstance(resource, str):
            kind = "multiselect"
        value = values.get(name, spec.get("default"))
        pattern = spec.get("pattern") or (spec.get("items") or {}).get("pattern")
        options = tuple((spec.get("properties") or {}).keys()) if kind == "map" else ()
        fields.append(
            FormField(
                name=name,
                label=str(spec.get("title") or name),
                kind=kind,
                value=value,
                pattern=pattern,
                options=options,
                resource=resource if isinstance(resource, str) else None,
                resource_params=tuple(str(p) for p in spec.get("x-resource-params") or ()),
                required=name in required,
            )
        )
    return fields


def settings_patch(
    fields: Iterable[FormField], form: Mapping[str, list[str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON merge patch a submitted settings form means, and per-field shape errors found
    before asking the store (a whole number that is not one). Empty inputs remove a setting."""
    patch: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for field in fields:
        raw = [v.strip() for v in form.get(field.name, [])]
        first = raw[0] if raw else ""
        match field.kind:
            case "checkbox":
                patch[field.name] = bool(raw) and first in ("on", "true", "1")
            case "number":
                if not first:
                    patch[field.name] = None
                elif re.fullmatch(r"-?\d{1,15}", first):
                    patch[field.name] = int(first)
                else:
                    problems[field.name] = "Enter a whole number."
            case "list" | "multiselect":
                # A multiple select sends one value per choice; its fallback textarea one per line.
                items = [line.strip() for value in raw for line in value.splitlines()]
                patch[field.name] = [item for item in items if item] or None
            case "map":
                mapping = {}
                for option in field.options:
                    value = (form.get(f"{field.name}.{option}") or [""])[0].strip()
                    if value:
                        mapping[option] = value
                patch[field.name] = mapping or None
            case _:
                patch[field.name] = first or None
    return patch, problems


def removal_notice(provider: Mapping[str, Any], auth_type: str | None) -> str | None:
    """The disconnect confirmation's line about the access at the provider: withdrawn by us,
    or where the brand removes it itself (the catalog's ``manual_removal``, or a typed key)."""
    modes = {mode.get("type"): mode for mode in provider.get("auth_modes") or []}
    mode = modes.get(auth_type) or next(iter(modes.values()), None)
    if mode is None:
        return None
    name = provider.get("name", "the provider")
    if mode.get("revocable"):
        return f"We also withdraw the platform's access at {name}."
    if mode.get("manual_removal"):
        return str(mode["manual_removal"])
    if mode.get("credential_fields"):
        return f"This deletes the key here only: to withdraw it, delete it at {name} too."
    return None
