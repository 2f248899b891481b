"""Service runtime: settings base, serving, JSON logging with redaction, tracing, Kafka wiring,
AsyncAPI, and the HTTP error envelope."""

from hub_runtime.bus import (
    PermanentHandlerError,
    consumer_options,
    create_broker,
    dead_letter,
    publish_event,
    publishes,
    subscribe,
    subscribe_batch,
)
from hub_runtime.logging import configure_logging, redact, redact_text
from hub_runtime.serve import serve
from hub_runtime.settings import CredentialSettings, ServiceSettings
from hub_runtime.telemetry import create_tracer_provider

__all__ = [
    "CredentialSettings",
    "PermanentHandlerError",
    "ServiceSettings",
    "configure_logging",
    "consumer_options",
    "create_broker",
    "create_tracer_provider",
    "dead_letter",
    "publish_event",
    "publishes",
    "redact",
    "redact_text",
    "serve",
    "subscribe",
    "subscribe_batch",
]
