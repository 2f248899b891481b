"""The body-size limit: declared and streamed bodies over the limit get the service's refusal."""

from __future__ import annotations

from typing import Any

import httpx
from hub_runtime.body_limit import BodyLimit, declared_length
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

LIMIT = 10


def _refusal(limit: int) -> Response:
    return JSONResponse({"error": {"code": "body_too_large", "limit": limit}}, status_code=413)


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    body = await Request(scope, receive).body()
    await Response(body, status_code=200)(scope, receive, send)


def _client() -> httpx.AsyncClient:
    app = BodyLimit(_echo, max_body_bytes=LIMIT, refusal=_refusal)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


async def test_a_body_within_the_limit_passes() -> None:
    async with _client() as client:
        response = await client.post("/", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert response.content == b"x" * LIMIT


async def test_a_declared_length_over_the_limit_is_refused_with_connection_close() -> None:
    async with _client() as client:
        response = await client.post("/", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {"error": {"code": "body_too_large", "limit": LIMIT}}
    assert response.headers["connection"] == "close"
    assert response.headers["content-type"] == "application/json"


async def _call(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> list[Message]:
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await BodyLimit(_echo, max_body_bytes=LIMIT, refusal=_refusal)(scope, receive, send)
    return sent


async def test_a_streamed_body_over_the_limit_gets_only_the_refusal() -> None:
    sent = await _call([], [b"x" * 6, b"x" * 6])
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]


async def test_a_streamed_body_within_the_limit_reaches_the_app() -> None:
    sent = await _call([], [b"x" * 5, b"x" * 5])
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"x" * 10


async def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def nothing() -> Message:
        return {}

    async def ignore(message: Message) -> None:
        return None

    await BodyLimit(app, max_body_bytes=LIMIT, refusal=_refusal)(
        {"type": "lifespan"}, nothing, ignore
    )
    assert seen == ["lifespan"]


def test_declared_length_reads_the_first_header_of_digits_only() -> None:
    assert declared_length({"headers": [(b"content-length", b"12")]}) == 12
    assert declared_length({"headers": [(b"content-length", b"-1")]}) is None
    assert declared_length({"headers": [(b"host", b"x")]}) is None
