"""Who is calling: the platform's bearer JWT, verified as connection-store verifies it.

HS256 with ``PLATFORM_JWT_SECRET`` (a secret of its own). Claims: ``sub``, ``org`` (the only
source of the tenant), ``scope`` (space-separated), ``exp`` (required); ``aud`` and ``iss`` when
configured. Connecting changes an organization's integrations, so it needs
``integrations:write``. The path's organization must be the token's, else 404. The verification
itself is ``hub_runtime.bearer``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hub_runtime.bearer import BearerClaims, BearerTokenError, decode_bearer
from pydantic import SecretStr

from oauth_gateway.errors import InsufficientScopeError, NotFoundError, UnauthenticatedError

WRITE = "integrations:write"


@dataclass(frozen=True)
class Principal(BearerClaims):
    def tenant(self, organization: str, scope: str = WRITE) -> uuid.UUID:
        """The organization to act for: the path's, which must be the token's."""
        if not self.owns(organization):
            raise NotFoundError(
                "Nothing here: the organization in the path is not the one your token is for."
            )
        if scope not in self.scopes:
            raise InsufficientScopeError(scope)
        return self.organization_id


@dataclass(frozen=True)
class TokenVerifier:
    secret: SecretStr
    audience: str | None = None
    issuer: str | None = None

    def verify(self, token: str) -> Principal:
        try:
            claims = decode_bearer(
                token,
                self.secret,
                audience=self.audience,
                issuer=self.issuer,
                scope_claim="a string",
            )
        except BearerTokenError as error:
            raise UnauthenticatedError(error.message) from None
        return Principal(claims.subject, claims.organization_id, claims.scopes)
