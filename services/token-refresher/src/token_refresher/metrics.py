"""Counters and gauges in the Prometheus text format (``GET /metrics``), without a client
library; the README lists the families."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Labels = tuple[tuple[str, str], ...]
GaugeReader = Callable[[], Iterable[tuple[Labels, float]]]

LabelNames = tuple[str, ...]

PREFIX = "token_refresher"


def _key(key: Any) -> tuple[str, ...]:
    return key if isinstance(key, tuple) else (key,)


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    escaped = (
        (name, value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
        for name, value in labels
    )
    return "{" + ",".join(f'{name}="{value}"' for name, value in escaped) + "}"


class Metrics:
    def __init__(self) -> None:
        self.events: Counter[tuple[str, str]] = Counter()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.call_seconds: dict[str, float] = {}
        self.call_count: Counter[str] = Counter()
        self.dead_letters: Counter[str] = Counter()
        self._gauges: list[tuple[str, str, GaugeReader]] = []

    def event(self, provider: str, outcome: str) -> None:
        self.events[(provider, outcome)] += 1

    def call(self, provider: str, result: str, seconds: float) -> None:
        self.calls[(provider, result)] += 1
        self.call_seconds[provider] = self.call_seconds.get(provider, 0.0) + seconds
        self.call_count[provider] += 1

    def dead_letter(self, reason: str) -> None:
        self.dead_letters[reason] += 1

    def gauge(self, name: str, help_text: str, read: GaugeReader) -> None:
        self._gauges.append((name, help_text, read))

    def outcomes(self, outcome: str) -> int:
        """Events with ``outcome`` over every provider."""
        return sum(n for (_, o), n in self.events.items() if o == outcome)

    def render(self) -> str:
        lines: list[str] = []

        def family(
            name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]
        ) -> None:
            full = f"{PREFIX}_{name}"
            lines.append(f"# HELP {full} {help_text}")
            lines.append(f"# TYPE {full} {kind}")
            for suffix, value in samples:
                lines.append(f"{full}{suffix} {value:g}")

        def counter(
            name: str, help_text: str, label_names: LabelNames, counts: Mapping[Any, int]
        ) -> None:
            samples = (
                (_labels(tuple(zip(label_names, _key(key), strict=True))), float(n))
                for key, n in sorted(counts.items())
            )
            family(name, "counter", help_text, samples)

        counter(
            "events_total",
            "token.expiring events handled, by provider and outcome.",
            ("provider", "outcome"),
            self.events,
        )
        counter(
            "provider_calls_total",
            "Calls to provider token endpoints, by provider and result.",
            ("provider", "result"),
            self.calls,
        )
        lines.append(f"# HELP {PREFIX}_provider_call_seconds Time spent in provider token calls.")
        lines.append(f"# TYPE {PREFIX}_provider_call_seconds summary")
        for provider in sorted(self.call_count):
            label = _labels((("provider", provider),))
            lines.append(
                f"{PREFIX}_provider_call_seconds_sum{label} {self.call_seconds[provider]:.6f}"
            )
            lines.append(f"{PREFIX}_provider_call_seconds_count{label} {self.call_count[provider]}")
        counter(
            "dead_letters_total",
            "token.expiring records sent to the DLQ, by reason.",
            ("reason",),
            self.dead_letters,
        )
        for name, help_text, read in self._gauges:
            family(name, "gauge", help_text, ((_labels(lbl), v) for lbl, v in read()))
        return "\n".join(lines) + "\n"
