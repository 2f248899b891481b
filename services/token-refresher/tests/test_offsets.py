"""The commit point of a partition whose records finish out of order."""

from __future__ import annotations

from token_refresher.offsets import PartitionProgress, Ticket


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
