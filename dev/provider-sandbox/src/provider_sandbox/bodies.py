"""Building JSON bodies at the catalog's dotted paths (``data.shop.name``, ``0.details.name``)."""

from __future__ import annotations

from typing import Any


def place(body: Any, path: str, value: Any) -> Any:
    """Set ``value`` at ``path``, creating objects (or lists, for numeric steps) on the way.

    Returns the body, which is created when ``body`` is not a container of the right kind.
    """
    head, _, rest = path.partition(".")
    if head.isdigit():
        items: list[Any] = body if isinstance(body, list) else []
        index = int(head)
        items.extend({} for _ in range(index + 1 - len(items)))
        items[index] = place(items[index], rest, value) if rest else value
        return items
    mapping: dict[str, Any] = body if isinstance(body, dict) else {}
    mapping[head] = place(mapping.get(head), rest, value) if rest else value
    return mapping
