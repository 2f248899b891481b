"""What the sandbox remembers: codes, tokens, faults, call counts. In memory, per app."""

from __future__ import annotations

import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CODE_LIFETIME_S = 600

TokenKind = Literal["access", "refresh"]


class FaultMode(StrEnum):
    OK = "ok"
    REVOKED = "revoked"
    """Every token is refused as revoked; refresh and re-exchange answer ``invalid_grant``."""
    INVALID_GRANT = "invalid_grant"
    """The token endpoint answers ``invalid_grant`` to every grant."""
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    SLOW = "slow"
    ACCESS_DENIED = "access_denied"
    """The authorize page sends the user back with ``error=access_denied``."""


class Fault(BaseModel):
    """A fault switched on through the control API (also its request body)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: FaultMode
    retry_after: int | None = Field(default=None, ge=0)
    delay: float = Field(default=2.0, ge=0, le=60)
    credential: str | None = None
    """Only calls that present this credential (token, refresh token, API key) are hit."""


NO_FAULT = Fault(mode=FaultMode.OK)


@dataclass
class Grant:
    """One authorization (a code exchange or a mint) and every token issued from it."""

    provider: str
    tenant: Mapping[str, str]
    """Tenant parameters bound by the host the grant was made at (Shopify ``shop``)."""
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass
class Token:
    value: str
    kind: TokenKind
    grant: Grant
    expires_at: float | None
    revoked: bool = False
    """Revoked alone: a rotated-out refresh token."""

    def usable(self, provider: str, tenant: Mapping[str, str]) -> bool:
        """Issued by ``provider`` for this tenant, not revoked, not expired."""
        return (
            self.grant.provider == provider
            and not (self.revoked or self.grant.revoked)
            and (self.expires_at is None or time.time() < self.expires_at)
            and all(tenant.get(name) == value for name, value in self.grant.tenant.items())
        )


@dataclass
class Code:
    value: str
    provider: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    scopes: tuple[str, ...]
    tenant: Mapping[str, str]
    expires_at: float
    presented: bool = False
    grant: Grant | None = None
    """What the exchange issued: revoked if the code is presented again."""


@dataclass(frozen=True)
class ActionCall:
    """An action the sandbox carried out (a message posted, an email sent), as a test sees it.
    The body is the caller's JSON; credentials travel in headers and are not kept."""

    action: str
    body: Any
    result_id: str
    idempotency_key: str | None
    at: float


@dataclass(frozen=True)
class IdempotentAnswer:
    fingerprint: str
    """Of the request body: the same key with another body is refused."""
    status: int
    body: Any


@dataclass
class Store:
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    revoked_values: set[tuple[str, str]] = field(default_factory=set)
    """API keys revoked through the control API, as (provider, value)."""
    faults: dict[str, Fault] = field(default_factory=dict)
    credential_faults: dict[tuple[str, str], Fault] = field(default_factory=dict)
    next_values: defaultdict[tuple[str, TokenKind], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    calls: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    actions: defaultdict[str, list[ActionCall]] = field(default_factory=lambda: defaultdict(list))
    """What each provider's actions did, in order (a repeated idempotent request adds nothing)."""
    idempotent: dict[tuple[str, str, str], IdempotentAnswer] = field(default_factory=dict)
    lifetimes: dict[str, int] = field(default_factory=dict)
    """Access-token lifetimes set through the control API, by provider: what a provider issues
    when it departs from its documented lifetime (60 s against a 600 s refresh lead)."""
    latency_ms: int = 0
    """Added before every provider answer (``SANDBOX_LATENCY_MS``, ``POST /_sandbox/latency``);
    a reset keeps it."""
    platform: dict[tuple[str, str], str] = field(default_factory=dict)
    """Platform credential values set through the control API, as (provider, name) → value;
    any other name keeps its ``sandbox-{provider}-{name}`` value."""

    def reset(self) -> None:
        for container in (
            self.codes,
            self.tokens,
            self.revoked_values,
            self.faults,
            self.credential_faults,
            self.next_values,
            self.calls,
            self.actions,
            self.idempotent,
            self.platform,
            self.lifetimes,
        ):
            container.clear()

    def count(self, provider: str, endpoint: str) -> None:
        self.calls[provider][endpoint] += 1

    def set_fault(self, provider: str, fault: Fault) -> None:
        clear = fault.mode == FaultMode.OK
        if fault.credential is None:
            if clear:
                self.faults.pop(provider, None)
            else:
                self.faults[provider] = fault
        elif clear:
            self.credential_faults.pop((provider, fault.credential), None)
        else:
            self.credential_faults[(provider, fault.credential)] = fault

    def fault(self, provider: str) -> Fault:
        return self.faults.get(provider, NO_FAULT)

    def credential_fault(self, provider: str, credentials: Iterable[str]) -> Fault | None:
        for value in credentials:
            found = self.credential_faults.get((provider, value))
            if found is not None:
                return found
        return None

    def issue_code(
        self,
        provider: str,
        *,
        client_id: str,
        redirect_uri: str,
        code_challenge: str | None,
        scopes: tuple[str, ...],
        tenant: Mapping[str, str],
    ) -> Code:
        code = Code(
            value=_unique(provider, "code"),
            provider=provider,
            client_id=client_id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            scopes=scopes,
            tenant=dict(tenant),
            expires_at=time.time() + CODE_LIFETIME_S,
        )
        self.codes[code.value] = code
        return code

    def issue(self, grant: Grant, kind: TokenKind, lifetime_s: int | None) -> Token:
        chosen = self.next_values[(grant.provider, kind)]
        value = chosen.pop(0) if chosen else _unique(grant.provider, _ABBREVIATION[kind])
        expires_at = None if lifetime_s is None else time.time() + lifetime_s
        token = Token(value=value, kind=kind, grant=grant, expires_at=expires_at)
        self.tokens[value] = token
        return token

    def token(self, provider: str, value: str | None, kind: TokenKind) -> Token | None:
        token = self.tokens.get(value or "")
        if token is None or token.kind != kind or token.grant.provider != provider:
            return None
        return token

    def revoke_token(self, provider: str, value: str) -> bool:
        """Revoke an issued token and everything of its grant; False if it is not one."""
        token = self.tokens.get(value)
        if token is None or token.grant.provider != provider:
            return False
        token.grant.revoked = True
        return True

    def revoke_key(self, provider: str, value: str) -> None:
        """Refuse a typed value (API key, secret) from now on."""
        self.revoked_values.add((provider, value))

    def choose_next(self, provider: str, kind: TokenKind, value: str) -> None:
        self.next_values[(provider, kind)].append(value)

    def record_action(self, provider: str, call: ActionCall) -> None:
        self.actions[provider].append(call)

    def result_id(self, provider: str, action: str) -> str:
        """A unique, recognisable id of what an action created."""
        return (
            f"sbx-{provider}-{action}-{len(self.actions[provider]) + 1:06d}-{secrets.token_hex(3)}"
        )

    def tokens_of(self, provider: str) -> list[Token]:
        return [token for token in self.tokens.values() if token.grant.provider == provider]


_ABBREVIATION: dict[TokenKind, str] = {"access": "at", "refresh": "rt"}


def _unique(provider: str, kind: str) -> str:
    return f"sbx-{provider}-{kind}-{secrets.token_urlsafe(18)}"
