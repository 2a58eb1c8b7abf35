"""The words of display names beside usernames (`user_name_words`, SQLite migration 12,
PostgreSQL migration 10), for SQLite and PostgreSQL alike: what keeps a user search by
one word flat as users grow (issue 12, B10).

The full-text indexes find every user whose name has a word starting "mar", but the
answer is the first few *by username*: fetching and sorting all matches costs as many
rows as there are matches (6,250 of 100,000 users for "mar" in B10). Here each distinct
word is a range of the primary key (word, username), already in username order: the
first `limit` users of each word starting with the term are read off the index and
merged, so the work grows with the number of distinct words that start with the term,
never with the number of users. A store writes a user's words with the user
(`hubbub.domain.search.words`, the memory store's own splitting).
"""

from __future__ import annotations

from collections.abc import Sequence

from hubbub.adapters.sql_sync import Statements
from hubbub.domain import search

# A term that begins more distinct words than this (one or two letters in a big
# deployment) is answered by the full-text index instead: one lookup per word would
# cost more than sorting its matches.
MAX_WORDS = 64
_TOP = "\U0010ffff"


class SqlNameWords:
    def __init__(self, sql: Statements) -> None:
        self._sql = sql

    def put(self, user_id: str, username: str, display_name: str) -> None:
        """Makes the user's words those of `display_name` (an insert or a rename)."""
        self._sql.run("DELETE FROM user_name_words WHERE user_id = %s", user_id)
        for word in sorted(set(search.words(display_name))):
            self._sql.run(
                "INSERT INTO user_name_words (word, username, user_id) VALUES (%s, %s, %s)",
                word,
                username,
                user_id,
            )

    def forget(self, user_id: str) -> None:
        self._sql.run("DELETE FROM user_name_words WHERE user_id = %s", user_id)

    def first(self, term: str, *, exclude_id: str, limit: int) -> list[str] | None:
        """The ids of the first `limit` confirmed users but `exclude_id`, by username,
        with a display-name word starting with `term`; None when the term begins more
        than `MAX_WORDS` distinct words (the caller asks the full-text index)."""
        words = self._words(term)
        if words is None:
            return None
        if not words:
            return []
        # One statement, one arm per word (a round trip each would dominate on a network).
        arm = (
            "SELECT * FROM (SELECT w.username, w.user_id FROM user_name_words w"
            " JOIN users u ON u.id = w.user_id"
            " WHERE w.word = %s AND u.confirmed = %s AND u.id != %s"
            " ORDER BY w.username LIMIT %s) AS a{n}"
        )
        args: list[object] = []
        for word in words:
            args += [word, True, exclude_id, limit]
        rows = self._sql.all(" UNION ALL ".join(arm.format(n=n) for n in range(len(words))), *args)
        found = sorted((str(row["username"]), str(row["user_id"])) for row in rows)
        return _first_distinct(found, limit)

    def _words(self, term: str) -> list[str] | None:
        """The distinct words starting with `term`, one index probe each (a skip scan:
        the next word is the least one above the last)."""
        rows = self._sql.all(
            "WITH RECURSIVE v(word) AS ("
            " SELECT (SELECT min(word) FROM user_name_words WHERE word >= %s AND word < %s)"
            " UNION ALL"
            " SELECT (SELECT min(word) FROM user_name_words WHERE word > v.word AND word < %s)"
            " FROM v WHERE v.word IS NOT NULL)"
            " SELECT word FROM v WHERE word IS NOT NULL LIMIT %s",
            term,
            term + _TOP,
            term + _TOP,
            MAX_WORDS + 1,
        )
        words = [str(row["word"]) for row in rows]
        return words if len(words) <= MAX_WORDS else None


def _first_distinct(found: Sequence[tuple[str, str]], limit: int) -> list[str]:
    ids: list[str] = []
    for _, user_id in found:
        if user_id not in ids:
            ids.append(user_id)
            if len(ids) == limit:
                break
    return ids
