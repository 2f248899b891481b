"""Service runtime: settings base, JSON logging with redaction, tracing, Kafka wiring."""

from hub_runtime.bus import (
    PermanentHandlerError,
    consumer_options,
    create_broker,
    publish_event,
    subscribe,
    subscribe_batch,
)
from hub_runtime.logging import configure_logging, redact, redact_text
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
    "publish_event",
    "redact",
    "redact_text",
    "subscribe",
    "subscribe_batch",
]
