"""The list of common passwords shipped with the package (`hubbub/data/common-passwords.txt`,
its source and licence in its header), read on first use, not at import: a process that
never checks a password never pays for it."""

from __future__ import annotations

import functools
from importlib import resources

RESOURCE = "data/common-passwords.txt"


class ShippedCommonPasswords:
    """A `Container[str]` of lowercase common passwords for `rules.password`."""

    def __contains__(self, candidate: object) -> bool:
        return candidate in load()


@functools.cache
def load() -> frozenset[str]:
    """Every entry of the shipped list, once per process."""
    text = resources.files("hubbub").joinpath(RESOURCE).read_text(encoding="utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )
