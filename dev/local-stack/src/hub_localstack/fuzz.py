"""SECURITY.md 25 for any service: fuzz an OpenAPI document with schemathesis, in every mode.

Every operation is fuzzed alone with schema-valid input (positive mode) and with input that
breaks the schema (negative mode); then a stateful run follows the document's links (start an
OAuth flow, then call back with its state; read an integration, then its history pages) in both
modes. Every answer must be below 500, and a refusal must be the service's error shape (the
``{"error": {"code", "message"}}`` envelope unless told otherwise). Path parameters named in
``path_parameters`` (the token's organization) and form fields in ``form_fields`` (the
console's CSRF token) are pinned, unless the case broke that very parameter, so negative cases
get past the tenancy and CSRF checks and reach the decoding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.generation.meta import negated_parameters
from schemathesis.schemas import BaseSchema

Refusal = Callable[[Any], None]
"""Checks a 4xx answer (an httpx-like response) has the service's error shape."""


def json_envelope(response: Any) -> None:
    assert set(response.json()["error"]) >= {"code", "message"}, response.text


@dataclass
class Fuzzed:
    """What a fuzz run sent: answers by operation, generation mode and status class."""

    operations: int = 0
    answers: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    unsatisfiable: set[str] = field(default_factory=set)
    """Operations negative mode found nothing to break in (no parameters, no body)."""
    stateful_calls: int = 0

    def count(self, mode: GenerationMode, status: int, operation: str | None = None) -> int:
        wanted = f"{status // 100}xx"
        return sum(
            n
            for (label, m, kind), n in self.answers.items()
            if m == mode.value and kind == wanted and operation in (None, label)
        )

    def never_refused(self) -> list[str]:
        """Operations that had malformed input to answer and refused none of it (4xx)."""
        broken = {label for label, m, _ in self.answers if m == GenerationMode.NEGATIVE.value}
        return sorted(
            label
            for label in broken
            if self.count(GenerationMode.NEGATIVE, 400, label) == 0
            and label not in self.unsatisfiable
        )


@dataclass(frozen=True)
class _Target:
    base_url: str
    headers: dict[str, str]
    path_parameters: Mapping[str, str]
    form_fields: Mapping[str, str]
    refusal: Refusal
    fuzzed: Fuzzed

    def prepare(self, case: Any) -> None:
        """Pin the tenant's path parameters and the form fields, except the ones this
        (negative) case broke."""
        broken = {name for name, _ in negated_parameters(case.meta)}
        for sent, pinned in (
            (case.path_parameters, self.path_parameters),
            (case.body, self.form_fields),
        ):
            if not isinstance(sent, dict):
                continue
            for name, value in pinned.items():
                if name in sent and name not in broken:
                    sent[name] = value

    def answered(self, case: Any, response: Any) -> None:
        mode = case.meta.generation.mode if case.meta else GenerationMode.POSITIVE
        kind = f"{response.status_code // 100}xx"
        self.fuzzed.answers[(case.operation.label, mode.value, kind)] += 1
        assert response.status_code < 500, (mode, case.method, case.formatted_path, response.text)
        if response.status_code >= 400:
            self.refusal(response)


def fuzz_openapi(
    base_url: str,
    headers: Mapping[str, str],
    *,
    path_parameters: Mapping[str, str],
    max_examples: int,
    document: Mapping[str, Any] | None = None,
    tag: str | None = None,
    form_fields: Mapping[str, str] | None = None,
    refusal: Refusal = json_envelope,
    stateful: bool = True,
) -> Fuzzed:
    """Fuzz every operation of ``{base_url}/openapi.json`` (or of ``document``, for a service
    that does not publish one), only those tagged ``tag`` if given, alone in both generation
    modes and then statefully along the document's links."""
    schema: BaseSchema
    if document is None:
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    else:
        schema = schemathesis.openapi.from_dict(dict(document))
    if tag is not None:
        schema = schema.include(tag=tag)
    target = _Target(base_url, dict(headers), path_parameters, form_fields or {}, refusal, Fuzzed())
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        target.fuzzed.operations += 1
        for mode in GenerationMode:
            _fuzz(result.ok(), mode, target, max_examples)
    if stateful:
        _follow_links(schema, target, max_examples)
    return target.fuzzed


def _fuzz(operation: Any, mode: GenerationMode, target: _Target, max_examples: int) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_cleanly(case: Any) -> None:
        target.prepare(case)
        target.answered(case, case.call(base_url=target.base_url, headers=target.headers))

    try:
        answers_cleanly()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        target.fuzzed.unsatisfiable.add(operation.label)


def _follow_links(schema: BaseSchema, target: _Target, max_examples: int) -> None:
    """Schemathesis' state machine over the document's links, valid and malformed steps mixed."""
    schema.config.generation.update(modes=list(GenerationMode))
    machine: Any = schema.as_state_machine()

    class Workflow(machine):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            target.prepare(case)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": target.base_url, "headers": target.headers}

        def validate_response(self, response: Any, case: Any, *_: Any, **__: Any) -> None:
            target.fuzzed.stateful_calls += 1
            target.answered(case, response)

    Workflow.run(
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
