"""Health, readiness and metrics on the notifier's port (8105)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from notifier.adapters.database import PostgresDatabase
from notifier.metrics import CONTENT_TYPE, PrometheusMetrics
from notifier.service.worker import Worker


def router(database: PostgresDatabase, worker: Worker, metrics: PrometheusMetrics) -> APIRouter:
    routes = APIRouter()

    @routes.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @routes.get("/readyz", response_model=None)
    async def readyz() -> Any:
        """Readiness: PostgreSQL answers within two seconds and the worker runs."""
        problem = None
        if not database.is_open:
            problem = "starting"
        elif worker.stopped:
            problem = "the delivery worker stopped"
        elif not await database.reachable(timeout_s=2.0):
            problem = "PostgreSQL is not reachable"
        if problem:
            body = {"error": {"code": "not_ready", "message": problem}}
            return JSONResponse(body, status_code=503)
        return {"status": "ready"}

    @routes.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus text format."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return routes
