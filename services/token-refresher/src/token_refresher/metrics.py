"""Counters and gauges in the Prometheus text format (``GET /metrics``), without a client library.

Families: ``token_refresher_events_total{provider,outcome}`` (every ``token.expiring`` handled:
refreshed, reminded, revoked, provider_unavailable, deferred_rate_limited, stale...),
``token_refresher_provider_calls_total{provider,result}`` and
``token_refresher_provider_call_seconds_{sum,count}{provider}`` (how often and how long we call
token endpoints: a hot loop shows here), ``token_refresher_dead_letters_total{reason}``, and the
gauges the app registers (in flight, pending per provider, consumer lag, projection size).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

Labels = tuple[tuple[str, str], ...]
GaugeReader = Callable[[], Iterable[tuple[Labels, float]]]

PREFIX = "token_refresher"


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

        family(
            "events_total",
            "counter",
            "token.expiring events handled, by provider and outcome.",
            (
                (_labels((("provider", p), ("outcome", o))), n)
                for (p, o), n in sorted(self.events.items())
            ),
        )
        family(
            "provider_calls_total",
            "counter",
            "Calls to provider token endpoints, by provider and result.",
            (
                (_labels((("provider", p), ("result", r))), n)
                for (p, r), n in sorted(self.calls.items())
            ),
        )
        lines.append(f"# HELP {PREFIX}_provider_call_seconds Time spent in provider token calls.")
        lines.append(f"# TYPE {PREFIX}_provider_call_seconds summary")
        for provider in sorted(self.call_count):
            label = _labels((("provider", provider),))
            lines.append(
                f"{PREFIX}_provider_call_seconds_sum{label} {self.call_seconds[provider]:.6f}"
            )
            lines.append(f"{PREFIX}_provider_call_seconds_count{label} {self.call_count[provider]}")
        family(
            "dead_letters_total",
            "counter",
            "token.expiring records sent to the DLQ, by reason.",
            ((_labels((("reason", r),)), n) for r, n in sorted(self.dead_letters.items())),
        )
        for name, help_text, read in self._gauges:
            family(name, "gauge", help_text, ((_labels(lbl), v) for lbl, v in read()))
        return "\n".join(lines) + "\n"
