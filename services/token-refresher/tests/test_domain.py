"""Backoff, cool-downs, messages, the settled-version book and the commit point of a partition
whose records finish out of order."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from hub_catalog import load_catalog
from token_refresher import domain
from token_refresher.domain import PartitionProgress, SettledVersions, Ticket

GOOGLE = load_catalog().get("google_ads")


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)])
def test_backoff_doubles_to_a_cap_with_jitter(attempt: int, ceiling: float) -> None:
    rng = random.Random(7)
    pauses = [domain.backoff_s(attempt, 0.5, 4.0, rng) for _ in range(200)]
    assert all(ceiling / 2 <= p <= ceiling for p in pauses)
    assert len(set(pauses)) > 100  # jittered, not in step


def test_cool_down_prefers_retry_after_then_doubles_the_default() -> None:
    assert domain.cooldown_s(12, default_s=5, max_s=60, consecutive=3) == 12
    assert domain.cooldown_s(9999, default_s=5, max_s=60, consecutive=1) == 60
    assert domain.cooldown_s(None, default_s=5, max_s=60, consecutive=1) == 5
    assert domain.cooldown_s(None, default_s=5, max_s=60, consecutive=3) == 20
    assert domain.cooldown_s(None, default_s=5, max_s=60, consecutive=9) == 60
    assert domain.cooldown_s(0, default_s=5, max_s=60, consecutive=1) == domain.MIN_COOLDOWN_S


def test_messages_say_what_to_do_next() -> None:
    ends = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert domain.revoked_message(GOOGLE, 400, "invalid_grant") == (
        "Google Ads no longer accepts this connection's saved authorization (HTTP 400, "
        "invalid_grant): it was revoked or has expired. Reconnect Google Ads in Settings → "
        "Integrations."
    )
    assert "2026-12-01 09:30 UTC" in domain.reminder_message(GOOGLE, ends)
    assert "Sync now" in domain.unavailable_message(GOOGLE, 4, 503)
    assert "operator" in domain.misconfigured_message(GOOGLE, 401, "invalid_client")


def test_settled_versions_only_move_forward() -> None:
    book = SettledVersions()
    connection = uuid.uuid4()
    assert not book.is_settled(connection, 1)
    book.settle(connection, 3)
    book.settle(connection, 2)
    assert book.settled(connection) == 3
    assert book.is_settled(connection, 3)
    assert not book.is_settled(connection, 4)
    assert len(book) == 1


def _ticket(progress: PartitionProgress, offset: int) -> Ticket:
    ticket = progress.start(offset)
    assert ticket is not None
    return ticket


def test_nothing_to_commit_before_anything_finished() -> None:
    progress = PartitionProgress()
    assert progress.pending_commit() is None
    progress.start(10)
    assert progress.commit_point() == 10


def test_commit_point_is_the_oldest_unfinished_record() -> None:
    progress = PartitionProgress()
    tickets = [_ticket(progress, offset) for offset in (10, 11, 12, 15)]
    progress.finish(tickets[1])
    progress.finish(tickets[3])
    assert progress.commit_point() == 10  # 10 still running: 11 and 15 wait for it
    progress.finish(tickets[0])
    assert progress.commit_point() == 12
    progress.finish(tickets[2])
    assert progress.commit_point() == 16  # gaps in offsets are fine
    assert progress.in_flight == 0


def test_pending_commit_only_when_the_point_moved() -> None:
    progress = PartitionProgress()
    progress.finish(_ticket(progress, 3))
    assert progress.pending_commit() == 4
    progress.committed = 4
    assert progress.pending_commit() is None
    progress.start(4)
    assert progress.pending_commit() is None


def test_an_offset_handed_out_again_gets_no_second_ticket() -> None:
    progress = PartitionProgress()
    first = progress.start(5)
    assert first is not None
    assert progress.start(5) is None
    progress.finish(first)
    assert progress.start(4) is None
    assert progress.start(6) is not None
