"""The deployment files against their schemas, offline: every Kubernetes manifest against the
Kubernetes OpenAPI schemas bundled by ``kubernetes-validate``, and the compose file against the
compose specification's JSON Schema (``deploy/compose/compose-spec.json``, from
github.com/compose-spec/compose-spec ``schema/compose-spec.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.31"
"""The Kubernetes version the manifests are written for (any supported cluster since)."""


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(DEPLOY.glob("k8s/**/*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc is not None:
                found.append((f"{path.relative_to(DEPLOY)}#{index}", doc))
    return found


def validate_manifest(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def validate_compose(doc: dict[str, Any]) -> None:
    schema = json.loads((DEPLOY / "compose" / "compose-spec.json").read_text())
    jsonschema.validate(doc, schema, cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize(("where", "doc"), _manifests(), ids=[w for w, _ in _manifests()])
def test_kubernetes_manifest_matches_the_schema(where: str, doc: dict[str, Any]) -> None:
    validate_manifest(doc)


def test_a_broken_manifest_is_refused() -> None:
    doc = next(d for _, d in _manifests() if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(doc))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8101"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_manifest(broken)
    unknown = json.loads(json.dumps(doc))
    unknown["spec"]["replicaz"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_manifest(unknown)


def test_compose_file_matches_the_compose_specification() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    validate_compose(compose)
    broken = json.loads(json.dumps(compose))
    first = next(iter(broken["services"].values()))
    first["restart_policy"] = "always"
    with pytest.raises(jsonschema.ValidationError):
        validate_compose(broken)
