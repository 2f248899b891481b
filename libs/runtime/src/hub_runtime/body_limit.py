"""Request-body size limit, as plain ASGI middleware in front of everything else.

A declared ``Content-Length`` above the limit is refused before the body is read; a body without
one (chunked) is counted as it streams, and once it passes the limit whatever the application was
about to answer is replaced by the refusal. Plain ASGI (no ``BaseHTTPMiddleware``), so streaming
and the server span are untouched. The refusal is the service's own answer (its error envelope),
sent with ``Connection: close`` since the rest of the body is never read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _ExceededError(Exception):
    pass


class BodyLimit:
    """Refuses a body over ``max_body_bytes`` (declared or streamed) with ``refusal(limit)``."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, refusal: Callable[[int], Response]
    ) -> None:
        self.app = app
        self.limit = max_body_bytes
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(send)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise _ExceededError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app answers to the cut body, the answer is the refusal
                return
            started = True
            await send(message)

        with contextlib.suppress(_ExceededError):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = self.refusal(self.limit)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [*response.raw_headers, (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


def declared_length(scope: Scope) -> int | None:
    """The first ``Content-Length`` header as a number; ``None`` when absent or not digits."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
