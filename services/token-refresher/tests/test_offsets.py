"""The commit point of a partition whose records finish out of order."""

from __future__ import annotations

import pytest
from token_refresher.offsets import PartitionProgress


def test_nothing_to_commit_before_anything_finished() -> None:
    progress = PartitionProgress()
    assert progress.pending_commit() is None
    progress.start(10)
    assert progress.commit_point() == 10


def test_commit_point_is_the_oldest_unfinished_record() -> None:
    progress = PartitionProgress()
    tickets = [progress.start(offset) for offset in (10, 11, 12, 15)]
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
    ticket = progress.start(3)
    progress.finish(ticket)
    assert progress.pending_commit() == 4
    progress.committed = 4
    assert progress.pending_commit() is None
    progress.start(4)
    assert progress.pending_commit() is None


def test_offsets_must_come_in_order() -> None:
    progress = PartitionProgress()
    progress.start(5)
    with pytest.raises(ValueError, match="handed out after"):
        progress.start(5)
