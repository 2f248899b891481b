"""A few Prometheus metrics, rendered in the text exposition format at ``/metrics``.

Small on purpose: counters, one histogram and one gauge, labelled by provider, outcome, trigger
and reason (bounded sets: the catalog's providers and the domain's outcomes). No connection or
organization ids as labels.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _labels(**labels: str) -> Labels:
    return tuple(sorted(labels.items()))


def _render_labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    escaped = (
        f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in pairs
    )
    return "{" + ",".join(escaped) + "}"


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.total += value
        for index, bound in enumerate(DURATION_BUCKETS):
            if value <= bound:
                self.buckets[index] += 1


@dataclass
class Metrics:
    checks: defaultdict[Labels, int] = field(default_factory=lambda: defaultdict(int))
    events: defaultdict[Labels, int] = field(default_factory=lambda: defaultdict(int))
    failures: defaultdict[Labels, int] = field(default_factory=lambda: defaultdict(int))
    durations: defaultdict[Labels, _Histogram] = field(
        default_factory=lambda: defaultdict(_Histogram)
    )
    in_flight: int = 0

    def checked(self, provider: str, outcome: str, trigger: str, seconds: float) -> None:
        self.checks[_labels(provider=provider, outcome=outcome, trigger=trigger)] += 1
        self.durations[_labels(provider=provider)].observe(seconds)

    def reported(self, event_type: str, reason: str) -> None:
        self.events[_labels(event_type=event_type, reason=reason)] += 1

    def failed(self, reason: str) -> None:
        """A check that ended without a verdict (dead-lettered, not published)."""
        self.failures[_labels(reason=reason)] += 1

    @property
    def checks_total(self) -> int:
        return sum(self.checks.values())

    def render(self) -> str:
        lines: list[str] = []

        def counter(name: str, help_text: str, values: dict[Labels, int]) -> None:
            lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} counter"])
            lines.extend(f"{name}{_render_labels(k)} {v}" for k, v in sorted(values.items()))

        counter(
            "health_monitor_checks_total",
            "Checks finished, by provider, outcome and trigger.",
            self.checks,
        )
        counter(
            "health_monitor_events_total",
            "connection.unhealthy / connection.recovered published, by reason.",
            self.events,
        )
        counter(
            "health_monitor_check_failures_total",
            "Checks that ended without a verdict, by reason.",
            self.failures,
        )
        name = "health_monitor_check_duration_seconds"
        lines.extend(
            [f"# HELP {name} Check duration, retries included.", f"# TYPE {name} histogram"]
        )
        for labels, histogram in sorted(self.durations.items()):
            for bound, count in zip(DURATION_BUCKETS, histogram.buckets, strict=True):
                lines.append(
                    f"{name}_bucket{_render_labels(labels, (('le', str(bound)),))} {count}"
                )
            inf = _render_labels(labels, (("le", "+Inf"),))
            lines.append(f"{name}_bucket{inf} {histogram.count}")
            lines.append(f"{name}_sum{_render_labels(labels)} {_number(histogram.total)}")
            lines.append(f"{name}_count{_render_labels(labels)} {histogram.count}")
        lines.extend(
            [
                "# HELP health_monitor_checks_in_flight Checks running now.",
                "# TYPE health_monitor_checks_in_flight gauge",
                f"health_monitor_checks_in_flight {self.in_flight}",
            ]
        )
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return repr(round(value, 6)) if math.isfinite(value) else "NaN"
