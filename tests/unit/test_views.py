"""A conversation as one member sees it, derived from the view every member shares."""

from __future__ import annotations

from hubbub.domain.views import as_seen_by


def test_the_viewers_read_marker_and_unread_count_come_from_member_read_seqs() -> None:
    shared = {
        "id": "c",
        "lastSeq": 7,
        "readSeq": 0,
        "unreadCount": 0,
        "memberReadSeqs": {"ana": 7, "bob": 3},
    }
    assert as_seen_by(shared, "bob") == {**shared, "readSeq": 3, "unreadCount": 4}
    assert as_seen_by(shared, "ana")["unreadCount"] == 0
    assert shared["readSeq"] == 0  # the shared view itself is untouched
