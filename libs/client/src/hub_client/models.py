"""The typed answers of the hub."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from hub_contracts import Account
from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr


class Credential(BaseModel):
    """A provider credential of one brand, fresh for at least the ``min_ttl_s`` asked for.

    ``fields`` are ``SecretStr`` (a stray log line shows ``**********``); they hold what the
    provider's transport needs: the access token, API keys... Use ``provider_auth`` rather than
    placing them yourself. Keep it in memory for one job; never store or log it.
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    organization_id: uuid.UUID
    provider: str
    auth_type: str | None
    """The catalog mode (``api_key``, ``oauth2_authorization_code``...); ``None``: the default."""
    fields: dict[str, SecretStr]
    expires_at: datetime | None = None
    account: Account = Field(default_factory=Account)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    credential_version: Annotated[int, Field(ge=0)]
    """0 for the platform's shared account (``metadata.account_source`` ``"platform"``)."""

    def value(self, name: str) -> str:
        """One field's plaintext (``KeyError`` naming the fields held when it is absent)."""
        try:
            return self.fields[name].get_secret_value()
        except KeyError:
            raise KeyError(
                f"{self.provider} credential has no {name!r}; it holds {sorted(self.fields)}"
            ) from None
