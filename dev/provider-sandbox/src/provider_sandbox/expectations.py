"""What an incoming request must carry, read from catalog templates.

Every template of a catalog request (its URL's query, headers, query, form and JSON body, its
``auth`` placements and the auth mode's ``transport``) is a pattern: literal text must be there
byte for byte, and each ``{placeholder}`` binds the value found in its place. The caller judges
the bound values (an issued token, an API key of the right shape, a platform credential).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hub_catalog import Placement, RequestSpec, value_at

from provider_sandbox.call import Incoming
from provider_sandbox.endpoints import compile_template

Reader = Callable[[Incoming], dict[str, str] | None]


@dataclass(frozen=True)
class Template:
    names: frozenset[str]
    regex: re.Pattern[str]

    def bind(self, value: str | None) -> dict[str, str] | None:
        found = None if value is None else self.regex.fullmatch(value)
        return None if found is None else found.groupdict()


@cache
def template(text: str) -> Template:
    regex = compile_template(text, ".+?")
    return Template(names=frozenset(regex.groupindex), regex=regex)


@dataclass(frozen=True)
class Expectation:
    where: str
    names: frozenset[str]
    read: Reader


@dataclass
class Reading:
    values: dict[str, str]
    unmet: list[Expectation] = field(default_factory=list)

    def lacks(self, names: frozenset[str] | set[str]) -> bool:
        """Whether an unmet expectation would have carried one of ``names``."""
        return any(expectation.names & names for expectation in self.unmet)

    def problems(self) -> list[str]:
        return [f"{expectation.where} is not as the catalog says" for expectation in self.unmet]


def expectations(
    request: RequestSpec | None, placements: Sequence[Placement] = ()
) -> list[Expectation]:
    found = [_placement(placement) for placement in placements]
    if request is None:
        return found
    query = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True)) | request.query
    found += [_header(name, value) for name, value in request.headers.items()]
    found += [_query(name, value) for name, value in query.items()]
    if request.form_body is not None:
        found += [_form(name, value) for name, value in request.form_body.items()]
    if request.json_body is not None:
        found += _json((), request.json_body)
    return found


def read(incoming: Incoming, expected: Sequence[Expectation], known: Mapping[str, str]) -> Reading:
    """Bind every expectation's placeholders, starting from values already ``known`` (the
    URL's); a value bound twice must agree."""
    reading = Reading(values=dict(known))
    for expectation in expected:
        bound = expectation.read(incoming)
        if bound is None or any(reading.values.get(k, v) != v for k, v in bound.items()):
            reading.unmet.append(expectation)
        else:
            reading.values.update(bound)
    return reading


def _placement(placement: Placement) -> Expectation:
    if placement.kind == "basic":
        username = template(placement.username or "")
        password = template(placement.password or "")

        form_encoded = placement.basic_encoding == "form"

        def basic(incoming: Incoming) -> dict[str, str] | None:
            pair = incoming.basic(form_encoded=form_encoded)
            if pair is None:
                return None
            user, secret = username.bind(pair[0]), password.bind(pair[1])
            return None if user is None or secret is None else user | secret

        return Expectation("basic auth", username.names | password.names, basic)
    if placement.kind == "header":
        return _header(placement.name or "", placement.value or "")
    return _query(placement.name or "", placement.value or "")


def _header(name: str, value: str) -> Expectation:
    pattern = template(value)
    return Expectation(
        f"header {name!r}", pattern.names, lambda incoming: pattern.bind(incoming.header(name))
    )


def _query(name: str, value: str) -> Expectation:
    pattern = template(value)
    return Expectation(
        f"query parameter {name!r}",
        pattern.names,
        lambda incoming: pattern.bind(incoming.query.get(name)),
    )


def _form(name: str, value: str) -> Expectation:
    pattern = template(value)

    def field_(incoming: Incoming) -> dict[str, str] | None:
        form = incoming.form()
        return None if form is None else pattern.bind(form.get(name))

    return Expectation(f"form field {name!r}", pattern.names, field_)


def _json(steps: tuple[str, ...], expected: Any) -> list[Expectation]:
    """One expectation per leaf of a JSON body template, at its dotted path."""
    if isinstance(expected, dict):
        return [e for key, item in expected.items() for e in _json((*steps, key), item)]
    if isinstance(expected, list):
        return [e for i, item in enumerate(expected) for e in _json((*steps, str(i)), item)]
    path = ".".join(steps)
    where = f"JSON body {path or 'value'}"
    if isinstance(expected, str):
        pattern = template(expected)

        def text(incoming: Incoming) -> dict[str, str] | None:
            found = value_at(incoming.json(), path)
            return pattern.bind(found) if isinstance(found, str) else None

        return [Expectation(where, pattern.names, text)]

    def literal(incoming: Incoming) -> dict[str, str] | None:
        found = value_at(incoming.json(), path)
        return {} if type(found) is type(expected) and found == expected else None

    return [Expectation(where, frozenset(), literal)]
