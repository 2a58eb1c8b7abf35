"""Which address a request counts against: HUBBUB_TRUSTED_PROXIES and X-Forwarded-For."""

from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from hubbub.config import ConfigError, Settings
from hubbub.server.proxies import TrustedProxies


async def _client_seen(trusted: tuple[str, ...], peer: str, *forwarded: str) -> str:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["client"][0])

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        return None

    scope = {
        "type": "http",
        "client": (peer, 5000),
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }
    await TrustedProxies(app, trusted)(scope, receive, send)
    return seen[0]


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        # Not from a trusted proxy: the header is ignored.
        (("10.0.0.1",), "127.0.0.1", ["203.0.113.5"], "127.0.0.1"),
        ((), "127.0.0.1", ["203.0.113.5"], "127.0.0.1"),
        # From a trusted proxy: the right-most untrusted address.
        (("127.0.0.1",), "127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        (("127.0.0.1",), "127.0.0.1", ["6.6.6.6, 203.0.113.5"], "203.0.113.5"),
        (("127.0.0.1",), "127.0.0.1", ["6.6.6.6", "203.0.113.5"], "203.0.113.5"),
        (("127.0.0.0/8", "10.0.0.0/8"), "127.0.0.2", ["203.0.113.5, 10.0.0.9"], "203.0.113.5"),
        (("::1",), "::1", ["[2001:db8::7]:443"], "2001:db8::7"),
        (("127.0.0.1",), "::ffff:127.0.0.1", ["192.0.2.1:8080"], "192.0.2.1"),
        # Every hop trusted: the left-most.
        (("10.0.0.0/8", "127.0.0.1"), "127.0.0.1", ["10.0.0.3, 10.0.0.4"], "10.0.0.3"),
        # Garbage stops the walk at the last trusted hop before it.
        (("127.0.0.1",), "127.0.0.1", ["not-an-ip"], "127.0.0.1"),
        (("10.0.0.0/8", "127.0.0.1"), "127.0.0.1", ["evil, 10.0.0.4"], "10.0.0.4"),
        # No header: the peer.
        (("127.0.0.1",), "127.0.0.1", [], "127.0.0.1"),
    ],
)
async def test_the_client_is_the_right_most_untrusted_forwarded_address(
    trusted: tuple[str, ...], peer: str, forwarded: list[str], client: str
) -> None:
    assert await _client_seen(trusted, peer, *forwarded) == client


def test_trusted_proxies_are_parsed_and_validated() -> None:
    settings = Settings.from_env({"HUBBUB_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8 ,::1 "})
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert Settings.from_env({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match="HUBBUB_TRUSTED_PROXIES"):
        Settings.from_env({"HUBBUB_TRUSTED_PROXIES": "127.0.0.1, proxy.example"})
    with pytest.raises(ConfigError, match="HUBBUB_WRITE_BURST"):
        Settings.from_env({"HUBBUB_WRITE_BURST": "0"})


async def _scheme_seen(trusted: tuple[str, ...], kind: str, scheme: str, proto: str) -> str:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["scheme"])

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        return None

    scope = {
        "type": kind,
        "scheme": scheme,
        "client": ("127.0.0.1", 5000),
        "headers": [(b"x-forwarded-proto", proto.encode())],
    }
    await TrustedProxies(app, trusted)(scope, receive, send)
    return seen[0]


@pytest.mark.parametrize(
    ("trusted", "kind", "scheme", "proto", "seen"),
    [
        # A TLS-terminating proxy we trust: the client's scheme, in the request's kind.
        (("127.0.0.1",), "http", "http", "https", "https"),
        (("127.0.0.1",), "websocket", "ws", "https", "wss"),
        (("127.0.0.1",), "http", "https", "http", "http"),
        # Anyone else's word is ignored, and so is nonsense.
        ((), "http", "http", "https", "http"),
        (("10.0.0.1",), "http", "http", "https", "http"),
        (("127.0.0.1",), "http", "http", "gopher", "http"),
    ],
)
async def test_the_scheme_comes_from_a_trusted_proxy_only(
    trusted: tuple[str, ...], kind: str, scheme: str, proto: str, seen: str
) -> None:
    assert await _scheme_seen(trusted, kind, scheme, proto) == seen
