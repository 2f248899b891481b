"""Health, readiness and metrics on the notifier's port (8105)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import asyncpg
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from notifier.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from notifier.app import Components

router = APIRouter()


def _components(request: Request) -> Components:
    parts: Components = request.app.state.components
    return parts


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> Any:
    """Readiness: PostgreSQL answers within two seconds and the worker runs."""
    parts = _components(request)
    problem = None
    if parts.pool is None:
        problem = "starting"
    elif parts.worker_task is not None and parts.worker_task.done():
        problem = "the delivery worker stopped"
    else:
        try:
            async with asyncio.timeout(2), parts.pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            problem = "PostgreSQL is not reachable"
    if problem:
        body = {"error": {"code": "not_ready", "message": problem}}
        return JSONResponse(body, status_code=503)
    return {"status": "ready"}


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(_components(request).metrics.render(), media_type=CONTENT_TYPE)
