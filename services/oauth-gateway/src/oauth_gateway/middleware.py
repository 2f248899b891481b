"""ASGI middleware in front of every route: security headers on every answer, a body-size cap.

Plain ASGI (no ``BaseHTTPMiddleware``), so streaming and the server span are untouched.
"""

from __future__ import annotations

import contextlib

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


class _TooLargeError(Exception):
    pass


class BodyLimit:
    """Refuses a body over ``max_body_bytes`` (declared or streamed) with a 413."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
        received = 0
        exceeded = False
        started = False

        async def counting() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise _TooLargeError
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app answers to the cut body, the answer is 413
                return
            started = True
            await send(message)

        with contextlib.suppress(_TooLargeError):
            await self.app(scope, counting, guarded)
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = render(errors.BodyTooLargeError(self.limit))
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [*response.raw_headers, (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": response.body})
