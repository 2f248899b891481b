"""Liveness, readiness and metrics: the monitor's only HTTP surface."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Ready when the broker answers; 503 otherwise (nothing is checked meanwhile)."""
    parts = request.app.state.components
    try:
        async with asyncio.timeout(2):
            ready = parts.started and await parts.broker.ping(timeout=2)
    except (TimeoutError, OSError):
        ready = False
    if ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not_ready", "broker": "unreachable"}, status_code=503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return PlainTextResponse(
        request.app.state.components.monitor.metrics.render(),
        media_type="text/plain; version=0.0.4",
    )
