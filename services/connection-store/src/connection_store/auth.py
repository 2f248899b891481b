"""Who is calling: the platform's bearer JWT, verified, as a ``Principal``.

Tokens are HS256, signed with ``jwt_secret`` (a secret of its own, never the state-signing or
credential key). Claims: ``sub`` (who), ``org`` (the organization UUID: the only source of the
tenant), ``scope`` (space-separated), ``exp`` (required); ``aud`` and ``iss`` are checked when the
settings name them. Scopes:

- ``integrations:read``: the catalog, the integrations hub, one integration, the flags;
- ``integrations:write``: settings, sync now, disconnect, changing flags.

Write does not imply read; a development token (``make token``) carries both.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pydantic import SecretStr

from connection_store.errors import InsufficientScopeError, UnauthenticatedError

READ = "integrations:read"
WRITE = "integrations:write"
SCOPES = (READ, WRITE)
ALGORITHM = "HS256"
LEEWAY_S = 30
"""Clock skew tolerated on ``exp`` / ``nbf`` / ``iat``."""


@dataclass(frozen=True)
class Principal:
    subject: str
    organization_id: uuid.UUID
    scopes: frozenset[str]

    def owns(self, organization: str) -> bool:
        """Whether the path's organization is this principal's (any other text is not)."""
        try:
            return uuid.UUID(organization) == self.organization_id
        except ValueError:
            return False

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise InsufficientScopeError(scope)


@dataclass(frozen=True)
class TokenVerifier:
    secret: SecretStr
    audience: str | None = None
    issuer: str | None = None

    def verify(self, token: str) -> Principal:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret.get_secret_value(),
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={
                    "require": ["exp", "sub", "org"],
                    "verify_aud": self.audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise UnauthenticatedError("The bearer token has expired; get a new one.") from None
        except jwt.InvalidTokenError as error:
            raise UnauthenticatedError(
                f"The bearer token is not valid: {_reason(error)}."
            ) from None
        return _principal(claims)


def _reason(error: jwt.InvalidTokenError) -> str:
    """pyjwt's reason, which names a claim or the check that failed, never the token itself."""
    if isinstance(error, jwt.InvalidSignatureError):
        return "its signature does not match"
    if isinstance(error, jwt.DecodeError):
        return "it is not a well-formed JWT"
    return str(error).rstrip(".") or type(error).__name__


def _principal(claims: dict[str, Any]) -> Principal:
    subject, org, scope = claims.get("sub"), claims.get("org"), claims.get("scope", "")
    if not isinstance(subject, str) or not subject:
        raise UnauthenticatedError("The bearer token's 'sub' claim must be a non-empty string.")
    try:
        organization = uuid.UUID(str(org)) if isinstance(org, str) else None
    except ValueError:
        organization = None
    if organization is None:
        raise UnauthenticatedError("The bearer token's 'org' claim must be an organization UUID.")
    if not isinstance(scope, str):
        raise UnauthenticatedError(
            "The bearer token's 'scope' claim must be a space-separated string."
        )
    return Principal(subject, organization, frozenset(scope.split()))


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
    """A token as the platform's issuer would make it (development and tests)."""
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
