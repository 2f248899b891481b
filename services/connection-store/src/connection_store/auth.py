"""Who is calling: the platform's bearer JWT, verified, as a ``Principal``.

Tokens are HS256, signed with ``jwt_secret`` (a secret of its own, never the state-signing or
credential key). Claims: ``sub`` (who), ``org`` (the organization UUID: the only source of the
tenant), ``scope`` (space-separated), ``exp`` (required); ``aud`` and ``iss`` are checked when the
settings name them. Scopes:

- ``integrations:read``: the catalog, the integrations hub, one integration, the flags;
- ``integrations:write``: settings, sync now, disconnect, changing flags.

Write does not imply read; a development token (``make token``) carries both. The verification
itself is ``hub_runtime.bearer``, shared with oauth-gateway.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from hub_runtime.bearer import ALGORITHM, BearerClaims, BearerTokenError, decode_bearer
from pydantic import SecretStr

from connection_store.errors import InsufficientScopeError, UnauthenticatedError

READ = "integrations:read"
WRITE = "integrations:write"
SCOPES = (READ, WRITE)


@dataclass(frozen=True)
class Principal(BearerClaims):
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
            claims = decode_bearer(token, self.secret, audience=self.audience, issuer=self.issuer)
        except BearerTokenError as error:
            raise UnauthenticatedError(error.message) from None
        return Principal(claims.subject, claims.organization_id, claims.scopes)


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
