"""Service runtime: settings base, serving, JSON logging with redaction, tracing, Kafka wiring,
AsyncAPI, and the HTTP error envelope.

Importing the package loads no I/O library: the Kafka and serving names load on first use, so a
service's pure modules may take ``ServiceSettings`` from here (``tools/lint_imports.py``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from hub_runtime.logging import configure_logging, redact, redact_text
from hub_runtime.settings import CredentialSettings, ServiceSettings
from hub_runtime.telemetry import create_tracer_provider

if TYPE_CHECKING:
    from hub_runtime.bus import (
        PermanentHandlerError,
        consumer_options,
        create_broker,
        dead_letter,
        handle_in_key_order,
        publish_event,
        publish_events,
        publishes,
        subscribe,
        subscribe_batch,
    )
    from hub_runtime.serving import serve

_LAZY = {
    "PermanentHandlerError": "bus",
    "consumer_options": "bus",
    "create_broker": "bus",
    "dead_letter": "bus",
    "handle_in_key_order": "bus",
    "publish_event": "bus",
    "publish_events": "bus",
    "publishes": "bus",
    "subscribe": "bus",
    "subscribe_batch": "bus",
    "serve": "serving",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hub_runtime' has no attribute {name!r}")
    return getattr(import_module(f"hub_runtime.{module}"), name)


__all__ = [
    "CredentialSettings",
    "PermanentHandlerError",
    "ServiceSettings",
    "configure_logging",
    "consumer_options",
    "create_broker",
    "create_tracer_provider",
    "dead_letter",
    "handle_in_key_order",
    "publish_event",
    "publish_events",
    "publishes",
    "redact",
    "redact_text",
    "serve",
    "subscribe",
    "subscribe_batch",
]
