"""``hubctl catalog``: load (and so check) the provider catalog, and describe it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub_catalog import Catalog, Provider, load_catalog


def load(path: Path | None = None) -> Catalog:
    """The catalog, checked as every service loads it (raises ``CatalogError``/``ValueError``)."""
    return load_catalog(path)


def summary(provider: Provider) -> dict[str, Any]:
    return {
        "id": provider.id,
        "name": provider.name,
        "category": provider.category,
        "scope": provider.scope.value,
        "auth": ", ".join(mode.type.value for mode in provider.auth_modes),
    }


def detail(provider: Provider) -> dict[str, Any]:
    return provider.model_dump(mode="json", exclude_none=True)
