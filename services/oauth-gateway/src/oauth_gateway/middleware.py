"""ASGI middleware in front of every route: security headers on every answer (the body-size cap
is ``hub_runtime.body_limit``; ``too_large`` is its answer).

Plain ASGI (no ``BaseHTTPMiddleware``), so streaming and the server span are untouched.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oauth_gateway import errors

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
"""On every answer: starts and callbacks carry states and codes (SECURITY.md 8)."""


def render(error: errors.GatewayError) -> JSONResponse:
    """The JSON answer of an error: ``{"error": {"code", "message"[, "field"]}}``."""
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)


def too_large(limit: int) -> JSONResponse:
    """The answer of ``hub_runtime.body_limit.BodyLimit`` to a body over ``limit`` bytes."""
    return render(errors.BodyTooLargeError(limit))


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every answer, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                    if name.lower().encode() not in names
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
