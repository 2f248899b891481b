"""Shared helpers of the bench modules: the figure dict, a process's own CPU time and resident
memory (``/proc``), and HTTP load from a native generator (``wrk``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Literal


def figure(
    value: float, unit: str, goal: float, better: Literal["higher", "lower"]
) -> dict[str, object]:
    """One entry of ``summary.json``'s ``figures``."""
    return {"value": round(float(value), 3), "unit": unit, "goal": goal, "better": better}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux ``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of the process now, in MB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ensure_wrk() -> str | None:
    """Path of ``wrk``; installs Debian's package when missing and root, else ``None``."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet)  # type: ignore[call-overload]
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-q"], **quiet)  # type: ignore[call-overload]
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet)  # type: ignore[call-overload]
    return shutil.which("wrk")


WRK_SCRIPT = """
local requests = {%s}
local counter = 0
%s
request = function()
  counter = counter %% #requests + 1
  local r = requests[counter]
  return wrk.format("GET", r[1], {["Authorization"] = "Bearer " .. r[2]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %%d, "duration_us": %%d, "p50_us": %%d, ' ..
    '"p99_us": %%d, "errors": %%d, "non_2xx": %%d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout,
    e.status))
end
"""


def wrk_get(
    base: str,
    requests: list[tuple[str, str]],
    seconds: float,
    connections: int,
    *,
    rate_per_s: float | None = None,
) -> dict[str, Any]:
    """GET ``(path, bearer)`` pairs in turn with ``wrk`` for ``seconds``: requests per second,
    p50/p99 in ms, errors. ``rate_per_s``: each connection pauses between requests so that
    together they offer about that rate (wrk's ``delay``), instead of as many as the server
    answers. Raises ``RuntimeError`` when wrk is not there."""
    binary = ensure_wrk()
    if binary is None:
        raise RuntimeError("wrk is missing: run 'apt-get install -y wrk' as root")
    pairs = ", ".join(f"{{{json.dumps(path)}, {json.dumps(token)}}}" for path, token in requests)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        pause = ""
        if rate_per_s is not None:
            pause = f"delay = function() return {connections * 1000.0 / rate_per_s:.3f} end"
        script.write(WRK_SCRIPT % (pairs, pause))
    try:
        command = [binary, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        command += ["--timeout", "10s", "-s", script.name, base]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink()
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    raw = json.loads(line[4:])
    return {
        "load_generator": "wrk",
        "connections": connections,
        "requests": raw["requests"],
        "requests_per_second": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["errors"],
        "non_2xx": raw["non_2xx"],
    }
