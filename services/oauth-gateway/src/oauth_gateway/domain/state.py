"""Signed state, the browser binding and PKCE verifiers (SECURITY.md 1-5, 13).

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
from datetime import UTC, datetime
from typing import Literal

from hub_catalog import WHERE
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from oauth_gateway.errors import StateRefusedError

STATE_VERSION = "oauth-state.v1."
MAX_STATE_CHARS = 1024
VERIFIER_BYTES = 48
"""``secrets.token_urlsafe(48)``: 64 characters, above RFC 7636's minimum of 43."""
BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")


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
