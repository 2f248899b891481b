"""Recorded provider answers: ``fixtures/<provider>.yaml``, one set per provider, each answer
copied from the provider's public documentation (its ``source`` says where).

The sandbox plays these, not answers built from the catalog's own match rules, so a catalog
entry that misreads a provider fails the sandbox's tests instead of passing by construction.
Answer names: ``health``, ``identity`` (when its URL differs from health's), ``mint``,
``refresh_refused`` (the token endpoint refusing a refresh or re-exchange), ``resource.<kind>``
(a picker listing), ``revocation`` (the answer to the catalog's own revocation request),
``revoked``, ``rate_limited``, ``server_error``. A value that must be the
call's own (the account, an issued token) is a placeholder: ``"{account_name}"``,
``"{account_id}"``, ``"{access_token}"``, ``"{expires_in}"`` (a whole-string placeholder keeps
the value's type).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Expect = Literal["success", "revoked", "rate_limited", "error"]
FIXTURES = Path(__file__).with_name("fixtures")
REQUIRED = ("revoked", "rate_limited", "server_error")
"""Every provider records these, or says under ``undocumented`` why it cannot."""
PLACEHOLDERS = ("account_name", "account_id", "access_token", "expires_in")


class Recording(BaseModel):
    """One answer as the provider's documentation shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=8)
    """Where the documentation shows it (page, section); a reconstruction says so in ``note``."""
    status: int = Field(ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    expect: Expect
    """What ``hub_catalog`` must read from it: a success, a revocation, a rate limit, an error."""
    note: str | None = None


class Recordings(BaseModel):
    """A provider's recorded answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    answers: dict[str, Recording]
    account_id: str | None = None
    """The sandbox account's id where the provider's ids have a shape a setting checks (Google
    Ads customers are ten digits); ``sbx-<provider>-account`` otherwise."""
    undocumented: dict[str, str] = Field(default_factory=dict)
    """Answer name → why the documentation gives none (GA4's Measurement Protocol never refuses)."""

    def get(self, name: str) -> Recording | None:
        return self.answers.get(name)


@cache
def load_recordings(directory: Path = FIXTURES) -> dict[str, Recordings]:
    """Every provider's recordings by provider id (validated)."""
    found: dict[str, Recordings] = {}
    for path in sorted(directory.glob("*.yaml")):
        recordings = Recordings.model_validate(yaml.safe_load(path.read_text()))
        if recordings.provider != path.stem:
            raise ValueError(f"{path.name} records {recordings.provider!r}, not {path.stem!r}")
        missing = [n for n in REQUIRED if n not in recordings.answers | recordings.undocumented]
        if missing:
            raise ValueError(f"{path.name} lacks {', '.join(missing)} (record or explain them)")
        found[recordings.provider] = recordings
    return found


def fill(value: Any, values: Mapping[str, Any]) -> Any:
    """The recorded JSON with the call's own values in place of its placeholders."""
    if isinstance(value, str):
        for name in PLACEHOLDERS:
            token = "{" + name + "}"
            if value == token and name in values:
                return values[name]
            if token in value and name in values:
                value = value.replace(token, str(values[name]))
        return value
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    return value
