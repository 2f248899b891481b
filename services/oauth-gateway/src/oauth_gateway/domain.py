"""The rules of a connect, with no I/O: signed state, browser binding, PKCE verifiers, return
URLs, tenant parameters, the Shopify callback signature, and the words for every outcome.

State (SECURITY.md 1-4)::

    state = base64url(claims JSON) "." base64url(HMAC-SHA256(state key, "oauth-state.v1." claims))

The claims name the flow (the server-side record holding the PKCE verifier and ``return_to``),
the organization, the provider, a nonce, the expiry and the browser binding (an HMAC of the
HttpOnly cookie set by ``start``). Signatures and bindings are compared with
``hmac.compare_digest``. The state key and the binding key are derived from one secret under
different labels, so neither value can stand in for the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from hub_catalog import AuthMode, AuthType, CredentialField, Provider, Scope
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from oauth_gateway.errors import (
    WHERE,
    ConnectRefusedError,
    GatewayError,
    InvalidRequestError,
    NotConfiguredError,
    NotFoundError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
    StateRefusedError,
    WrongAuthTypeError,
)

STATE_VERSION = "oauth-state.v1."
MAX_STATE_CHARS = 1024
MAX_URL_CHARS = 2048
VERIFIER_BYTES = 48
"""``secrets.token_urlsafe(48)``: 64 characters, above RFC 7636's minimum of 43."""
BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


# --- providers -----------------------------------------------------------------------------


def resolve_provider(providers: Iterable[Provider], slug: str) -> Provider:
    """The tenant-level provider named by ``slug`` (``meta_ads`` or ``meta-ads``)."""
    wanted = slug.replace("-", "_")
    for provider in providers:
        if provider.id == wanted:
            if provider.scope == Scope.PLATFORM:
                raise NotFoundError(
                    f"{provider.name} is configured once for the whole platform by its operator, "
                    "not per organization, so there is nothing to connect here.",
                    code="platform_provider",
                    field="provider",
                )
            return provider
    raise NotFoundError(
        f"There is no provider {slug[:64]!r}; the catalog lists the known ones.",
        code="unknown_provider",
        field="provider",
    )


def oauth_mode(provider: Provider) -> AuthMode:
    if not provider.has_mode(AuthType.OAUTH2_AUTHORIZATION_CODE):
        raise WrongAuthTypeError(
            f"{provider.name} does not connect with OAuth; send its credentials to "
            f"POST .../integrations/{provider.id}/credentials instead.",
            field="provider",
        )
    return provider.mode(AuthType.OAUTH2_AUTHORIZATION_CODE)


def key_mode(provider: Provider, auth_type: str | None = None) -> AuthMode:
    """The mode an admin connects by typing values: the one named, or the first with fields."""
    typed = [mode for mode in provider.auth_modes if mode.fields]
    if auth_type is not None:
        typed = [mode for mode in typed if mode.type.value == auth_type]
    if not typed:
        how = "with OAuth: start it at POST .../oauth/start" if not auth_type else "that way"
        raise WrongAuthTypeError(
            f"{provider.name} does not connect {how}.", field="auth_type" if auth_type else None
        )
    return typed[0]


def label_phrase(fields: Sequence[CredentialField]) -> str:
    """``"private API key"``, ``"token ID and token secret"``: what the provider judged."""
    secret = [f for f in fields if f.secret] or list(fields)

    def lower(label: str) -> str:
        return label[0].lower() + label[1:] if len(label) > 1 and label[1].islower() else label

    names = [lower(f.label) for f in secret]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_fields(mode: AuthMode, submitted: Mapping[str, SecretStr]) -> dict[str, SecretStr]:
    """Every field of ``mode``, each of its catalog shape; never echoes a value."""
    known = {f.name: f for f in mode.fields}
    for name in submitted:
        if name not in known:
            raise InvalidRequestError(
                f"{name[:64]!r} is not a credential field here; the fields are {', '.join(known)}.",
                code="unknown_field",
                field=f"fields.{name[:64]}",
            )
    checked: dict[str, SecretStr] = {}
    for name, field in known.items():
        value = submitted.get(name)
        if value is None or not value.get_secret_value():
            raise InvalidRequestError(
                f"{field.label} is required.", code="missing_field", field=f"fields.{name}"
            )
        if not field.accepts(value.get_secret_value()):
            hint = f" ({field.help})" if field.help and not field.secret else ""
            raise InvalidRequestError(
                f"This does not look like a {field.label}{hint}: check that you copied all of "
                "it, without spaces or line breaks.",
                code="invalid_field",
                field=f"fields.{name}",
            )
        checked[name] = value
    return checked


def tenant_values(provider: Provider, given: Mapping[str, str]) -> dict[str, str]:
    """Template values of the provider's tenant parameters, from what the admin typed.

    For ``{shop}.myshopify.com`` the admin gives ``acme.myshopify.com`` (or ``acme``) and the
    value is ``acme``: exactly one DNS label, so nothing can leave the allow-listed domain.
    """
    unexpected = sorted(set(given) - set(provider.tenant_params))
    if unexpected:
        raise InvalidRequestError(
            f"{provider.name} takes no {unexpected[0]!r}.",
            code="invalid_tenant_param",
            field=unexpected[0],
        )
    values: dict[str, str] = {}
    for param in provider.tenant_params:
        raw = given.get(param)
        if raw is None:
            raise InvalidRequestError(
                f"{provider.name} needs {param!r} (e.g. your-store.myshopify.com).",
                code="invalid_tenant_param",
                field=param,
            )
        values[param] = _tenant_label(provider, param, raw)
    return values


def _tenant_label(provider: Provider, param: str, raw: str) -> str:
    candidate = raw.strip().lower().rstrip(".")
    if re.fullmatch(_LABEL, candidate):
        return candidate
    for entry in provider.allowed_hosts:
        parts = _PLACEHOLDER.split(entry)
        if len(parts) != 3 or parts[1] != param:
            continue
        pattern = re.escape(parts[0]) + f"({_LABEL})" + re.escape(parts[2])
        match = re.fullmatch(pattern, candidate)
        if match:
            return match.group(1)
    examples = [_PLACEHOLDER.sub("your-store", e) for e in provider.allowed_hosts if "{" in e]
    raise InvalidRequestError(
        f"{param!r} must be a {provider.name} domain like {' or '.join(examples) or 'the doc'}.",
        code="invalid_tenant_param",
        field=param,
    )


def tenant_host(provider: Provider, param: str, value: str) -> str | None:
    """The allow-listed host a tenant value stands for (``acme`` → ``acme.myshopify.com``)."""
    for entry in provider.allowed_hosts:
        if f"{{{param}}}" in entry:
            return entry.replace(f"{{{param}}}", value)
    return None


# --- state and browser binding ----------------------------------------------------------------


class StateClaims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    v: Literal[1] = 1
    flow: uuid.UUID
    org: uuid.UUID
    provider: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")
    exp: int = Field(ge=0)
    browser: str = Field(pattern=r"^[A-Za-z0-9_-]{43}$")

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StateCodec:
    """Signs and verifies ``state``; binds flows to browsers. One secret, two derived keys."""

    def __init__(self, secret: SecretStr) -> None:
        root = secret.get_secret_value().encode()
        self._state_key = hmac.new(root, b"oauth-gateway state v1", hashlib.sha256).digest()
        self._browser_key = hmac.new(root, b"oauth-gateway browser v1", hashlib.sha256).digest()

    def _signature(self, payload: str) -> bytes:
        return hmac.new(
            self._state_key, (STATE_VERSION + payload).encode(), hashlib.sha256
        ).digest()

    def sign(self, claims: StateClaims) -> str:
        payload = _b64(claims.model_dump_json().encode())
        return f"{payload}.{_b64(self._signature(payload))}"

    def verify(self, state: str) -> StateClaims:
        """The claims of a state we signed; ``StateRefusedError`` for anything else."""
        refused = StateRefusedError(
            "This sign-in link is not one we issued, or it was altered. Start connecting again "
            f"from {WHERE}.",
            code="invalid_state",
        )
        if len(state) > MAX_STATE_CHARS or state.count(".") != 1:
            raise refused
        payload, signature = state.split(".")
        try:
            given = _unb64(signature)
        except (ValueError, binascii.Error):
            raise refused from None
        if not hmac.compare_digest(given, self._signature(payload)):
            raise refused
        try:
            return StateClaims.model_validate(json.loads(_unb64(payload)))
        except (ValueError, binascii.Error, ValidationError):
            raise refused from None

    def browser_binding(self, browser_id: str) -> str:
        digest = hmac.new(self._browser_key, browser_id.encode(), hashlib.sha256).digest()
        return _b64(digest)

    def same_browser(self, binding: str, browser_id: str | None) -> bool:
        if browser_id is None or not BROWSER_ID.fullmatch(browser_id):
            return False
        return hmac.compare_digest(binding.encode(), self.browser_binding(browser_id).encode())


def new_browser_id() -> str:
    return secrets.token_urlsafe(32)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def new_code_verifier() -> str:
    """A fresh PKCE verifier (RFC 7636: 43-128 unreserved characters)."""
    return secrets.token_urlsafe(VERIFIER_BYTES)


def pkce_s256(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))``, the S256 code challenge."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


# --- return URLs ------------------------------------------------------------------------------


class ReturnUrls:
    """``return_to`` checked against an allow-list of origins, compared exactly (SECURITY.md 7)."""

    def __init__(self, origins: Iterable[str], default: str) -> None:
        self.origins = frozenset(origins)
        self.default = self.check(default)

    def check(self, candidate: str) -> str:
        refused = InvalidRequestError(
            "return_to must be an absolute http(s) URL on one of the allowed origins "
            f"({', '.join(sorted(self.origins))}).",
            code="invalid_return_to",
            field="return_to",
        )
        if (
            not candidate
            or len(candidate) > MAX_URL_CHARS
            or "\\" in candidate
            or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in candidate)
        ):
            raise refused
        try:
            parts = urlsplit(candidate)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            raise refused from None
        origin = f"{parts.scheme}://{parts.netloc}"
        if (
            parts.scheme not in ("http", "https")
            or "@" in parts.netloc
            or not candidate.startswith(origin)
            or origin not in self.origins
        ):
            raise refused
        return candidate

    @staticmethod
    def with_result(url: str, params: Mapping[str, str]) -> str:
        """``url`` with the outcome appended to its query (before any fragment)."""
        parts = urlsplit(url)
        query = "&".join(q for q in (parts.query, urlencode(params)) if q)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


# --- provider answers -------------------------------------------------------------------------


def shopify_callback_signed(params: Mapping[str, str], client_secret: str) -> bool:
    """Shopify's callback signature: hex HMAC-SHA256 of the sorted ``key=value`` pairs (without
    ``hmac`` and ``signature``) under the app's client secret (hook ``shopify_shop_domain``)."""
    given = params.get("hmac", "")
    message = "&".join(
        f"{key}={value}"
        for key, value in sorted(params.items())
        if key not in ("hmac", "signature")
    )
    expected = hmac.new(client_secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.encode(), expected.encode())


def provider_error_code(value: str) -> str:
    """A provider's ``error=`` value, safe to repeat in a message (letters, digits, _ . -)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "", value)[:64]
    return cleaned or "unknown"


FailureKind = Literal["refused", "rate_limited", "unavailable", "unsafe"]


class ProviderCallError(Exception):
    """What went wrong calling a provider, before it is put in words for a context."""

    def __init__(
        self,
        kind: FailureKind,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"provider call {kind}")
        self.kind = kind
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s


def explain(
    failure: ProviderCallError,
    provider: Provider,
    *,
    refused_code: str,
    refused_message: str,
) -> GatewayError:
    """The gateway error for a provider failure; ``refused_*`` say what a refusal means here."""
    provider_status, provider_error = failure.status, failure.code
    name = provider.name
    if failure.kind == "refused":
        return ConnectRefusedError(
            refused_message,
            code=refused_code,
            provider=provider.id,
            provider_status=provider_status,
            provider_error=provider_error,
        )
    if failure.kind == "rate_limited":
        return ProviderRateLimitedError(
            f"{name} is limiting requests right now; try again in a few minutes.",
            retry_after_s=failure.retry_after_s,
            provider=provider.id,
            provider_status=provider_status,
            provider_error=provider_error,
        )
    if failure.kind == "unavailable":
        return ProviderUnavailableError(
            f"{name} is not answering right now; try again in a few minutes.",
            provider=provider.id,
            provider_status=provider_status,
            provider_error=provider_error,
        )
    return NotConfiguredError(
        f"The {name} integration is misconfigured on our side (a provider address was refused); "
        "contact support.",
        code="misconfigured",
        provider=provider.id,
    )


def status_suffix(failure: ProviderCallError) -> str:
    parts = [f"HTTP {failure.status}" if failure.status else None, failure.code]
    shown = ", ".join(p for p in parts if p)
    return f" ({shown})" if shown else ""
