"""Password reset by a code sent through the `CodeSender` (Cognito's ForgotPassword and
ConfirmForgotPassword), on the in-memory adapters with a clock we control."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from hubbub.bootstrap import build
from hubbub.domain.errors import RateLimited, Unauthorized, ValidationFailed
from hubbub.ports import CodePurpose
from hubbub.services.auth import AuthService
from tests.unit.conftest import SETTINGS, ManualClock


@dataclass
class MailBox:
    """Every code sent, by purpose and username, newest last."""

    sent: list[tuple[CodePurpose, str, str, str]] = field(default_factory=list)

    async def send(
        self, email: str, username: str, code: str, *, purpose: CodePurpose = "confirmation"
    ) -> None:
        self.sent.append((purpose, username, email, code))

    def last(self, purpose: CodePurpose, username: str) -> str | None:
        codes = [c for p, u, _, c in self.sent if p == purpose and u == username]
        return codes[-1] if codes else None


@dataclass
class Accounts:
    clock: ManualClock
    mail: MailBox
    auth: AuthService

    async def confirmed(self, username: str, password: str = "pass phrase 1") -> str:
        user, _ = await self.auth.sign_up(
            username, f"{username}@x.io", password, username.title(), "ip"
        )
        code = self.mail.last("confirmation", username)
        assert code is not None
        await self.auth.confirm(username, code)
        return user.id


@pytest.fixture
def accounts() -> Accounts:
    clock, mail = ManualClock(), MailBox()
    platform = build(SETTINGS, clock=clock, code_sender=mail)
    return Accounts(clock=clock, mail=mail, auth=platform.auth)


def _other_than(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_a_reset_code_sets_a_new_password_and_ends_every_session(
    accounts: Accounts,
) -> None:
    user_id = await accounts.confirmed("mona")
    laptop, _ = await accounts.auth.sign_in("mona", "pass phrase 1", "ip")
    phone, _ = await accounts.auth.sign_in("mona@x.io", "pass phrase 1", "ip")

    await accounts.auth.forgot_password("mona@x.io")
    code = accounts.mail.last("password_reset", "mona")
    assert code is not None and len(code) == 6
    await accounts.auth.reset_password("mona", code, "brand new password")

    for session in (laptop, phone):
        with pytest.raises(Unauthorized):
            await accounts.auth.refresh(session.refresh_token)
        with pytest.raises(Unauthorized):
            await accounts.auth.authenticate(session.access_token)
    with pytest.raises(Unauthorized):
        await accounts.auth.sign_in("mona", "pass phrase 1", "ip")
    _, user = await accounts.auth.sign_in("mona", "brand new password", "ip")
    assert user.id == user_id


async def test_a_reset_code_works_once(accounts: Accounts) -> None:
    await accounts.confirmed("nina")
    await accounts.auth.forgot_password("nina")
    code = accounts.mail.last("password_reset", "nina")
    assert code is not None
    await accounts.auth.reset_password("nina", code, "second password")
    with pytest.raises(ValidationFailed):
        await accounts.auth.reset_password("nina", code, "third password!")
    await accounts.auth.sign_in("nina", "second password", "ip")


async def test_a_reset_code_expires_after_an_hour(accounts: Accounts) -> None:
    await accounts.confirmed("olga")
    await accounts.auth.forgot_password("olga")
    code = accounts.mail.last("password_reset", "olga")
    assert code is not None
    accounts.clock.advance(3601)
    with pytest.raises(ValidationFailed):
        await accounts.auth.reset_password("olga", code, "another password")
    await accounts.auth.sign_in("olga", "pass phrase 1", "ip")


async def test_only_the_newest_reset_code_works(accounts: Accounts) -> None:
    await accounts.confirmed("pia1")
    await accounts.auth.forgot_password("pia1")
    first = accounts.mail.last("password_reset", "pia1")
    await accounts.auth.forgot_password("pia1")
    second = accounts.mail.last("password_reset", "pia1")
    assert first is not None and second is not None
    if first != second:
        with pytest.raises(ValidationFailed):
            await accounts.auth.reset_password("pia1", first, "another password")
    await accounts.auth.reset_password("pia1", second, "another password")


async def test_reset_attempts_are_limited_per_account(accounts: Accounts) -> None:
    await accounts.confirmed("quin")
    await accounts.auth.forgot_password("quin")
    code = accounts.mail.last("password_reset", "quin")
    assert code is not None
    for login in ("quin", " QUIN", "quin@x.io", "quin ", "Quin@X.io"):
        with pytest.raises(ValidationFailed):
            await accounts.auth.reset_password(login, _other_than(code), "another password")
    with pytest.raises(RateLimited):
        await accounts.auth.reset_password("quin", code, "another password")
    await accounts.auth.sign_in("quin", "pass phrase 1", "ip")


async def test_unknown_and_unconfirmed_accounts_get_no_code_and_the_same_answer(
    accounts: Accounts,
) -> None:
    await accounts.auth.sign_up("rita", "rita@x.io", "pass phrase 1", "Rita", "ip")
    await accounts.confirmed("sven")
    await accounts.auth.forgot_password("nobody")
    await accounts.auth.forgot_password("rita")
    await accounts.auth.forgot_password("sven")
    assert accounts.mail.last("password_reset", "nobody") is None
    assert accounts.mail.last("password_reset", "rita") is None
    sven_code = accounts.mail.last("password_reset", "sven")
    assert sven_code is not None

    answers = []
    for username in ("nobody", "rita", "sven"):
        with pytest.raises(ValidationFailed) as refused:
            await accounts.auth.reset_password(username, _other_than(sven_code), "new password")
        answers.append((refused.value.code, refused.value.message))
    assert answers[0] == answers[1] == answers[2]


async def test_confirmation_and_reset_codes_do_not_stand_in_for_each_other(
    accounts: Accounts,
) -> None:
    await accounts.auth.sign_up("tara", "tara@x.io", "pass phrase 1", "Tara", "ip")
    confirmation = accounts.mail.last("confirmation", "tara")
    assert confirmation is not None
    with pytest.raises(ValidationFailed):
        await accounts.auth.reset_password("tara", confirmation, "another password")
    await accounts.auth.confirm("tara", confirmation)

    await accounts.auth.forgot_password("tara")
    reset = accounts.mail.last("password_reset", "tara")
    assert reset is not None
    with pytest.raises(ValidationFailed):
        await accounts.auth.confirm("tara", reset)
    await accounts.auth.reset_password("tara", reset, "another password")


async def test_a_new_password_that_breaks_the_rules_keeps_the_code(accounts: Accounts) -> None:
    await accounts.confirmed("uma1")
    await accounts.auth.forgot_password("uma1")
    code = accounts.mail.last("password_reset", "uma1")
    assert code is not None
    with pytest.raises(ValidationFailed):
        await accounts.auth.reset_password("uma1", code, "short")
    await accounts.auth.reset_password("uma1", code, "long enough now")
    await accounts.auth.sign_in("uma1", "long enough now", "ip")
