"""`make bench` (scale 1.0) and `make bench-quick` (``--scale 0.1``): every module of
``MODULES`` measures its figures, the run ends by writing bench-results/summary.json and
printing the table with each goal and whether it is met.

A module exposes ``async def figures(scale: float) -> {NAME: {"value", "unit", "goal",
"better": "higher" | "lower"}}`` (build entries with ``tests.bench.measure.figure``). A module
that fails is reported and the others still run; ``idle_rss_mb_max`` is the largest
``idle_rss_mb_<service>`` figure. Modules may also keep their detailed records in
bench-results/<name>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.measure import figure

SUMMARY = Path(__file__).resolve().parents[2] / "bench-results" / "summary.json"
MODULES = [
    "keyring",
    "bus",
    "store",
    "health_monitor",
    "oauth_gateway",
    "token_refresher",
    "console",
    "credentials",
]
"""Modules exposing ``async def figures(scale) -> {NAME: {value, unit, goal, better}}``."""


def met(entry: dict[str, Any]) -> bool:
    value, goal = float(entry["value"]), float(entry["goal"])
    return value >= goal if entry["better"] == "higher" else value <= goal


def table(figures: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'figure':<34} {'value':>12} {'unit':<12} {'goal':>10}  met"]
    for name, entry in figures.items():
        sign = "≥" if entry["better"] == "higher" else "≤"
        lines.append(
            f"{name:<34} {entry['value']:>12g} {entry['unit']:<12} {sign}{entry['goal']:>9g}  "
            + ("met" if met(entry) else "NOT MET")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", nargs="*", help="module names (default: every one of MODULES)")
    options = parser.parse_args(argv)
    figures: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for name in options.only or MODULES:
        began = time.perf_counter()
        print(f"== {name} (scale {options.scale})", flush=True)
        try:
            module = importlib.import_module(f"tests.bench.{name}")
            measured = asyncio.run(module.figures(options.scale))
        except Exception as error:  # one module's failure must not hide the others' figures
            traceback.print_exc()
            failed[name] = f"{type(error).__name__}: {error}"[:500]
        else:
            figures.update(measured)
            for figure_name, entry in measured.items():
                print(f"   {figure_name} = {entry['value']} {entry['unit']}", flush=True)
        seconds[name] = round(time.perf_counter() - began, 1)
    rss = [e["value"] for n, e in figures.items() if n.startswith("idle_rss_mb_")]
    if rss:
        figures["idle_rss_mb_max"] = figure(max(float(v) for v in rss), "MB", 120, "lower")
    summary = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "scale": options.scale,
        "figures": figures,
        "module_seconds": seconds,
        "failed": failed,
    }
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print()
    print(table(figures))
    for name, error in failed.items():
        print(f"FAILED {name}: {error}")
    print(f"written to {SUMMARY}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
