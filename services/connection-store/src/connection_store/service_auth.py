"""Service-to-service authentication for the store's internal routes.

Other hub services (the notifier) call ``/internal/...`` with ``Authorization: Bearer <JWT>``:
HS256 signed with ``HUB_SERVICE_TOKEN_SECRET`` (a secret of its own, never the platform's user
JWT secret, the state-signing key or a credential key: SECURITY.md 13), audience
``connection-store``, claims ``sub`` (the calling service), ``scope`` and ``exp`` (at most
``MAX_LIFETIME_S`` after ``iat``). A platform user token never passes: another secret signs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pydantic import SecretStr

from connection_store.errors import InsufficientScopeError, UnauthenticatedError

AUDIENCE = "connection-store"
NOTIFICATION_CONTEXT = "notifications:context"
"""Read one organization's notification settings and Slack / Resend credential (ciphertext)."""
MAX_LIFETIME_S = 900
LEEWAY_S = 30


@dataclass(frozen=True)
class ServicePrincipal:
    service: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise InsufficientScopeError(scope)


def verify_service_token(token: str, secret: SecretStr) -> ServicePrincipal:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret.get_secret_value(),
            algorithms=["HS256"],
            audience=AUDIENCE,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
    except jwt.InvalidTokenError:
        raise UnauthenticatedError(
            "This route is for hub services: send a service token signed with "
            "HUB_SERVICE_TOKEN_SECRET for audience 'connection-store'."
        ) from None
    subject, scope = claims.get("sub"), claims.get("scope", "")
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(subject, str) or not subject or not isinstance(scope, str):
        raise UnauthenticatedError("The service token needs a 'sub' and a 'scope' string.")
    if not isinstance(lifetime, int | float) or lifetime > MAX_LIFETIME_S:
        raise UnauthenticatedError(f"Service tokens live at most {MAX_LIFETIME_S} s.")
    return ServicePrincipal(subject, frozenset(scope.split()))


def issue_service_token(
    secret: SecretStr,
    service: str,
    scopes: tuple[str, ...] = (NOTIFICATION_CONTEXT,),
    *,
    lifetime: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> str:
    """A service token as a hub service mints it (tests; each service mints its own)."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": service,
        "aud": AUDIENCE,
        "scope": " ".join(scopes),
        "iat": issued,
        "exp": issued + lifetime,
    }
    return jwt.encode(claims, secret.get_secret_value(), algorithm="HS256")
