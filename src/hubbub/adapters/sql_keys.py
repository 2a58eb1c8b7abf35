"""Rows by many (conversation id, key) pairs in one statement, for SQLite and PostgreSQL:
an OR of index prefixes, so each pair is one indexed lookup."""

from __future__ import annotations

from collections.abc import Sequence


def pairs_matching(column: str, pairs: int, mark: str = "%s") -> str:
    """The WHERE condition for `pairs` (conversation_id, `column`) pairs, `mark` being
    the driver's placeholder."""
    one = f"(conversation_id = {mark} AND {column} = {mark})"
    return " OR ".join([one] * pairs)


def distinct_pairs(keys: Sequence[tuple[str, object]]) -> list[tuple[str, object]]:
    return list(dict.fromkeys(keys))


def flattened(pairs: Sequence[tuple[str, object]]) -> list[object]:
    """The pairs' values in the order `pairs_matching` asks for them."""
    return [value for pair in pairs for value in pair]
