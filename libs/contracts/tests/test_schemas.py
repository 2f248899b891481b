"""Committed JSON Schema snapshots match the models."""

from __future__ import annotations

from pathlib import Path

from hub_contracts import EVENT_MODELS
from hub_contracts.schemas import SNAPSHOT_DIR, drift, write


def test_committed_schema_snapshots_match_the_models() -> None:
    assert drift() == [], "run `make schemas` and commit the result if the change is intended"
    assert len(list(SNAPSHOT_DIR.glob("*.json"))) == len(EVENT_MODELS)


def test_drift_reports_a_changed_snapshot(tmp_path: Path) -> None:
    write(tmp_path)
    assert drift(tmp_path) == []
    target = tmp_path / "token.refreshed.v1.json"
    target.write_text(target.read_text().replace('"credential_version"', '"version"'))
    (tmp_path / "token.retired.v1.json").write_text("{}")
    assert drift(tmp_path) == ["token.refreshed.v1.json", "token.retired.v1.json"]
