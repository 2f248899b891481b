"""Who is calling: the platform's bearer JWT, verified as connection-store verifies it.

HS256 with ``PLATFORM_JWT_SECRET`` (a secret of its own). Claims: ``sub``, ``org`` (the only
source of the tenant), ``scope`` (space-separated), ``exp`` (required); ``aud`` and ``iss`` when
configured. Connecting changes an organization's integrations, so it needs
``integrations:write``. The path's organization must be the token's, else 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import SecretStr

from oauth_gateway.errors import InsufficientScopeError, NotFoundError, UnauthenticatedError

WRITE = "integrations:write"
ALGORITHM = "HS256"
LEEWAY_S = 30


@dataclass(frozen=True)
class Principal:
    subject: str
    organization_id: uuid.UUID
    scopes: frozenset[str]

    def tenant(self, organization: str, scope: str = WRITE) -> uuid.UUID:
        """The organization to act for: the path's, which must be the token's."""
        try:
            same = uuid.UUID(organization) == self.organization_id
        except ValueError:
            same = False
        if not same:
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
        except jwt.InvalidSignatureError:
            raise UnauthenticatedError(
                "The bearer token is not valid: its signature does not match."
            ) from None
        except jwt.DecodeError:
            raise UnauthenticatedError(
                "The bearer token is not valid: it is not a well-formed JWT."
            ) from None
        except jwt.InvalidTokenError as error:
            reason = str(error).rstrip(".") or type(error).__name__
            raise UnauthenticatedError(f"The bearer token is not valid: {reason}.") from None
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    subject, org, scope = claims.get("sub"), claims.get("org"), claims.get("scope", "")
    if not isinstance(subject, str) or not subject:
        raise UnauthenticatedError("The bearer token's 'sub' claim must be a non-empty string.")
    try:
        organization = uuid.UUID(org) if isinstance(org, str) else None
    except ValueError:
        organization = None
    if organization is None:
        raise UnauthenticatedError("The bearer token's 'org' claim must be an organization UUID.")
    if not isinstance(scope, str):
        raise UnauthenticatedError("The bearer token's 'scope' claim must be a string.")
    return Principal(subject, organization, frozenset(scope.split()))
