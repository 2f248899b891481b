"""Wiring: the sandbox's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from hub_catalog import Catalog, load_catalog
from starlette.exceptions import HTTPException

from provider_sandbox import control, dispatcher
from provider_sandbox.answers import problem
from provider_sandbox.settings import SandboxSettings
from provider_sandbox.state import Store

_ERRORS = {404: "not_found", 405: "method_not_allowed"}


def create_app(settings: SandboxSettings, *, catalog: Catalog | None = None) -> FastAPI:
    """The sandbox playing every provider of ``catalog`` (the packaged one by default)."""
    catalog = catalog or load_catalog()
    store = Store(latency_ms=settings.latency_ms)
    app = FastAPI(
        title="Provider sandbox",
        summary="Plays every catalog provider's OAuth and API endpoints, with switchable faults.",
    )
    app.include_router(dispatcher.router(catalog, store, settings))
    app.include_router(control.router(catalog, store))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        code = _ERRORS.get(error.status_code, "invalid_request")
        return problem(error.status_code, code, str(error.detail))

    return app
