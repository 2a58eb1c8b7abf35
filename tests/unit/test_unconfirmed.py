"""Unconfirmed sign-ups hold their username and email for a day, not forever, and
`confirm` tells nobody whether an account exists."""

from __future__ import annotations

import pytest

from hubbub.domain.errors import Conflict, Unauthorized, ValidationFailed
from tests.unit.conftest import World

DAY = 24 * 3600


async def test_a_sign_up_left_unconfirmed_for_a_day_gives_way_to_a_new_one(world: World) -> None:
    squatter, _ = await world.auth.sign_up("gina", "gina@x.io", "squatter1", "Gina?", "ip")
    stale_code = world.codes.codes["gina"]
    with pytest.raises(Conflict):
        await world.auth.sign_up("gina", "other@x.io", "pass phrase 1", "Gina", "ip")
    with pytest.raises(Conflict):
        await world.auth.sign_up("notgina", "gina@x.io", "pass phrase 1", "Gina", "ip")

    world.clock.advance(DAY + 1)
    owner, required = await world.auth.sign_up("gina", "gina@x.io", "pass phrase 1", "Gina", "ip")

    assert required and owner.id != squatter.id
    with pytest.raises(ValidationFailed):
        await world.auth.confirm("gina", stale_code)
    confirmed = await world.auth.confirm("gina", world.codes.codes["gina"])
    assert confirmed.id == owner.id and confirmed.display_name == "Gina"
    _, signed_in = await world.auth.sign_in("gina@x.io", "pass phrase 1", "ip")
    assert signed_in.id == owner.id
    with pytest.raises(Unauthorized):
        await world.auth.sign_in("gina", "squatter1", "ip")


async def test_a_stale_sign_up_holding_only_the_email_gives_way(world: World) -> None:
    await world.auth.sign_up("hank1", "hank@x.io", "squatter1", "H", "ip")
    world.clock.advance(DAY + 1)
    owner, _ = await world.auth.sign_up("hank", "hank@x.io", "pass phrase 1", "Hank", "ip")
    confirmed = await world.auth.confirm("hank@x.io", world.codes.codes["hank"])
    assert confirmed.id == owner.id
    # The stale holder's username is free again as well.
    await world.auth.sign_up("hank1", "hank1@x.io", "pass phrase 1", "Hank One", "ip")


async def test_resending_the_code_does_not_extend_the_hold(world: World) -> None:
    await world.auth.sign_up("ivya", "ivy@x.io", "squatter1", "Ivy", "ip")
    world.clock.advance(DAY - 3600)
    await world.auth.resend_code("ivya")
    with pytest.raises(Conflict):
        await world.auth.sign_up("ivya", "ivy@x.io", "pass phrase 1", "Ivy", "ip")
    world.clock.advance(3601)
    owner, _ = await world.auth.sign_up("ivya", "ivy@x.io", "pass phrase 1", "Ivy", "ip")
    assert (await world.auth.confirm("ivya", world.codes.codes["ivya"])).id == owner.id


async def test_a_confirmed_account_is_never_given_away(world: World) -> None:
    await world.auth.sign_up("joe", "joe@x.io", "pass phrase 1", "Joe", "ip")
    await world.auth.confirm("joe", world.codes.codes["joe"])
    world.clock.advance(30 * DAY)
    with pytest.raises(Conflict):
        await world.auth.sign_up("joe", "jo2@x.io", "pass phrase 2", "Joe", "ip")
    with pytest.raises(Conflict):
        await world.auth.sign_up("jo22", "joe@x.io", "pass phrase 2", "Joe", "ip")
    await world.auth.sign_in("joe", "pass phrase 1", "ip")


async def test_confirm_answers_unknown_confirmed_and_pending_accounts_alike(world: World) -> None:
    await world.auth.sign_up("kimi", "kim@x.io", "pass phrase 1", "Kim", "ip")
    await world.auth.sign_up("leea", "lee@x.io", "pass phrase 1", "Lee", "ip")
    await world.auth.confirm("leea", world.codes.codes["leea"])
    wrong = "000000" if world.codes.codes["kimi"] != "000000" else "111111"

    answers = []
    for username in ("kimi", "nobody", "leea"):
        with pytest.raises(ValidationFailed) as refused:
            await world.auth.confirm(username, wrong)
        answers.append((refused.value.code, refused.value.message))
    assert answers[0] == answers[1] == answers[2]
