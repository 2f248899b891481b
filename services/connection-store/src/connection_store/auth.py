"""Who is calling: platform user tokens (``hub_runtime.bearer``) and hub service tokens
(``HUB_SERVICE_TOKEN_SECRET``, audience ``connection-store``) as principals with scopes; issuing
them for development (``make token``) and tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from hub_runtime.api_errors import InsufficientScopeError, UnauthenticatedError
from hub_runtime.bearer import ALGORITHM, LEEWAY_S, BearerClaims, TokenVerifier
from pydantic import SecretStr

from connection_store.errors import REALM

READ = "integrations:read"
WRITE = "integrations:write"
SCOPES = (READ, WRITE)
NOTIFICATION_CONTEXT = "notifications:context"
"""Read one organization's notification settings and Slack / Resend credential (ciphertext)."""
SEALED_CREDENTIAL = "integrations:sealed-credential"
"""Read one connection's credential as ciphertext (the gateway's resource listings)."""
CREDENTIALS_READ = "credentials:read"
"""Read a connection's credential in plaintext, fresh (issue 12), for the providers named in the
token's ``providers`` claim only."""
AUDIENCE = "connection-store"
"""The ``aud`` of service tokens."""
MAX_SERVICE_LIFETIME_S = 900


@dataclass(frozen=True)
class Principal(BearerClaims):
    """A platform user, for one organization."""

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise InsufficientScopeError(scope, realm=REALM)


def user_verifier(
    secret: SecretStr, audience: str | None = None, issuer: str | None = None
) -> TokenVerifier[Principal]:
    return TokenVerifier(secret, REALM, Principal, audience=audience, issuer=issuer)


@dataclass(frozen=True)
class ServicePrincipal:
    """A hub service (``sub``), for any organization."""

    service: str
    scopes: frozenset[str]
    providers: frozenset[str] = frozenset()
    """The ``providers`` claim: whose credentials a ``credentials:read`` token may read."""

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise InsufficientScopeError(scope, realm=REALM)

    def may_read(self, provider: str) -> bool:
        return provider in self.providers


def verify_service_token(token: str, secret: SecretStr) -> ServicePrincipal:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
    except jwt.InvalidTokenError:
        raise UnauthenticatedError(
            "This route is for hub services: send a service token signed with "
            "HUB_SERVICE_TOKEN_SECRET for audience 'connection-store'.",
            realm=REALM,
        ) from None
    subject, scope = claims.get("sub"), claims.get("scope", "")
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(subject, str) or not subject or not isinstance(scope, str):
        raise UnauthenticatedError(
            "The service token needs a 'sub' and a 'scope' string.", realm=REALM
        )
    if not isinstance(lifetime, int | float) or lifetime > MAX_SERVICE_LIFETIME_S:
        raise UnauthenticatedError(
            f"Service tokens live at most {MAX_SERVICE_LIFETIME_S} s.", realm=REALM
        )
    providers = claims.get("providers", [])
    if not isinstance(providers, list) or not all(isinstance(p, str) for p in providers):
        raise UnauthenticatedError(
            "The service token's 'providers' claim must be a list of provider ids.", realm=REALM
        )
    return ServicePrincipal(
        subject[:100], frozenset(scope.split()), frozenset(p.replace("-", "_") for p in providers)
    )


class ServiceTokens:
    """``verify_service_token`` with the verified tokens remembered until they expire: a service
    sends the same token for minutes, and checking an HS256 signature each time was a third of a
    credential read's CPU. The cache key is the whole token, so only those exact bytes, already
    verified, skip the check."""

    def __init__(
        self,
        secret: SecretStr,
        *,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.max_entries = max_entries
        self.clock = clock
        self._verified: dict[str, tuple[ServicePrincipal, float]] = {}

    def verify(self, token: str) -> ServicePrincipal:
        known = self._verified.get(token)
        if known is not None and self.clock() < known[1]:
            return known[0]
        principal = verify_service_token(token, self.secret)
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        if len(self._verified) >= self.max_entries:
            self._verified.clear()
        self._verified[token] = (principal, float(expires))
        return principal


def issue_token(
    secret: SecretStr,
    organization_id: uuid.UUID,
    *,
    scopes: tuple[str, ...] | list[str] = SCOPES,
    subject: str = "dev-admin",
    lifetime: timedelta = timedelta(hours=12),
    audience: str | None = None,
    issuer: str | None = None,
    now: datetime | None = None,
) -> str:
    """A user token as the platform's issuer would make it (development and tests)."""
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "org": str(organization_id),
        "scope": " ".join(scopes),
        "iat": issued,
        "exp": issued + lifetime,
    }
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return jwt.encode(claims, secret.get_secret_value(), algorithm=ALGORITHM)


def issue_service_token(
    secret: SecretStr,
    service: str,
    scopes: tuple[str, ...] = (NOTIFICATION_CONTEXT,),
    *,
    providers: tuple[str, ...] | list[str] | None = None,
    lifetime: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> str:
    """A service token as a hub service mints it (tests, ``make token SERVICE=...``; each
    service mints its own). ``providers`` is the claim a ``credentials:read`` token needs."""
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": service,
        "service": service,
        "aud": AUDIENCE,
        "scope": " ".join(scopes),
        "iat": issued,
        "exp": issued + lifetime,
    }
    if providers is not None:
        claims["providers"] = list(providers)
    return jwt.encode(claims, secret.get_secret_value(), algorithm=ALGORITHM)
