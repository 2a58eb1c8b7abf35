"""Who sent a request: the peer, or the client a trusted reverse proxy names for it.

`X-Forwarded-For` is believed only when the peer is in `HUBBUB_TRUSTED_PROXIES` (none by
default): anyone else could put any address there and pick their own rate-limit key.
Each proxy appends the address it received the request from, so the list is read from
the right, skipping trusted hops; the first address that is not trusted is the client.
Anything to its left was written by the client itself and is ignored. From a trusted
proxy, `X-Forwarded-Proto` also gives the scheme the client used, so a TLS-terminating
proxy's clients get `Secure` cookies and HSTS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """Rewrites `scope["client"]` from `X-Forwarded-For`, and `scope["scheme"]` from
    `X-Forwarded-Proto`, when the peer is trusted."""

    def __init__(self, app: ASGIApp, trusted: Sequence[str]) -> None:
        self._app = app
        self._networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._networks and scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            if peer and self._trusted(_address(peer[0])):
                forwarded = [v for k, v in scope["headers"] if k == b"x-forwarded-for"]
                if forwarded:
                    client = self.client_of(b",".join(forwarded).decode("latin-1"), peer[0])
                    scope = {**scope, "client": (client, 0)}
                scheme = _forwarded_scheme(scope)
                if scheme is not None:
                    scope = {**scope, "scheme": scheme}
        await self._app(scope, receive, send)

    def client_of(self, forwarded_for: str, peer: str) -> str:
        """The right-most address of the header that is not a trusted proxy. If every
        address is trusted, the left-most; an unreadable entry stops the walk at the
        last trusted hop before it (whoever wrote it cannot be believed)."""
        client = peer
        for entry in reversed(forwarded_for.split(",")):
            address = _address(_strip_port(entry.strip()))
            if address is None:
                return client
            client = str(address)
            if not self._trusted(address):
                return client
        return client

    def _trusted(self, address: _Address | None) -> bool:
        return address is not None and any(address in network for network in self._networks)


def _forwarded_scheme(scope: Scope) -> str | None:
    """The scheme the nearest proxy says the client used, in this request's kind
    (`https` or `wss` for TLS), or None when it says nothing readable."""
    values = [v for k, v in scope["headers"] if k == b"x-forwarded-proto"]
    if not values:
        return None
    # The last proxy to set it is the one we trust, and it speaks for its own client.
    said: str = values[-1].decode("latin-1").split(",")[-1].strip().lower()
    if said not in ("http", "https"):
        return None
    secure = said == "https"
    if scope["type"] == "websocket":
        return "wss" if secure else "ws"
    return said


def _address(text: str) -> _Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _strip_port(entry: str) -> str:
    """`[2001:db8::1]:443` and `192.0.2.1:443` (some proxies add the port) to the address."""
    if entry.startswith("["):
        return entry[1:].split("]", 1)[0]
    if entry.count(":") == 1:
        return entry.split(":", 1)[0]
    return entry
