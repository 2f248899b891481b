"""Liveness, readiness and metrics: the monitor's only HTTP surface (AsyncAPI aside)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from hub_runtime.http_api import metrics_router

from health_monitor.metrics import Metrics


def router(broker: KafkaBroker, metrics: Metrics) -> APIRouter:
    routes = APIRouter()

    @routes.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @routes.get("/readyz")
    async def readyz() -> Response:
        """Ready when the broker is started and answers; 503 otherwise (nothing is checked)."""
        try:
            async with asyncio.timeout(2):
                ready = broker.running and await broker.ping(timeout=2)
        except (TimeoutError, OSError):
            ready = False
        if ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not_ready", "broker": "unreachable"}, status_code=503)

    routes.include_router(metrics_router(metrics))
    return routes
