"""Health, readiness and metrics on the notifier's port (8105)."""

from __future__ import annotations

from fastapi import APIRouter
from hub_runtime.api_errors import UnavailableError
from hub_runtime.http_api import Health, metrics_router, require_ready

from notifier.adapters.database import PostgresDatabase
from notifier.metrics import PrometheusMetrics
from notifier.service.worker import Worker


def router(database: PostgresDatabase, worker: Worker, metrics: PrometheusMetrics) -> APIRouter:
    routes = APIRouter(tags=["operations"])

    @routes.get("/healthz")
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @routes.get("/readyz")
    async def readyz() -> Health:
        """Readiness: PostgreSQL answers within two seconds and the delivery worker runs."""
        if worker.stopped:
            raise UnavailableError("The delivery worker stopped.", code="not_ready")
        ping = database.ping if database.is_open else None
        return await require_ready(ping, starting="The notifier is starting.")

    routes.include_router(metrics_router(metrics))
    return routes
