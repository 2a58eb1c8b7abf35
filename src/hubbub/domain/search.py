"""What a search query means, shared by every store and the snippet builder.

A query is a list of terms, each the beginning of a word: "mar lee" finds text with
a word starting "mar" and a word starting "lee", in any order. Words are runs of
letters and digits (punctuation, spaces and "_" separate them), compared after NFC
and lower-casing, with no stemming and no stop words: chat is written in every
language at once, and a language's stemmer would mangle the others. The stores match
with their own indexes (SQLite FTS5 prefix queries, PostgreSQL `to_tsquery('simple',
'term:*')`); the memory store and the snippets use `words` and `matches` below.

Snippets are returned as segments of plain text, each marked as a match or not, so a
client renders them as text nodes and never needs offsets (whose units differ between
Python and JavaScript) or HTML.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from hubbub.domain.errors import ValidationFailed

MAX_QUERY_CHARS = 100
MAX_TERMS = 8
SNIPPET_CHARS = 160
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """How stored text and queries are compared: NFC, then lower case."""
    return unicodedata.normalize("NFC", text).lower()


def words(text: str) -> list[str]:
    """The words of `text`, folded, in order."""
    return _WORD.findall(fold(text))


def terms(query: str) -> list[str]:
    """The distinct terms of a message query; `ValidationFailed` (422) when it is
    blank, holds no word, or is too long."""
    if not query.strip():
        raise ValidationFailed("q must not be empty.", details={"field": "q"})
    if len(query) > MAX_QUERY_CHARS:
        raise ValidationFailed(
            f"q must be at most {MAX_QUERY_CHARS} characters.", details={"field": "q"}
        )
    found = list(dict.fromkeys(words(query)))
    if not found:
        raise ValidationFailed("q must contain a letter or a digit.", details={"field": "q"})
    if len(found) > MAX_TERMS:
        raise ValidationFailed(f"q must have at most {MAX_TERMS} words.", details={"field": "q"})
    return found


def matches(query_terms: list[str], text: str) -> bool:
    """Whether every term begins some word of `text`."""
    have = words(text)
    return all(any(word.startswith(term) for word in have) for term in query_terms)


def fts5_query(query_terms: list[str]) -> str:
    """The terms as an FTS5 query: each a quoted prefix, all required."""
    return " ".join('"' + term.replace('"', '""') + '"*' for term in query_terms)


def tsquery(query_terms: list[str]) -> str:
    """The terms as a `to_tsquery('simple', ...)` text: each a quoted prefix, all required."""
    quoted = ("'" + term.replace("\\", "\\\\").replace("'", "''") + "':*" for term in query_terms)
    return " & ".join(quoted)


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    match: bool


def snippet(text: str, query_terms: list[str], width: int = SNIPPET_CHARS) -> list[Segment]:
    """Up to about `width` characters of `text` around its first match, as segments
    with the matched beginnings of words marked; "…" where text was cut."""
    text = unicodedata.normalize("NFC", text)
    marks: list[tuple[int, int]] = []
    for found in _WORD.finditer(text):
        word = found.group()
        folded = word.lower()
        hit = next((t for t in query_terms if folded.startswith(t)), None)
        if hit is None:
            continue
        # Lower-casing rarely changes a word's length; then the whole word is marked.
        length = len(hit) if len(folded) == len(word) else len(word)
        marks.append((found.start(), found.start() + length))
    first = marks[0][0] if marks else 0
    start = max(0, min(first - width // 3, len(text) - width))
    end = min(len(text), start + width)
    if start > 0:  # begin at a word boundary where one is near
        space = text.find(" ", start, min(first, start + 20))
        start = space + 1 if space != -1 else start
    segments: list[Segment] = []
    position = start
    for mark_start, mark_end in marks:
        if mark_start < start or mark_end > end:
            continue
        if mark_start > position:
            segments.append(Segment(text[position:mark_start], False))
        segments.append(Segment(text[mark_start:mark_end], True))
        position = mark_end
    if position < end:
        segments.append(Segment(text[position:end], False))
    if start > 0:
        segments.insert(0, Segment("…", False))
    if end < len(text):
        segments.append(Segment("…", False))
    return _merged(segments)


def _merged(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for segment in segments:
        if merged and merged[-1].match == segment.match:
            merged[-1] = Segment(merged[-1].text + segment.text, segment.match)
        else:
            merged.append(segment)
    return merged
