"""Check the workspace's import rules with import-linter, contracts derived from the layout.

- libs never import services or dev tools;
- ``hub_contracts`` depends on pydantic only;
- services never import each other (nor the dev tools);
- no package has an import cycle among its modules;
- every module of a service outside ``adapters/``, ``app``, ``http``, ``__main__`` and the
  command-line entry points (modules with a ``__main__`` block) imports no I/O library, directly
  or through other modules; ``handlers`` may import FastStream only (it declares the consumers).

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


WIRING = ("adapters", "app", "http", "__main__")
"""Where a service may use any I/O library: its adapters, its wiring, its routes and its entry
point."""


def _modules(package: Path) -> list[str]:
    """Dotted names of a package's modules and subpackages, the package itself excluded."""
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if len(parts) > 1:
            names.append(".".join(parts))
    return names


def _entry_point(package: Path, module: str) -> bool:
    """A module run as a program (``python -m pkg.tool`` from the Makefile) is wiring too."""
    path = package.parent.joinpath(*module.split(".")).with_suffix(".py")
    return path.is_file() and 'if __name__ == "__main__":' in path.read_text("utf-8")


def _layers(package: Path) -> dict[str, list[str]]:
    """A service's checked modules by what they may import: ``pure`` and ``handlers``."""
    layers: dict[str, list[str]] = {"pure": [], "handlers": []}
    for module in _modules(package):
        top = module.split(".")[1]
        if top in WIRING or _entry_point(package, module):
            continue
        layers["handlers" if top == "handlers" else "pure"].append(module)
    return layers


def _packages(folder: str) -> list[str]:
    return sorted(_package_dirs(folder))


def build_config() -> str:
    libs, dev, services = _packages("libs"), _packages("dev"), _packages("services")
    sections = [
        "[importlinter]",
        "root_packages =\n" + "\n".join(f"    {p}" for p in libs + dev + services),
        "include_external_packages = True",
        "exclude_type_checking_imports = True",
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
    contract(
        "no-cycles",
        {
            "name": "no import cycle among the modules of any package",
            "type": "acyclic_siblings",
            "ancestors": libs + dev + services,
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
    layers: dict[str, list[str]] = {"pure": [], "handlers": []}
    for path in _package_dirs("services").values():
        for layer, modules in _layers(path).items():
            layers[layer] += modules
    allowed: dict[str, set[str]] = {"pure": set(), "handlers": {"faststream", "aiokafka"}}
    for layer, modules in layers.items():
        if modules:
            contract(
                f"{layer}-layer",
                {
                    "name": f"service {layer} modules import no I/O library"
                    + (f" but {', '.join(sorted(allowed[layer]))}" if allowed[layer] else ""),
                    "type": "forbidden",
                    "source_modules": modules,
                    "forbidden_modules": [m for m in IO_LIBRARIES if m not in allowed[layer]],
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
