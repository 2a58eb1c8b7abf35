"""What the network does to a page, under a test's control: its WebSocket cut, or single
frames from the server held back, dropped or delivered late."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import APIResponse, Page, Route, WebSocketRoute

Frame = dict[str, Any]


def wait_until(page: Page, condition: Callable[[], object], what: str, timeout: float = 10) -> None:
    """Wait for something the page cannot show (a route handler ran, a request was made).
    Polls while letting Playwright run its handlers; fails with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        page.wait_for_timeout(20)


def requests_to(page: Page, fragment: str) -> list[str]:
    """The addresses of the requests the page makes from now on that contain `fragment`."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if fragment in r.url else None)
    return seen


def since_of(url: str) -> str:
    """The `since` of an /api/sync address ("" without one)."""
    return parse_qs(urlsplit(url).query).get("since", [""])[0]


def message_created(body: str) -> Callable[[Frame], bool]:
    """Matches the `message.created` frame of the message with this text."""
    return lambda f: f.get("type") == "message.created" and f.get("message", {}).get("body") == body


class SocketProxy:
    """Passes the page's WebSocket through Playwright, so a test can cut it (`cut`, `restore`)
    and hold back server frames (`hold`) to drop them or deliver them later."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.blocked = False
        self._stalled: list[WebSocketRoute] = []
        self.live: list[WebSocketRoute] = []
        self.connections = 0  # sockets that reached the server, reconnects included
        self._matchers: list[Callable[[Frame], bool]] = []
        self.held: list[tuple[WebSocketRoute, Frame, str]] = []
        page.route_web_socket("**/ws?*", self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        if self.blocked:
            ws.close(code=1011, reason="test: network down")
            return
        server = ws.connect_to_server()
        server.on_message(lambda message: self._from_server(ws, message))
        ws.on_message(lambda message: None if ws in self._stalled else server.send(message))
        self.live.append(ws)
        self.connections += 1

    def _from_server(self, ws: WebSocketRoute, message: str | bytes) -> None:
        if ws in self._stalled:
            return
        frame = json.loads(message) if isinstance(message, str) else {}
        for match in self._matchers:
            if match(frame):
                self._matchers.remove(match)
                self.held.append((ws, frame, str(message)))
                return
        ws.send(message)

    def hold(self, match: Callable[[Frame], bool]) -> None:
        """The next server frame that `match`es is held instead of reaching the page."""
        self._matchers.append(match)

    def wait_until_held(self, count: int = 1) -> None:
        wait_until(self.page, lambda: len(self.held) >= count, f"{count} frame(s) were held")

    def forward_held(self, *, last_first: bool = False) -> None:
        """Deliver the held frames now, in the order they came (or the other way round)."""
        for ws, _, message in reversed(self.held) if last_first else self.held:
            ws.send(message)
        self.held.clear()

    def drop_held(self) -> None:
        self.held.clear()

    def stall(self) -> None:
        """Every open socket goes silent both ways without closing, as when a network path
        dies without telling either end; new sockets pass again."""
        self._stalled.extend(self.live)
        self.live.clear()

    def cut(self) -> None:
        self.blocked = True
        for ws in self.live:
            ws.close(code=1011, reason="test: network down")
        self.live.clear()

    def restore(self) -> None:
        self.blocked = False


class HeldRequests:
    """Holds the page's first request matching `pattern`: with `answer_now`, the server
    answers it at once (an answer older than what follows); otherwise it reaches the server
    only on `release`. The page gets the answer on `release`; later requests pass."""

    def __init__(self, page: Page, pattern: str, method: str, *, answer_now: bool) -> None:
        self.page = page
        self.method = method
        self.answer_now = answer_now
        self.held: list[tuple[Route, APIResponse | None]] = []
        self.released = False
        page.route(pattern, self._route)

    def _route(self, route: Route) -> None:
        if route.request.method != self.method or self.released or self.held:
            route.fallback()
            return
        self.held.append((route, route.fetch() if self.answer_now else None))

    def wait_until_held(self) -> None:
        wait_until(self.page, lambda: self.held, "the request was made", timeout=30)

    def release(self) -> None:
        self.released = True
        for route, response in self.held:
            if response is None:
                route.continue_()
            else:
                route.fulfill(response=response)
        self.held.clear()
