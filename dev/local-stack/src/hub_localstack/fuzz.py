"""SECURITY.md 25 for any service: fuzz every operation of its OpenAPI document with schemathesis.

Every operation is fuzzed twice: with schema-valid input (positive mode) and with input that
breaks the schema (negative mode). Either must answer below 500, and a refusal must be the
``{"error": {"code", "message"}}`` envelope. Path parameters named in ``path_parameters`` (the
token's organization) are pinned so the cases get past the tenancy check and reach the decoding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode


@dataclass
class Fuzzed:
    """What a fuzz run sent: operations, and answers by generation mode and status class."""

    operations: int = 0
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, mode: GenerationMode, status: int) -> int:
        return self.answers[(mode.value, f"{status // 100}xx")]


def fuzz_openapi(
    base_url: str,
    headers: Mapping[str, str],
    *,
    path_parameters: Mapping[str, str],
    max_examples: int,
) -> Fuzzed:
    """Fuzz every operation of ``{base_url}/openapi.json`` in both generation modes."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    fuzzed = Fuzzed()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        fuzzed.operations += 1
        for mode in GenerationMode:
            _fuzz(result.ok(), mode, base_url, dict(headers), path_parameters, max_examples, fuzzed)
    return fuzzed


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
    path_parameters: Mapping[str, str],
    max_examples: int,
    fuzzed: Fuzzed,
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_cleanly(case: Any) -> None:
        for name, value in path_parameters.items():
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = value
        response = case.call(base_url=base_url, headers=headers)
        fuzzed.answers[(mode.value, f"{response.status_code // 100}xx")] += 1
        assert response.status_code < 500, (mode, case.method, case.formatted_path, response.text)
        if response.status_code >= 400:
            assert set(response.json()["error"]) >= {"code", "message"}

    try:
        answers_cleanly()
    except Unsatisfiable:
        # Negative mode has nothing to break in an operation without parameters or body.
        if mode is GenerationMode.POSITIVE:
            raise
