"""Incidents: openings, duplicates, reminders, supersedes, staleness and recoveries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from notifier.domain.incidents import (
    Duplicate,
    Mark,
    Open,
    Recovery,
    RecoveryCause,
    Remind,
    Unhealthy,
    closes,
    on_unhealthy,
)

T0 = datetime(2026, 3, 3, 14, 2, tzinfo=UTC)
DAY = timedelta(hours=24)
ORG = uuid.uuid4()


def unhealthy(reason: str = "revoked", at: datetime = T0, version: int = 1) -> Unhealthy:
    return Unhealthy(ORG, "meta_ads", reason, version, "Meta said 190", at)


def opened(reason: str = "revoked") -> Open:
    decision = on_unhealthy(None, unhealthy(reason), T0, DAY)
    assert isinstance(decision, Open)
    return decision


def test_a_first_verdict_opens_an_incident() -> None:
    incident = opened().incident
    assert (incident.reason, incident.opened_at, incident.notifications) == ("revoked", T0, 1)


def test_the_same_reason_again_is_a_duplicate_until_the_reminder_interval_passed() -> None:
    incident = opened().incident
    later = unhealthy(at=T0 + timedelta(hours=6))
    again = on_unhealthy(incident, later, T0 + timedelta(hours=6), DAY)
    assert isinstance(again, Duplicate)
    assert (again.incident.duplicates, again.incident.last_event_at) == (1, later.occurred_at)
    remind = on_unhealthy(again.incident, unhealthy(at=T0 + DAY), T0 + DAY, DAY)
    assert isinstance(remind, Remind)
    assert (remind.incident.notifications, remind.incident.last_notified_at) == (2, T0 + DAY)
    assert remind.incident.id == incident.id


def test_another_reason_supersedes_the_open_incident() -> None:
    soon = opened("reauth_soon").incident
    decision = on_unhealthy(soon, unhealthy("revoked"), T0 + timedelta(hours=1), DAY)
    assert isinstance(decision, Open)
    assert decision.superseded is not None
    assert (decision.superseded.status, decision.superseded.closed_by) == ("closed", "superseded")
    assert decision.incident.reason == "revoked"


def test_a_verdict_about_a_replaced_credential_or_from_before_a_recovery_is_stale() -> None:
    mark = Mark().after_recovery(2, T0)
    assert mark.is_stale(1, T0 + DAY)
    assert mark.is_stale(2, T0 - timedelta(seconds=1))
    assert mark.is_stale(2, T0)
    assert not mark.is_stale(2, T0 + timedelta(seconds=1))
    assert not mark.is_stale(3, T0 - DAY)
    assert not Mark().is_stale(1, T0)


def recovery(cause: RecoveryCause, version: int | None, at: datetime) -> Recovery:
    return Recovery(ORG, "meta_ads", cause, version, at)


def test_a_recovery_closes_only_what_it_speaks_about() -> None:
    incident = opened().incident
    minute = timedelta(minutes=1)
    assert closes(incident, recovery("recovered", 1, T0 + minute))
    assert not closes(incident, recovery("recovered", 1, T0 - minute))  # arrived out of order
    assert not closes(incident, recovery("recovered", 0, T0 + DAY))  # about an older credential
    assert closes(incident, recovery("reconnected", None, T0 + minute))
    assert not closes(incident, recovery("reconnected", None, T0 - minute))


def test_a_reconnect_speaks_of_the_credential_after_the_incidents() -> None:
    incident = opened().incident
    mark = Mark().after_recovery(5, T0)
    assert recovery("recovered", 3, T0).version(incident, mark) == 3
    assert recovery("reconnected", None, T0).version(incident, mark) == 2
    assert recovery("reconnected", None, T0).version(None, mark) == 5
