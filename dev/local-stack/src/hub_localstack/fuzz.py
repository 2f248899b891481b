"""SECURITY.md 25 for any service: fuzz every operation of its OpenAPI document with schemathesis.

Malformed input must be a 4xx answer in the ``{"error": {"code", "message"}}`` envelope, never a
5xx. Path parameters named in ``path_parameters`` (the token's organization, say) are pinned so
the cases get past the tenancy check and reach the body and query decoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Err


def fuzz_openapi(
    base_url: str,
    headers: Mapping[str, str],
    *,
    path_parameters: Mapping[str, str],
    max_examples: int,
) -> int:
    """Fuzz every operation of ``{base_url}/openapi.json``; the number of operations fuzzed."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    sent = dict(headers)

    for operation in operations:

        @given(case=operation.as_strategy())
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
            response = case.call(base_url=base_url, headers=sent)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code >= 400:
                assert set(response.json()["error"]) >= {"code", "message"}

        answers_cleanly()
    return len(operations)
