"""What the console's browser tests share: the stack's addresses, screenshots, axe-core."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
AXE = HERE / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[3] / ".local" / "screenshots" / "console"


@dataclass(frozen=True)
class Stack:
    console: str
    store: str
    gateway: str
    sandbox: str
    env: dict[str, str]
    logs: Path


def shoot(page: Any, name: str) -> None:
    """A screenshot of every page the tests visit (``.local/screenshots/console``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the current page."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check_page(page: Any, name: str) -> None:
    shoot(page, name)
    violations = axe_violations(page)
    assert violations == [], (name, violations)


def sandbox_tokens(stack: Stack, provider: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{stack.sandbox}/_sandbox/{provider}/tokens", timeout=5)
    answer.raise_for_status()
    tokens: list[dict[str, Any]] = answer.json()
    return tokens
