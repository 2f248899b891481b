"""Default headers: added to every answer, errors too, never over a route's own."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from hub_runtime.default_headers import DefaultHeaders


async def test_adds_missing_headers_and_keeps_the_routes_own() -> None:
    app = FastAPI()

    @app.get("/own")
    async def own() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"X-Frame-Options": "SAMEORIGIN"})

    app.add_middleware(
        DefaultHeaders, headers={"X-Frame-Options": "DENY", "Cache-Control": "no-store"}
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://test"
    ) as client:
        answer = await client.get("/own")
        missing = await client.get("/nowhere")
    assert answer.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert answer.headers["cache-control"] == "no-store"
    assert missing.status_code == 404
    assert missing.headers["x-frame-options"] == "DENY"
