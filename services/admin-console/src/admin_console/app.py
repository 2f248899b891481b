"""Wiring only: the HTTP clients of the store and gateway, the use cases, the templates and the
routes, built once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from admin_console import http
from admin_console.adapters.gateway_api import GatewayClient
from admin_console.adapters.store_api import StoreClient
from admin_console.service.console import Console
from admin_console.settings import ConsoleSettings


def create_app(
    settings: ConsoleSettings,
    *,
    store_transport: httpx.AsyncBaseTransport | None = None,
    gateway_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    timeout = httpx.Timeout(settings.request_timeout_s, connect=3.0)
    store_http = httpx.AsyncClient(
        base_url=settings.store_url, timeout=timeout, transport=store_transport
    )
    gateway_http = httpx.AsyncClient(
        base_url=settings.gateway_url, timeout=timeout, transport=gateway_transport
    )
    store = StoreClient(store_http)
    gateway = GatewayClient(gateway_http, settings.oauth_cookie_name)
    templates = Jinja2Templates(directory=http.HERE / "templates")
    web = http.Web(
        settings=settings,
        console=Console(store=store, gateway=gateway),
        templates=templates,
        ready=store.ready,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await store_http.aclose()
            await gateway_http.aclose()

    app = FastAPI(
        title="admin-console",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    http.install(app, web)
    return app
