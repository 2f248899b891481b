"""A token endpoint's answer, secrets wrapped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

_NOT_EXTRA = frozenset({"expires_in", "scope", "token_type"})


@dataclass(frozen=True)
class TokenSet:
    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """Non-secret facts of the answer (Slack ``team``, TikTok ``advertiser_ids``...)."""

    @classmethod
    def from_answer(
        cls,
        data: Mapping[str, Any],
        *,
        scope_separator: str = " ",
        now: datetime | None = None,
        default_lifetime_s: int | None = None,
    ) -> TokenSet:
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("token answer has no access_token")
        refresh = data.get("refresh_token")
        expires_in = data.get("expires_in") or default_lifetime_s
        expires_at = None
        if isinstance(expires_in, int | float | str) and str(expires_in).isdigit():
            expires_at = (now or datetime.now(UTC)) + timedelta(seconds=int(expires_in))
        scope = data.get("scope")
        scopes = scope.split(scope_separator) if isinstance(scope, str) and scope else []
        return cls(
            access_token=SecretStr(access),
            refresh_token=SecretStr(refresh) if isinstance(refresh, str) and refresh else None,
            expires_at=expires_at,
            scopes=[s.strip() for s in scopes if s.strip()],
            extra={
                k: v
                for k, v in data.items()
                if k not in _NOT_EXTRA and "token" not in k and "secret" not in k
            },
        )
