"""Keyset pages, newest first, of the timelines the store keeps (history, credential reads)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from connection_store import domain, errors


class _Numbered(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=_Numbered)


def before(cursor: str | None) -> int | None:
    """The id a page starts below: the last page's ``next_cursor``; a bad one is a 4xx."""
    try:
        return domain.history_cursor(cursor)
    except ValueError:
        raise errors.InvalidCursorError() from None


def page(records: Sequence[R], limit: int) -> tuple[Sequence[R], str | None]:
    """Of ``limit + 1`` records fetched: the ``limit`` shown and the cursor of the next page."""
    shown = records[:limit]
    return shown, str(shown[-1].id) if len(records) > limit else None
