"""The platform's bearer JWT, verified: HS256 with a secret of the service's own.

Claims: ``sub`` (who), ``org`` (the organization UUID: the only source of the tenant), ``scope``
(space-separated), ``exp`` (required); ``aud`` and ``iss`` are checked when configured. A refusal
is a ``BearerTokenError`` whose message names the claim or check that failed, never the token;
``TokenVerifier`` turns it into the service's 401 (``UnauthenticatedError`` with its realm).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import jwt
from pydantic import SecretStr

from hub_runtime.api_errors import UnauthenticatedError

ALGORITHM = "HS256"
LEEWAY_S = 30
"""Clock skew tolerated on ``exp`` / ``nbf`` / ``iat``."""


class BearerTokenError(Exception):
    """The token is missing a claim, expired, forged or malformed; ``message`` says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class BearerClaims:
    subject: str
    organization_id: uuid.UUID
    scopes: frozenset[str]

    def owns(self, organization: str) -> bool:
        """Whether the path's organization is this token's (any other text is not)."""
        try:
            return uuid.UUID(organization) == self.organization_id
        except ValueError:
            return False


def decode_bearer(
    token: str,
    secret: SecretStr,
    *,
    audience: str | None = None,
    issuer: str | None = None,
    scope_claim: str = "a space-separated string",
) -> BearerClaims:
    """The token's claims, or ``BearerTokenError``; ``scope_claim`` words what ``scope`` must be."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "sub", "org"], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise BearerTokenError("The bearer token has expired; get a new one.") from None
    except jwt.InvalidTokenError as error:
        raise BearerTokenError(f"The bearer token is not valid: {_reason(error)}.") from None
    subject, org, scope = claims.get("sub"), claims.get("org"), claims.get("scope", "")
    if not isinstance(subject, str) or not subject:
        raise BearerTokenError("The bearer token's 'sub' claim must be a non-empty string.")
    try:
        organization = uuid.UUID(org) if isinstance(org, str) else None
    except ValueError:
        organization = None
    if organization is None:
        raise BearerTokenError("The bearer token's 'org' claim must be an organization UUID.")
    if not isinstance(scope, str):
        raise BearerTokenError(f"The bearer token's 'scope' claim must be {scope_claim}.")
    return BearerClaims(subject, organization, frozenset(scope.split()))


P = TypeVar("P", bound=BearerClaims)


@dataclass(frozen=True)
class TokenVerifier(Generic[P]):
    """Verifies a service's bearer tokens and hands back its ``principal`` type."""

    secret: SecretStr
    realm: str
    principal: type[P]
    audience: str | None = None
    issuer: str | None = None
    scope_claim: str = "a space-separated string"

    def verify(self, token: str) -> P:
        try:
            claims = decode_bearer(
                token,
                self.secret,
                audience=self.audience,
                issuer=self.issuer,
                scope_claim=self.scope_claim,
            )
        except BearerTokenError as error:
            raise UnauthenticatedError(error.message, realm=self.realm) from None
        return self.principal(claims.subject, claims.organization_id, claims.scopes)


def _reason(error: jwt.InvalidTokenError) -> str:
    """pyjwt's reason, which names a claim or the check that failed, never the token itself."""
    if isinstance(error, jwt.InvalidSignatureError):
        return "its signature does not match"
    if isinstance(error, jwt.DecodeError):
        return "it is not a well-formed JWT"
    return str(error).rstrip(".") or type(error).__name__
