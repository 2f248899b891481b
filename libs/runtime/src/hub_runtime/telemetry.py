"""OpenTelemetry tracing: one provider per service, W3C trace context everywhere.

Spans go to OTLP/HTTP when an endpoint is set; otherwise, when ``OTEL_TRACES_FILE`` is set (``make
run`` sets ``.local/traces.jsonl``), to that file as OTLP JSON, one ``ExportTraceServiceRequest``
per line (the collector's file-exporter format), which ``hubctl trace`` draws.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)


def create_tracer_provider(
    service_name: str,
    *,
    otlp_endpoint: str | None = None,
    traces_file: str | None = None,
    exporter: SpanExporter | None = None,
) -> TracerProvider:
    """A tracer provider exporting to OTLP/HTTP when an endpoint is configured, else to
    ``traces_file`` when given, and/or to ``exporter`` (tests pass an ``InMemorySpanExporter``).
    Not installed globally: pass it to the broker middleware and HTTP instrumentation."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    elif traces_file:
        provider.add_span_processor(
            BatchSpanProcessor(OtlpJsonFileExporter(Path(traces_file)), schedule_delay_millis=500)
        )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


class OtlpJsonFileExporter(SpanExporter):
    """Appends each batch as one OTLP JSON line; several processes may share the file (each line
    is one ``O_APPEND`` write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        line = (json.dumps(otlp_json(spans), separators=(",", ":")) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attributes(attributes: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in (attributes or {}).items()]


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """Spans as an OTLP/JSON ``ExportTraceServiceRequest`` (hex ids, nanosecond strings)."""
    by_resource: dict[int, tuple[Any, dict[tuple[str, str], list[dict[str, Any]]]]] = {}
    for span in spans:
        _, scopes = by_resource.setdefault(id(span.resource), (span.resource, {}))
        scope = span.instrumentation_scope
        key = (scope.name if scope else "", (scope.version or "") if scope else "")
        context = span.get_span_context()
        assert context is not None
        body: dict[str, Any] = {
            "traceId": f"{context.trace_id:032x}",
            "spanId": f"{context.span_id:016x}",
            "name": span.name,
            "kind": span.kind.value + 1,
            "startTimeUnixNano": str(span.start_time or 0),
            "endTimeUnixNano": str(span.end_time or 0),
            "attributes": _attributes(span.attributes),
            "status": {"code": span.status.status_code.value},
        }
        if span.parent is not None:
            body["parentSpanId"] = f"{span.parent.span_id:016x}"
        if span.links:
            body["links"] = [
                {
                    "traceId": f"{link.context.trace_id:032x}",
                    "spanId": f"{link.context.span_id:016x}",
                }
                for link in span.links
            ]
        scopes.setdefault(key, []).append(body)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(resource.attributes)},
                "scopeSpans": [
                    {"scope": {"name": name, "version": version}, "spans": found}
                    for (name, version), found in scopes.items()
                ],
            }
            for resource, scopes in by_resource.values()
        ]
    }


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (to store with work done later), or None."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str | None) -> Context | None:
    """The context to continue a stored ``traceparent`` in (None: start a new trace)."""
    return propagate.extract({"traceparent": traceparent}) if traceparent else None
