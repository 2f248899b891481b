"""``hubctl trace``: read the spans ``make run`` writes (OTLP JSON lines, ``OTEL_TRACES_FILE``)
and lay one trace out as a waterfall: which service, which span, when, how long."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

DEFAULT_FILE = Path(".local/traces.jsonl")
SERVICE_COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan"]


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    error: bool = False

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _value(value: dict[str, Any]) -> Any:
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        return int(value["intValue"])
    return str(value)


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items or []}


def read_spans(path: Path) -> list[Span]:
    """Every span in the file (a torn last line, from a process still writing, is skipped)."""
    spans = []
    for line in path.read_text("utf-8").splitlines():
        try:
            request = json.loads(line)
        except ValueError:
            continue
        for resource in request.get("resourceSpans", []):
            service = _attributes(resource.get("resource", {}).get("attributes", [])).get(
                "service.name", "?"
            )
            for scope in resource.get("scopeSpans", []):
                for s in scope.get("spans", []):
                    spans.append(
                        Span(
                            trace_id=s["traceId"],
                            span_id=s["spanId"],
                            parent_id=s.get("parentSpanId") or None,
                            name=s["name"],
                            service=str(service),
                            start_ns=int(s["startTimeUnixNano"]),
                            end_ns=int(s["endTimeUnixNano"]),
                            attributes=_attributes(s.get("attributes", [])),
                            error=s.get("status", {}).get("code") == 2,
                        )
                    )
    return spans


def traces(spans: list[Span]) -> dict[str, list[Span]]:
    """Trace id → its spans, in start order; traces ordered by when they started."""
    grouped: defaultdict[str, list[Span]] = defaultdict(list)
    for span in spans:
        grouped[span.trace_id].append(span)
    ordered = sorted(grouped.items(), key=lambda item: min(s.start_ns for s in item[1]))
    return {tid: sorted(found, key=lambda s: s.start_ns) for tid, found in ordered}


def find(all_traces: dict[str, list[Span]], which: str) -> tuple[str, list[Span]] | None:
    """``last`` (the trace that started last, of those with more than one span: a sweep that
    found nothing is one span) or a trace id (or a unique prefix of one)."""
    if which == "last":
        busy = [tid for tid, spans in all_traces.items() if len(spans) > 1]
        return (busy[-1], all_traces[busy[-1]]) if busy else None
    matches = [tid for tid in all_traces if tid.startswith(which.lower())]
    return (matches[0], all_traces[matches[0]]) if len(matches) == 1 else None


def _tree(spans: list[Span]) -> list[tuple[int, Span]]:
    """Depth-first, children in start order; a span whose parent is elsewhere is a root."""
    ids = {s.span_id for s in spans}
    children: defaultdict[str | None, list[Span]] = defaultdict(list)
    for span in spans:
        children[span.parent_id if span.parent_id in ids else None].append(span)
    ordered: list[tuple[int, Span]] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children[parent], key=lambda s: s.start_ns):
            ordered.append((depth, span))
            walk(span.span_id, depth + 1)

    walk(None, 0)
    return ordered


def waterfall(trace_id: str, spans: list[Span], *, width: int = 48) -> Table:
    start = min(s.start_ns for s in spans)
    end = max(s.end_ns for s in spans)
    total = max(end - start, 1)
    services = sorted({s.service for s in spans})
    colour = {name: SERVICE_COLOURS[i % len(SERVICE_COLOURS)] for i, name in enumerate(services)}
    table = Table(
        title=f"trace {trace_id}  ·  {total / 1e6:.1f} ms  ·  {len(spans)} spans  ·  "
        f"{len(services)} services",
        title_justify="left",
        expand=False,
    )
    table.add_column("service", no_wrap=True)
    table.add_column("span", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("timeline", no_wrap=True)
    for depth, span in _tree(spans):
        left = round((span.start_ns - start) / total * width)
        length = max(1, round((span.end_ns - span.start_ns) / total * width))
        left = min(left, width - 1)
        length = min(length, width - left)
        bar = Text(" " * left)
        bar.append("█" * length, style="red" if span.error else colour[span.service])
        bar.append(" " * (width - left - length))
        table.add_row(
            Text(span.service, style=colour[span.service]),
            Text("  " * depth + span.name, style="bold red" if span.error else ""),
            f"{span.ms:.1f}",
            bar,
        )
    return table
