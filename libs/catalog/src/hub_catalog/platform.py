"""The operator's provider secrets (OAuth clients, developer tokens), by catalog env name."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import SecretStr

from hub_catalog.catalog import Catalog
from hub_catalog.model import Provider


class PlatformCredentials:
    """Read once from the environment (``from_environment``); tests pass a mapping."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = {name: SecretStr(value) for name, value in values.items() if value}

    @classmethod
    def from_environment(
        cls, catalog: Catalog, environ: Mapping[str, str] | None = None
    ) -> PlatformCredentials:
        source = os.environ if environ is None else environ
        names = {c.env for p in catalog.providers for c in p.platform_credentials}
        for provider in catalog.providers:
            if provider.shared_account is not None:
                names |= {*provider.shared_account.fields.values()}
                names |= {*provider.shared_account.extra.values()}
        return cls({name: source[name] for name in names if name in source})

    def missing(self, provider: Provider) -> list[str]:
        """The env names of ``provider``'s platform credentials that are not set."""
        return [c.env for c in provider.platform_credentials if c.env not in self._values]

    def shared(self, provider: Provider) -> dict[str, str] | None:
        """The platform's shared account for ``provider`` as ``{field: value}`` (the default
        mode's field names), or ``None`` unless every one of its variables is set."""
        account = provider.shared_account
        if account is None or any(env not in self._values for env in account.fields.values()):
            return None
        return {name: self._values[env].get_secret_value() for name, env in account.fields.items()}

    def shared_providers(self, catalog: Catalog) -> frozenset[str]:
        """Ids of the providers whose shared account is configured."""
        return frozenset(p.id for p in catalog.providers if self.shared(p) is not None)

    def values(self, provider: Provider) -> dict[str, str]:
        """``{name: value}`` of the platform credentials that are set (template values)."""
        return {
            c.name: self._values[c.env].get_secret_value()
            for c in provider.platform_credentials
            if c.env in self._values
        }
