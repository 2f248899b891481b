"""Liveness, readiness and metrics: the worker's only HTTP surface (port 8103)."""

from __future__ import annotations

from typing import Protocol

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from hub_runtime.metrics import CONTENT_TYPE


class Probe(Protocol):
    def live(self) -> tuple[bool, dict[str, object]]:
        """Whether the worker loops run (a dead loop means: restart me)."""

    def ready(self) -> tuple[bool, dict[str, object]]:
        """Whether records are being handled: joined the group, projection caught up."""

    async def render_metrics(self) -> bytes:
        """The Prometheus text exposition."""


def install_routes(app: FastAPI, probe: Probe) -> None:
    @app.get("/healthz", include_in_schema=True)
    async def healthz() -> JSONResponse:
        ok, detail = probe.live()
        return JSONResponse(
            {"status": "ok" if ok else "failed", **detail}, status_code=200 if ok else 503
        )

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ok, detail = probe.ready()
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", **detail}, status_code=200 if ok else 503
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(await probe.render_metrics(), media_type=CONTENT_TYPE)
