"""When a token is due again: from the lifetime the provider really issued, never a hot loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from connection_store import domain
from hub_catalog import AuthType, load_catalog

CATALOG = load_catalog()
GOOGLE_ADS = CATALOG.get("google_ads").mode(AuthType.OAUTH2_AUTHORIZATION_CODE)
"""A refresh grant with a 600 s lead."""
PAYPAL = CATALOG.get("paypal").auth
"""A re-mint."""
ISSUED = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _due_after(mode: object, lifetime_s: float) -> float:
    due = domain.next_refresh_at(mode, ISSUED + timedelta(seconds=lifetime_s), ISSUED)  # type: ignore[arg-type]
    assert due is not None
    return (due - ISSUED).total_seconds()


def test_a_token_longer_than_the_lead_is_due_the_lead_before_expiry() -> None:
    assert GOOGLE_ADS.refresh_lead_s == 600
    assert _due_after(GOOGLE_ADS, 3600) == 3000


@pytest.mark.parametrize("mode", [GOOGLE_ADS, PAYPAL], ids=["refresh", "remint"])
def test_a_token_shorter_than_the_lead_is_due_at_three_quarters_of_its_life(mode: object) -> None:
    assert _due_after(mode, 60) == 45


@pytest.mark.parametrize(
    ("lifetime_s", "due_after_s"),
    [
        (601, 30),  # just over the lead: the lead would leave 1 s; the floor says 30
        (10, 7.5),  # shorter than twice the floor: three quarters of it
        (0, 30),  # expired as issued: still not due at once
        (-5, 30),
    ],
)
def test_a_token_is_never_due_again_right_after_it_was_issued(
    lifetime_s: float, due_after_s: float
) -> None:
    assert _due_after(GOOGLE_ADS, lifetime_s) == due_after_s


def test_a_60_s_token_is_refreshed_once_per_lifetime_not_once_per_sweep() -> None:
    """Ten minutes of sweeps every 5 s against a provider that issues 60 s tokens."""
    now, expires, issued = ISSUED, ISSUED + timedelta(seconds=60), ISSUED
    due = domain.next_refresh_at(GOOGLE_ADS, expires, issued)
    refreshes = 0
    while now < ISSUED + timedelta(minutes=10):
        now += timedelta(seconds=5)
        if due is not None and due <= now:
            refreshes += 1
            issued, expires = now, now + timedelta(seconds=60)
            due = domain.next_refresh_at(GOOGLE_ADS, expires, issued)
        assert expires > now, "the token never lapses between refreshes"
    assert refreshes == 13  # one per 45 s of a 60 s token, not one per sweep (120)


def test_no_refresh_is_scheduled_without_an_expiry_or_a_strategy() -> None:
    assert domain.next_refresh_at(GOOGLE_ADS, None, ISSUED) is None
    assert domain.next_refresh_at(None, ISSUED, ISSUED) is None
