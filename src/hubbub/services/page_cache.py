"""History pages kept in process memory, keyed by where the conversation's log stood.

A page of history shows each message as it is now: its body, deletion, reactions and
the quote of the message it replies to, all of the same conversation. Every change to
any of these (send, edit, delete, reaction) writes an entry to the conversation's log in
the same transaction, which moves the conversation's `last_event_seq`. A page read
together with the `last_event_seq` of the same read transaction is therefore the page
for that position, and can be served again to any member who reads the same position
later, in this process or after a change elsewhere: a change anywhere (another process
included) moves the position, and the old entry is simply never asked for again. So
nothing needs invalidating and nothing travels between processes; process memory stays
a cache, never the truth. The page is the same for every member (no per-viewer field).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

# (conversation id, last_event_seq, before, after, count)
PageKey = tuple[str, int, int | None, int | None, int]
# Bounded by the messages held (a page holds up to 200): a few MiB of JSON at most.
MAX_MESSAGES = 10_000


class PageCache:
    """Least recently used pages as encoded response bodies (immutable, so one can be
    handed to many callers), at most `max_messages` messages in all. Used from
    transaction functions, which some stores run on worker threads: hence the lock."""

    def __init__(self, max_messages: int = MAX_MESSAGES) -> None:
        self._pages: OrderedDict[PageKey, tuple[bytes, int]] = OrderedDict()
        self._held = 0
        self._max = max_messages
        self._lock = threading.Lock()

    def get(self, key: PageKey) -> bytes | None:
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return None
            self._pages.move_to_end(key)
            return found[0]

    def put(self, key: PageKey, body: bytes, messages: int) -> None:
        """Keeps `body`, a page of `messages` messages."""
        with self._lock:
            if messages > self._max or key in self._pages:
                return
            self._pages[key] = (body, messages)
            self._held += messages
            while self._held > self._max:
                _, (_, dropped) = self._pages.popitem(last=False)
                self._held -= dropped
