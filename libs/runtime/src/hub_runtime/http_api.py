"""What every HTTP service shares on the web side: the error envelope's models, one rendering of
every failure as JSON (never an HTML page or a bare 500), and the readiness check."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub_runtime.api_errors import (
    ApiError,
    BadRequestError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    UnavailableError,
)
from hub_runtime.metrics import CONTENT_TYPE, ServiceMetrics

log = logging.getLogger(__name__)

T = TypeVar("T")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    model_config = ConfigDict(frozen=True)
    error: ErrorDetail


class Health(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: str


def error_responses(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses, each the JSON envelope with its description."""
    return {
        status: {"model": ErrorBody, "description": description}
        for status, description in descriptions.items()
    }


def operation_name(route: APIRoute) -> str:
    """OpenAPI operation ids are the handlers' names (``get_integration``), so links can name
    them (``APIRouter(generate_unique_id_function=operation_name)``)."""
    return route.name


def links(**targets: Mapping[str, str]) -> dict[str, Any]:
    """An answer's OpenAPI links: the operations (by handler name) it leads to, with the runtime
    expressions that fill their parameters (``$request.path.provider``,
    ``$response.body#/next_cursor``). Clients read them; schemathesis follows them in its
    stateful runs."""
    return {
        "links": {
            name: {"operationId": name, "parameters": dict(parameters)}
            for name, parameters in targets.items()
        }
    }


def app_state(name: str, kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency for ``Depends``: the object the app's wiring put on ``app.state.<name>``
    (async: a plain function would cost every request a trip through the thread pool)."""

    async def dependency(request: Request) -> T:
        value = getattr(request.app.state, name)
        assert isinstance(value, kind), f"app.state.{name} is not a {kind.__name__}"
        return value

    return dependency


def render(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers)


def install_error_handlers(
    app: FastAPI,
    *,
    not_found: tuple[type[Exception], ...] = (),
    unavailable: Mapping[type[Exception], str] | None = None,
) -> None:
    """Render every failure as the JSON envelope.

    ``not_found``: exception types (with ``code`` and a person's message) that mean the path
    names nothing, such as the catalog's provider lookups; ``unavailable``: exception types of a
    dependency that is down, each with the 503 message to give.
    """
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for kind in not_found:
        app.add_exception_handler(kind, _lookup_error)
    for kind, message in (unavailable or {}).items():
        app.add_exception_handler(kind, _unavailable(message))
    app.add_exception_handler(Exception, _unexpected)


def probes(readyz: Callable[..., Awaitable[Health]], *, not_ready: str) -> APIRouter:
    """``/healthz`` (the process answers) and ``/readyz`` (the service's own ``readyz``
    endpoint, which may declare dependencies; ``not_ready`` documents its 503)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    router.add_api_route(
        "/readyz",
        readyz,
        methods=["GET"],
        response_model=Health,
        responses={503: {"model": ErrorBody, "description": not_ready}},
    )
    return router


async def require_ready(ping: Callable[[], Awaitable[object]] | None, *, starting: str) -> Health:
    """Readiness: started (``ping`` is set), and PostgreSQL answers ``ping`` within 2 s."""
    if ping is None:
        raise UnavailableError(starting, code="not_ready")
    try:
        async with asyncio.timeout(2):
            await ping()
    except Exception:
        raise UnavailableError("PostgreSQL is not reachable.", code="not_ready") from None
    return Health(status="ready")


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    if exc.status_code >= 500:
        log.warning("request failed", extra={"code": exc.code, "path": request.url.path})
    return render(exc)


async def _lookup_error(request: Request, exc: Exception) -> JSONResponse:
    code = getattr(exc, "code", NotFoundError.code)
    return render(NotFoundError(str(exc), code=code, field="provider"))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return render(BadRequestError("The body is not valid JSON; send a JSON object."))
    first = problems[0] if problems else {}
    where = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join(where)[:100] or None
    message = str(first.get("msg", "The request does not fit the API's schema"))
    if first.get("type") == "missing" and not where:
        message = "A JSON body is required"
    prefix = f"{field}: " if field else ""
    return render(
        InvalidRequestError(f"{prefix}{message}. The schema is at /openapi.json.", field=field)
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    path = request.url.path[:200]
    error: ApiError
    if exc.status_code == 404:
        error = NotFoundError(f"There is no route {path}; the API is described at /openapi.json.")
    elif exc.status_code == 400:
        error = BadRequestError("The body could not be read; send a UTF-8 JSON object.")
    elif exc.status_code == 405:
        allowed = headers.get("Allow") or headers.get("allow") or "see /openapi.json"
        error = MethodNotAllowedError(
            f"{request.method} is not allowed on {path}; allowed: {allowed}."
        )
    else:
        error = ApiError(str(exc.detail), code=f"http_{exc.status_code}")
    return JSONResponse(error.body(), status_code=exc.status_code, headers=headers)


def _unavailable(message: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable: %s", type(exc).__name__)
        return render(UnavailableError(message))

    return handle


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return render(ApiError("Something went wrong on our side; try again, then contact support."))


def metrics_router(metrics: ServiceMetrics) -> APIRouter:
    """``GET /metrics``: the service's registry (gauges refreshed) in the exposition format."""
    routes = APIRouter(tags=["probes"])

    @routes.get("/metrics", response_class=Response, summary="Prometheus metrics")
    async def scrape() -> Response:
        return Response(await metrics.scrape(), media_type=CONTENT_TYPE)

    return routes
