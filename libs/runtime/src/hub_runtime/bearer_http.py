"""The bearer scheme as FastAPI sees it, shared by every service with a tenant API: one OpenAPI
security scheme and one wording for a request that carries no token. Verification itself is
``hub_runtime.bearer`` (no web framework there, so service layers may use it)."""

from __future__ import annotations

from fastapi.security import HTTPBearer

BEARER_SCHEME = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="The platform's HS256 JWT: claims sub, org (UUID), scope, exp.",
)
"""Use as ``Depends(BEARER_SCHEME)``; ``None`` when the header is missing (the service answers
with its own 401, worded with ``MISSING_TOKEN``)."""

MISSING_TOKEN = (
    "Send 'Authorization: Bearer <token>' with a token from the platform "
    "(development: make token ORG=<uuid>)."
)
