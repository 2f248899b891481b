"""The monitor's rules, no I/O: a provider call's result → ``Outcome`` → ``Verdict``; a verdict
against the connection's status → a ``Transition`` (or nothing); the message a person reads."""

from health_monitor.domain.message import message, platform_message
from health_monitor.domain.outcome import (
    REASONS,
    TRANSIENT,
    Outcome,
    Verdict,
    code_of,
    outcome_of,
    retry_after,
)
from health_monitor.domain.plan import Plan, bad_value, plan, platform_names, typed
from health_monitor.domain.transition import (
    EXPIRED_REASONS,
    Previous,
    Status,
    Transition,
    transition,
)

__all__ = [
    "EXPIRED_REASONS",
    "REASONS",
    "TRANSIENT",
    "Outcome",
    "Plan",
    "Previous",
    "Status",
    "Transition",
    "Verdict",
    "bad_value",
    "code_of",
    "message",
    "outcome_of",
    "plan",
    "platform_message",
    "platform_names",
    "retry_after",
    "transition",
    "typed",
]
