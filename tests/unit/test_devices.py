"""Device tokens: only genuine, unexpired tokens name a user."""

from __future__ import annotations

import pytest

from hubbub.services.devices import DEVICE_TOKEN_LIFETIME, KnownDevices
from tests.unit.conftest import ManualClock


def test_a_genuine_token_names_its_user_until_it_expires() -> None:
    clock = ManualClock()
    devices = KnownDevices(b"k" * 32, clock)
    token = devices.issue("01USER")
    assert devices.user_of(token) == "01USER"
    assert devices.issue("01USER") != token
    clock.advance(DEVICE_TOKEN_LIFETIME.total_seconds() + 1)
    assert devices.user_of(token) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("01USER", "01OTHER", 1),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t + "é",
        lambda t: "",
        lambda t: ".",
        lambda t: "x" * 300,
    ],
)
def test_a_changed_or_foreign_token_names_nobody(tamper) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    token = KnownDevices(b"k" * 32, clock).issue("01USER")
    assert KnownDevices(b"k" * 32, clock).user_of(tamper(token)) is None
    assert KnownDevices(b"other key" * 4, clock).user_of(token) is None
