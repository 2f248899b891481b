"""JSON Schema snapshots of every event, committed under ``libs/contracts/schemas``.

``python -m hub_contracts.schemas --write`` refreshes them; ``--check`` (run by the tests and
``make check``) fails when a model changed without its snapshot, i.e. without a conscious
decision about compatibility.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hub_contracts.registry import EVENT_MODELS

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def render_schemas() -> dict[str, str]:
    """File name → JSON Schema text, for every registered event model."""
    return {
        f"{event_type}.v{version}.json": json.dumps(
            model.model_json_schema(mode="serialization"), indent=2, sort_keys=True
        )
        + "\n"
        for (event_type, version), model in sorted(EVENT_MODELS.items())
    }


def drift(directory: Path = SNAPSHOT_DIR) -> list[str]:
    """Names of snapshots that are missing, stale or no longer backed by a model."""
    expected = render_schemas()
    present = {p.name for p in directory.glob("*.json")} if directory.exists() else set()
    stale = [
        name
        for name, text in expected.items()
        if name not in present or (directory / name).read_text("utf-8") != text
    ]
    return sorted(stale + sorted(present - expected.keys()))


def write(directory: Path = SNAPSHOT_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in {p.name for p in directory.glob("*.json")} - render_schemas().keys():
        (directory / stale).unlink()
    for name, text in render_schemas().items():
        (directory / name).write_text(text, "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="refresh the snapshots")
    args = parser.parse_args(argv)
    if args.write:
        write()
        return 0
    changed = drift()
    if changed:
        print("event schemas drifted from their snapshots: " + ", ".join(changed), file=sys.stderr)
        print("run `make schemas` and commit the result if the change is intended", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
