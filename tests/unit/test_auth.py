"""Local identity: confirmation codes and the tokens it refuses."""

from __future__ import annotations

import jwt
import pytest

from hubbub.domain.errors import NotConfirmed, Unauthorized, ValidationFailed
from hubbub.ports import Session
from tests.unit.conftest import KEY, World


async def test_confirmation_codes_gate_sign_in(world: World) -> None:
    user, required = await world.auth.sign_up("dana", "dana@x.io", "pass phrase 1", "Dana", "ip")
    assert required is True and user.confirmed is False
    with pytest.raises(NotConfirmed):
        await world.auth.sign_in("dana", "pass phrase 1", "ip")
    code = world.codes.codes["dana"]
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(ValidationFailed):
        await world.auth.confirm("dana", wrong)
    await world.auth.resend_code("dana")
    assert len(world.codes.codes["dana"]) == 6
    confirmed = await world.auth.confirm("dana", world.codes.codes["dana"])
    assert confirmed.confirmed is True
    tokens, signed_in = await world.auth.sign_in("dana@x.io", "pass phrase 1", "ip")
    assert signed_in.id == user.id
    assert (await world.auth.authenticate(tokens.access_token)).user_id == user.id


async def test_codes_expire_and_unknown_users_learn_nothing(world: World) -> None:
    await world.auth.sign_up("erin", "erin@x.io", "pass phrase 1", "Erin", "ip")
    world.clock.advance(25 * 3600)
    with pytest.raises(ValidationFailed):
        await world.auth.confirm("erin", world.codes.codes["erin"])
    await world.auth.resend_code("nobody")  # no error, no code
    assert "nobody" not in world.codes.codes
    with pytest.raises(ValidationFailed):
        await world.auth.confirm("nobody", "123456")


async def test_forged_and_expired_access_tokens_are_refused(world: World) -> None:
    await world.auth.sign_up("finn", "finn@x.io", "pass phrase 1", "Finn", "ip")
    await world.auth.confirm("finn", world.codes.codes["finn"])
    tokens, user = await world.auth.sign_in("finn", "pass phrase 1", "ip")
    claims = jwt.decode(
        tokens.access_token,
        KEY,
        algorithms=["HS256"],
        audience="hubbub",
        options={"verify_exp": False},
    )
    forgeries = [
        jwt.encode(claims, b"x" * 32, algorithm="HS256"),
        jwt.encode({**claims, "aud": "someone-else"}, KEY, algorithm="HS256"),
        jwt.encode({**claims, "token_use": "refresh"}, KEY, algorithm="HS256"),
        jwt.encode({**claims, "exp": claims["iat"] - 1}, KEY, algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        tokens.access_token[:-3] + "abc",
    ]
    for token in forgeries:
        with pytest.raises(Unauthorized):
            await world.auth.authenticate(token)
    assert (await world.auth.authenticate(tokens.access_token)).user_id == user.id


async def test_a_token_checked_before_still_expires_and_ends(world: World) -> None:
    """Verified tokens are remembered (local_identity): not past their expiry, and
    not past the end of their session."""
    await world.auth.sign_up("gus", "gus@x.io", "pass phrase 1", "Gus", "ip")
    await world.auth.confirm("gus", world.codes.codes["gus"])
    tokens, user = await world.auth.sign_in("gus", "pass phrase 1", "ip")
    session = await world.auth.authenticate(tokens.access_token)
    assert session.user_id == user.id
    assert await world.auth.authenticate(tokens.access_token) == session  # remembered
    with pytest.raises(Unauthorized):
        await world.auth.authenticate(tokens.access_token[:-3] + "abc")
    world.clock.advance(3600)  # access tokens live 15 minutes
    with pytest.raises(Unauthorized):
        await world.auth.authenticate(tokens.access_token)
    with pytest.raises(Unauthorized):
        await world.auth.authenticate(tokens.access_token)
    fresh, _ = await world.auth.sign_in("gus", "pass phrase 1", "ip")
    assert (await world.auth.authenticate(fresh.access_token)).user_id == user.id
    await world.auth.sign_out(await world.auth.authenticate(fresh.access_token), None, False)
    with pytest.raises(Unauthorized):
        await world.auth.authenticate(fresh.access_token)


async def test_tickets_are_single_use_and_expire(world: World) -> None:
    ticket, ttl = await world.auth.issue_ticket(Session("u1", "s1"))
    assert ttl <= 60
    assert await world.auth.redeem_ticket(ticket) == Session("u1", "s1")
    assert await world.auth.redeem_ticket(ticket) is None
    assert await world.auth.redeem_ticket("") is None


async def test_refresh_tokens_expire_after_their_lifetime(world: World) -> None:
    await world.auth.sign_up("gus", "gus@x.io", "pass phrase 1", "Gus", "ip")
    await world.auth.confirm("gus", world.codes.codes["gus"])
    tokens, _ = await world.auth.sign_in("gus", "pass phrase 1", "ip")
    world.clock.advance(30 * 86400 - 1)  # the default lifetime is 30 days
    rotated = await world.auth.refresh(tokens.refresh_token)
    world.clock.advance(30 * 86400 - 1)  # a rotated token lives 30 days from its issue
    newest = await world.auth.refresh(rotated.refresh_token)
    world.clock.advance(30 * 86400)
    with pytest.raises(Unauthorized):
        await world.auth.refresh(newest.refresh_token)
