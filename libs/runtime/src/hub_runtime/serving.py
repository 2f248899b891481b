"""``python -m <service>``: one way to run every service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import uvicorn

from hub_runtime.logging import configure_logging


class _Served(Protocol):
    service_name: str
    log_level: str

    @property
    def log_format(self) -> str: ...

    host: str
    port: int


S = TypeVar("S", bound=_Served)


def serve(
    settings: S,
    create_app: Callable[[S], Any],
) -> None:
    """Configure logging (httpx and httpcore held at WARNING, see ``configure_logging``), then
    serve ``create_app(settings)`` with uvicorn until stopped. The access log is off: request
    lines carry OAuth codes and states; the services log what they did without them. The loop
    is uvloop and the HTTP parser httptools (named, so that a missing wheel fails at start
    rather than silently falling back to the slower pure-Python ones).
    """
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        loop="uvloop",
        http="httptools",
    )
