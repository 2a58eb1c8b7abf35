"""The password rule (NIST SP 800-63B: length first, a list of common passwords, no
composition rules) and the shipped list it is given."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hubbub.adapters.common_passwords import ShippedCommonPasswords, load
from hubbub.domain import rules
from hubbub.domain.errors import ValidationFailed

COMMON = frozenset({"password", "iloveyou", "trustno1"})


def _refusal(password: str, personal: tuple[str, ...] = ()) -> str:
    with pytest.raises(ValidationFailed) as refused:
        rules.password(password, common=COMMON, personal=personal)
    assert refused.value.details == {"field": "password"}
    return refused.value.message


@pytest.mark.parametrize(
    "password",
    [
        " " * 8,
        " " * 300,
        "\t\n\u3000\u00a0 \t\n\u3000",  # every kind of whitespace is still nothing
        "   seven   ",  # surrounding spaces do not pad a short password
        "🙂" * 7,  # 14 UTF-16 units, 7 characters
        "e\u0301" * 4,  # eight code points, four characters once composed (NFC)
    ],
)
def test_short_or_blank_passwords_are_refused(password: str) -> None:
    assert _refusal(password).startswith("Choose a longer password: at least 8 characters")


@pytest.mark.parametrize("password", ["password", "PASSWORD", " iloveyou ", "TrustNo1"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert _refusal(password).startswith("This password is too common")


@pytest.mark.parametrize("password", ["aaaaaaaa", "abcdefgh", "87654321", "ZYXWVUTSR"])
def test_repeats_and_runs_are_refused(password: str) -> None:
    assert _refusal(password).startswith("This password is too easy to guess")


@pytest.mark.parametrize(
    "password", ["dana.k-99", "Dana.K-99", " dana.k-99@X.io", "dana.k-99@x.io"]
)
def test_the_username_or_email_is_refused(password: str) -> None:
    message = _refusal(password, personal=("dana.k-99", "dana.k-99@x.io"))
    assert message == "Choose a password that is not your username or email address."


def test_too_long_is_refused_with_the_limit() -> None:
    assert _refusal("x" * 257) == "Choose a shorter password: at most 256 characters."


@pytest.mark.parametrize(
    "password",
    [
        "password is long",  # a common password inside a longer one is fine
        "alllowercase",  # no composition rules
        "12345678901234567890x",
        "éèêëéèêë",
        "🙂🙃🙂🙃🙂🙃🙂🙃",
        "  keep my spaces  ",
        "xy" * 128,
    ],
)
def test_good_passwords_are_returned_exactly_as_typed(password: str) -> None:
    assert rules.password(password, common=COMMON, personal=("dana", "dana@x.io")) == password


def test_the_shipped_list_holds_common_passwords_and_no_header() -> None:
    shipped = ShippedCommonPasswords()
    for common in ("password", "iloveyou", "qwertyuiop", "sunshine", "p@ssw0rd", "trustno1"):
        assert common in shipped
    assert "correct horse battery" not in shipped
    assert len(load()) > 10_000
    assert all(entry == entry.casefold() and not entry.startswith("#") for entry in load())


def test_the_shipped_list_is_not_read_at_import() -> None:
    """Importing the application does not read the list: it loads on the first check."""
    probe = (
        "import hubbub.bootstrap, hubbub.server.app;"
        "from hubbub.adapters import common_passwords as c;"
        "assert c.load.cache_info().currsize == 0, 'read at import'"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)
