"""Reading provider answers: the catalog's response matches against a status and a JSON body.

The provider sandbox, the token refresher and the health monitor all ask the same questions (did
it work, was the credential revoked, are we rate limited), so they answer them here, from data.

Paths are dotted; a segment of digits indexes a list (``errors.0.extensions.code``). A missing
path never matches, and values compare by type as well as value (``190`` is not ``"190"``, and
``true`` is not ``1``).
"""

from __future__ import annotations

from typing import Any, Literal

from hub_catalog.model import Provider, RequestSpec, ResourceListing, ResponseMatch

Signal = Literal["revoked", "rate_limited"]


class _Missing:
    """The value at a path that is not there (JSON ``null`` is there)."""


MISSING: Any = _Missing()


def value_at(body: Any, path: str) -> Any:
    """The JSON value at a dotted path, or ``MISSING``."""
    current = body
    for segment in path.split("."):
        if isinstance(current, dict) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            return MISSING
    return current


def matches(match: ResponseMatch, status: int, body: Any) -> bool:
    """Whether a response with ``status`` and parsed JSON ``body`` satisfies ``match``."""
    if match.status is not None and status not in match.status:
        return False
    if match.path is None or match.values is None:
        return True
    found = value_at(body, match.path)
    return any(type(found) is type(value) and found == value for value in match.values)


def classify(provider: Provider, status: int, body: Any) -> Signal | None:
    """``"revoked"`` or ``"rate_limited"`` by the provider's error signals (in that order)."""
    if any(matches(m, status, body) for m in provider.errors.revoked):
        return "revoked"
    if any(matches(m, status, body) for m in provider.errors.rate_limited):
        return "rate_limited"
    return None


def succeeded(request: RequestSpec, status: int, body: Any) -> bool:
    """A 2xx status and every ``success`` match of the request (Slack ``ok: true``)."""
    return 200 <= status < 300 and all(matches(m, status, body) for m in request.success)


def example_body(match: ResponseMatch) -> Any:
    """The smallest JSON body that satisfies ``match``'s path and first value (``{}`` without a
    path): what a fake provider answers to play this signal."""
    if match.path is None or not match.values:
        return {}
    body: Any = match.values[0]
    for segment in reversed(match.path.split(".")):
        body = [None] * int(segment) + [body] if segment.isdigit() else {segment: body}
    return body


def resource_items(listing: ResourceListing, body: Any) -> list[tuple[str, str]] | None:
    """``(id, name)`` of every item a listing's answer holds (the id stands in for a missing
    name), or ``None`` when ``items_path`` is not a list. Items without an id are skipped."""
    found = value_at(body, listing.items_path)
    if not isinstance(found, list):
        return None
    items: list[tuple[str, str]] = []
    for item in found:
        raw = item if listing.id_path is None else value_at(item, listing.id_path)
        if not isinstance(raw, str | int) or isinstance(raw, bool) or raw == "":
            continue
        ident = str(raw).removeprefix(listing.id_prefix)
        name = value_at(item, listing.name_path) if listing.name_path else MISSING
        items.append((ident, str(name) if isinstance(name, str | int) else ident))
    return items
