"""What a person reads in ``connection.unhealthy``: what happened and what to do next."""

from __future__ import annotations

from hub_catalog import WHERE, AuthMode, Provider, RefreshStrategy

from health_monitor.domain.outcome import Outcome, Verdict
from health_monitor.domain.plan import typed


def _labels(mode: AuthMode) -> str:
    labels = [field.label for field in mode.fields]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _what(verdict: Verdict) -> str:
    parts = [] if verdict.status_code is None else [f"HTTP {verdict.status_code}"]
    if verdict.code:
        parts.append(verdict.code)
    return ", ".join(parts) or "no answer"


def message(provider: Provider, mode: AuthMode, verdict: Verdict) -> str:
    """What happened and what a person should do next, in plain words."""
    name = provider.name
    settings = f"{WHERE} → {name}"
    match verdict.outcome:
        case Outcome.REVOKED if not typed(mode):
            if mode.refresh == RefreshStrategy.LONG_LIVED_REMINDER:
                return f"{name} access has expired or was revoked — reconnect {name} in {WHERE}."
            return f"{name} token was revoked — reconnect {name} in {WHERE}."
        case Outcome.REVOKED:
            again = "a new one" if len(mode.fields) == 1 else "new ones"
            return f"{name} refused the {_labels(mode)} — enter {again} in {settings}."
        case Outcome.PERMISSION if not typed(mode):
            return (
                f"{name} refused the health check for lack of permission ({_what(verdict)}) — "
                f"reconnect {name} in {WHERE} and grant every permission it asks for."
            )
        case Outcome.PERMISSION:
            return (
                f"{name} accepted the {_labels(mode)} but refused the health check for lack of "
                f"permission ({_what(verdict)}) — give it the missing permission at {name}, or "
                f"enter one that has it in {settings}."
            )
        case Outcome.MALFORMED:
            return (
                f"The stored {verdict.field or 'credential'} for {name} is missing or not in the "
                f"expected format — enter it again in {settings}."
                if typed(mode)
                else f"The stored {name} access token is missing — reconnect {name} in {WHERE}."
            )
        case Outcome.UNAVAILABLE:
            return (
                f"{name} did not answer the health check {verdict.attempts} times in a row "
                f"({_what(verdict)}) — nothing to do yet, we keep checking; if it lasts, check "
                f"{name}'s status page, then use Sync now in {settings}."
            )
        case _:
            return (
                f"{name} refused the health check ({_what(verdict)}) — check the {name} "
                f"settings in {WHERE}, then use Sync now; if it persists, reconnect {name}."
            )


def platform_message(provider: Provider, verdict: Verdict) -> str:
    """What the platform's operators should do about their own shared account at ``provider``."""
    account = provider.shared_account
    names = ", ".join(sorted(account.fields.values())) if account else "its credentials"
    if verdict.outcome == Outcome.UNAVAILABLE:
        return (
            f"{provider.name} did not answer {verdict.attempts} checks of the platform's account "
            f"({_what(verdict)}); every brand using it is affected — check {provider.name}'s "
            "status page."
        )
    return (
        f"{provider.name} refused the platform's shared account ({_what(verdict)}); every brand "
        f"using it is affected — replace {names} in the deployment's secrets and restart."
    )
