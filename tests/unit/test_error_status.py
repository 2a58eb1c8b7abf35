"""Domain errors become HTTP statuses by their class, subclasses included."""

from __future__ import annotations

from hubbub.domain.errors import Conflict, NotFound, RateLimited
from hubbub.ports import LostRace, TokenReused
from hubbub.server.errors import status_of


def test_subclasses_answer_like_their_parent() -> None:
    assert status_of(LostRace("Duplicate message.")) == 409
    assert status_of(TokenReused("family")) == 401
    assert status_of(Conflict("x")) == 409
    assert status_of(NotFound("x")) == 404
    assert status_of(RateLimited("x", retry_after=1)) == 429
