"""Check the workspace's import rules with import-linter, contracts derived from the layout.

- libs never import services or dev tools;
- ``hub_contracts`` depends on pydantic only;
- services never import each other (nor the dev tools);
- a service's ``service`` and ``domain`` modules import no I/O library.

The contracts are generated so that a new service under ``services/`` is covered the day it
lands, without anyone remembering to list it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IO_LIBRARIES = [
    "faststream",
    "aiokafka",
    "fastapi",
    "starlette",
    "uvicorn",
    "asyncpg",
    "httpx",
    "authlib",
    "aiosmtplib",
]


def _package_dirs(folder: str) -> dict[str, Path]:
    return {
        package.name: package
        for package in sorted((ROOT / folder).glob("*/src/*"))
        if (package / "__init__.py").exists()
    }


def _packages(folder: str) -> list[str]:
    return sorted(_package_dirs(folder))


def build_config() -> str:
    libs, dev, services = _packages("libs"), _packages("dev"), _packages("services")
    sections = [
        "[importlinter]",
        "root_packages =\n" + "\n".join(f"    {p}" for p in libs + dev + services),
        "include_external_packages = True",
    ]

    def contract(name: str, body: dict[str, list[str] | str]) -> None:
        lines = [f"[importlinter:contract:{name}]"]
        for key, value in body.items():
            if isinstance(value, list):
                lines.append(f"{key} =\n" + "\n".join(f"    {v}" for v in value))
            else:
                lines.append(f"{key} = {value}")
        sections.append("\n".join(lines))

    if dev + services:
        contract(
            "libs-are-leaves",
            {
                "name": "libs never import services or dev tools",
                "type": "forbidden",
                "source_modules": libs,
                "forbidden_modules": dev + services,
            },
        )
    contract(
        "contracts-pydantic-only",
        {
            "name": "hub_contracts depends on pydantic only",
            "type": "forbidden",
            "source_modules": ["hub_contracts"],
            "forbidden_modules": [*IO_LIBRARIES, "cryptography", "yaml", "opentelemetry"],
        },
    )
    if len(services) > 1:
        contract(
            "services-independent",
            {
                "name": "services never import each other",
                "type": "independence",
                "modules": services,
            },
        )
    if services and dev:
        contract(
            "services-not-dev",
            {
                "name": "services never import dev tools",
                "type": "forbidden",
                "source_modules": services,
                "forbidden_modules": dev,
            },
        )
    inner = [
        f"{service}.{layer}"
        for service, path in _package_dirs("services").items()
        for layer in ("service", "domain")
        if (path / f"{layer}.py").exists() or (path / layer).is_dir()
    ]
    if inner:
        contract(
            "inner-layers-pure",
            {
                "name": "service and domain modules import no I/O library",
                "type": "forbidden",
                "source_modules": inner,
                "forbidden_modules": IO_LIBRARIES,
            },
        )
    return "\n\n".join(sections) + "\n"


def main() -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as handle:
        handle.write(build_config())
    try:
        return subprocess.call(["lint-imports", "--config", handle.name, "--no-cache"], cwd=ROOT)
    finally:
        Path(handle.name).unlink()


if __name__ == "__main__":
    sys.exit(main())
