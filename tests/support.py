"""Test helpers shared by the suites: a real server process and real clients."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

FAST_TEST_ENV = {
    "HUBBUB_PASSWORD_HASH_MEMORY_KIB": "1024",
    "HUBBUB_SIGN_UP_PER_IP": "100000",
    "HUBBUB_SIGN_IN_PER_IP": "100000",
    "HUBBUB_WRITES_PER_SECOND": "100000",
    "HUBBUB_WRITE_BURST": "100000",
    "HUBBUB_LOG_LEVEL": "warning",
}


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768+), so outgoing connections of the
    browser or of other tests cannot be holding it when a server binds or rebinds."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class _PortInUse(RuntimeError):
    pass


def _listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on `port` (Linux /proc; elsewhere
    assumed)."""
    table = Path("/proc/net/tcp")
    if not table.exists():
        return True
    inodes = set()
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            inodes.add(f"socket:[{inode}]")
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return True
    return False


@dataclass
class ServerProcess:
    """`hubbub serve` in a subprocess with its own data directory and log file; it can be
    stopped (gracefully or with SIGKILL) and started again on the same port and data."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    _started_before: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Starts and waits until healthy. A port taken meanwhile by a parallel suite is
        retried: a new port on the first start, the same one after a pause on a restart."""
        for attempt in range(20):
            try:
                self._start_once()
                return
            except _PortInUse:
                if attempt == 19:
                    raise
                if self._started_before:
                    time.sleep(0.5)
                else:
                    self.port = free_port()

    def _start_once(self) -> None:
        # The log sits beside the data directory, which the server creates itself.
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log = self.data_dir.parent / f"server-{self.port}.log"
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hubbub",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                ],
                env={**os.environ, **FAST_TEST_ENV, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                output = self.log.read_text()
                if "address already in use" in output:
                    raise _PortInUse(self.port)
                raise RuntimeError(f"hubbub serve exited early:\n{output}")
            with contextlib.suppress(httpx.HTTPError):
                healthy = httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
                # A parallel suite's server may hold the port for a moment: the answer
                # counts only if it came from ours.
                if healthy and _listens_on(self.process.pid, self.port):
                    self._started_before = True
                    return
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"hubbub serve did not become healthy:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, sig: int = signal.SIGTERM, downtime: float = 0.0) -> None:
        self.stop(sig)
        time.sleep(downtime)
        self.start()


_names = itertools.count()


@dataclass
class Account:
    id: str
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Api:
    """A thin async client for the REST API that keeps the status of each reply.

    Given several base URLs (processes of one deployment), it routes each user to a
    process of their own (`_Router`); the interface stays the same for the tests."""

    def __init__(
        self, base_url: str | Sequence[str], *, ws_url: str | None = None, timeout: float = 20
    ) -> None:
        self.base_urls = [base_url] if isinstance(base_url, str) else list(base_url)
        # Where the WebSocket is when it is not the server's own /ws (API Gateway's API).
        self._ws_override = ws_url
        self.base_url = self.base_urls[0]
        self.router = _Router(self.base_urls) if len(self.base_urls) > 1 else None
        self.http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=self.router
        )

    @property
    def at_api_gateway(self) -> bool:
        """Whether the WebSocket is API Gateway's (aws-local), which refuses at the
        handshake with an HTTP status where `hubbub serve` accepts and closes with a code
        (docs/websocket.md, "On AWS")."""
        return self._ws_override is not None

    @property
    def ws_url(self) -> str:
        """The WebSocket URL of the process that issued the latest ticket (the one the
        ticket's user is on), so `connect(f"{api.ws_url}?ticket={ticket}")` right after
        fetching a ticket opens the socket where its user is."""
        if self._ws_override:
            return self._ws_override
        index = self.router.last_ticket if self.router else 0
        return _ws_url(self.base_urls[index])

    def ws_url_for(self, account: Account) -> str:
        """The WebSocket URL of `account`'s process."""
        if self._ws_override:
            return self._ws_override
        return _ws_url(self.base_urls[self.router.home(account.id) if self.router else 0])

    def home_of(self, account: Account) -> int:
        """The index of the process `account` is on (0 with one process)."""
        return self.router.home(account.id) if self.router else 0

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self, method: str, path: str, account: Account | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if account is not None:
            headers.update(account.headers)
        return await self.http.request(method, "/api" + path, headers=headers, **kwargs)

    async def sign_up(self, name: str | None = None, display: str | None = None) -> Account:
        username = name or f"user{os.getpid()}x{next(_names)}{time.time_ns() % 100000}"
        password = "correct horse battery"
        reply = await self.call(
            "POST",
            "/auth/signup",
            extensions=self._pin(username),
            json={
                "username": username,
                "email": f"{username}@example.test",
                "password": password,
                "displayName": display or username.title(),
            },
        )
        assert reply.status_code == 201, reply.text
        return await self.sign_in(username, password)

    async def sign_in(self, username: str, password: str) -> Account:
        reply = await self.call(
            "POST",
            "/auth/signin",
            extensions=self._pin(username),
            json={"username": username, "password": password},
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        if self.router:
            self.router.settle(username, body["user"]["id"])
        return Account(
            id=body["user"]["id"],
            username=username,
            password=password,
            access_token=body["accessToken"],
            refresh_token=body["refreshToken"],
        )

    def _pin(self, username: str) -> dict[str, Any]:
        """Request extensions sending a sign-up or sign-in to the user's process."""
        return {_PROCESS: self.router.place(username)} if self.router else {}

    async def direct(self, me: Account, other: Account) -> str:
        reply = await self.call("POST", "/conversations/direct", me, json={"userId": other.id})
        assert reply.status_code in (200, 201), reply.text
        conversation_id: str = reply.json()["conversation"]["id"]
        return conversation_id

    async def group(self, owner: Account, title: str, *members: Account) -> str:
        reply = await self.call(
            "POST",
            "/conversations",
            owner,
            json={"title": title, "memberIds": [m.id for m in members]},
        )
        assert reply.status_code == 201, reply.text
        conversation_id: str = reply.json()["conversation"]["id"]
        return conversation_id

    async def send(self, account: Account, conversation_id: str, body: str, cmid: str) -> Any:
        reply = await self.call(
            "POST",
            f"/conversations/{conversation_id}/messages",
            account,
            json={"clientMessageId": cmid, "body": body},
        )
        assert reply.status_code in (200, 201), reply.text
        return reply.json()["message"]

    async def ticket(self, account: Account) -> str:
        reply = await self.call("POST", "/auth/ws-ticket", account)
        assert reply.status_code == 200, reply.text
        ticket: str = reply.json()["ticket"]
        return ticket

    async def history_all(self, account: Account, conversation_id: str) -> list[Any] | None:
        """Every message of a conversation in seq order, paging forward; None when the
        conversation is not visible to `account` (404)."""
        found: list[Any] = []
        after = 0
        while True:
            reply = await self.call(
                "GET",
                f"/conversations/{conversation_id}/messages",
                account,
                params={"after": after, "limit": 200},
            )
            if reply.status_code == 404:
                return None
            assert reply.status_code == 200, reply.text
            page = reply.json()
            found += page["messages"]
            if not page["hasMore"]:
                return found
            after = page["messages"][-1]["seq"]

    async def log_all(self, account: Account, conversation_id: str, after: int = 0) -> list[Any]:
        """A conversation's log after `after`, every page: what a client fetches to
        fill a gap, and the whole record of what happened in it."""
        events: list[Any] = []
        path = f"/conversations/{conversation_id}/events"
        while True:
            params = {"after": after, "limit": 500}
            reply = await self.call("GET", path, account, params=params)
            assert reply.status_code == 200, reply.text
            body = reply.json()
            events.extend(body["events"])
            if not body["hasMore"]:
                return events
            after = events[-1]["eventSeq"]

    async def sync_cursor(self, account: Account) -> str:
        """A resume cursor for everything so far: `/api/sync` without `since`."""
        reply = await self.call("GET", "/sync", account)
        assert reply.status_code == 200, reply.text
        return str(reply.json()["cursor"])

    async def sync_all(self, account: Account, since: str) -> tuple[list[Any], str]:
        events: list[Any] = []
        while True:
            reply = await self.call("GET", "/sync", account, params={"since": since})
            assert reply.status_code == 200, reply.text
            body = reply.json()
            events.extend(body["events"])
            since = body["cursor"]
            if not body["hasMore"]:
                return events, since


_PROCESS = "hubbub_process"  # request extension: the index of the process to send it to


def _ws_url(base_url: str) -> str:
    return base_url.replace("http", "ws", 1) + "/ws"


class _Router(httpx.AsyncBaseTransport):
    """Sends each request to one process of a deployment: a user's to the process they
    were placed on at sign-up (round-robin over the processes, first user on the first
    process), recognised by the bearer token's subject; a request of nobody known
    round-robin. Ticket requests remember their process, for `Api.ws_url`."""

    def __init__(self, base_urls: list[str]) -> None:
        self.targets = [httpx.URL(url) for url in base_urls]
        self.inner = httpx.AsyncHTTPTransport()
        self.by_name: dict[str, int] = {}
        self.by_id: dict[str, int] = {}
        self.last_ticket = 0
        self._users = itertools.count()
        self._anonymous = itertools.count()

    def place(self, username: str) -> int:
        """The process of user `username`, placing them on the next one if new."""
        if username not in self.by_name:
            self.by_name[username] = next(self._users) % len(self.targets)
        return self.by_name[username]

    def settle(self, username: str, user_id: str) -> None:
        self.by_id[user_id] = self.by_name[username]

    def home(self, user_id: str) -> int:
        if user_id not in self.by_id:  # made outside `Api.sign_up`: place them now
            self.by_id[user_id] = next(self._users) % len(self.targets)
        return self.by_id[user_id]

    def _index(self, request: httpx.Request) -> int:
        pinned = request.extensions.get(_PROCESS)
        if isinstance(pinned, int):
            return pinned
        subject = _subject(request.headers.get("authorization", ""))
        if subject is not None:
            return self.home(subject)
        return next(self._anonymous) % len(self.targets)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self._index(request)
        target = self.targets[index]
        if request.url.path.endswith("/auth/ws-ticket"):
            self.last_ticket = index
        request.url = request.url.copy_with(host=target.host, port=target.port)
        request.headers["Host"] = f"{target.host}:{target.port}"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _subject(authorization: str) -> str | None:
    """The `sub` of a bearer JWT, unverified: only to route the request (the server
    checks the token)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


class Socket:
    """A real WebSocket client that records every frame it receives."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self.closed_code: int | None = None
        self._ids = itertools.count(1)

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                async with self._arrived:
                    self.frames.append(orjson.loads(raw))
                    self._arrived.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed_code = self.connection.close_code
            async with self._arrived:
                self._arrived.notify_all()

    async def wait_for(self, within: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first frame (already received or arriving) whose fields equal `match`."""

        def found() -> dict[str, Any] | None:
            return next(
                (f for f in self.frames if all(f.get(k) == v for k, v in match.items())), None
            )

        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: found() is not None or self._reader.done()),
                within,
            )
        frame = found()
        assert frame is not None, f"no frame {match}; got {self.frames}"
        return frame

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.connection.send(
            frame if isinstance(frame, (str, bytes)) else orjson.dumps(frame).decode()
        )

    @property
    def closed(self) -> bool:
        """Whether the connection has ended (no more frames will arrive)."""
        return self._reader.done()

    async def request(self, action: str, /, within: float = 5.0, **fields: Any) -> dict[str, Any]:
        request_id = f"r{next(self._ids)}"
        await self.send({"action": action, "requestId": request_id, **fields})
        return await self.wait_for(within, requestId=request_id)

    async def until(self, condition: Callable[[], bool], within: float = 10.0) -> None:
        """Waits until `condition` (over the frames received so far) holds."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: condition() or self._reader.done()), within
            )
        last = self.frames[-5:]
        assert condition(), f"condition not met; last {len(last)} of {len(self.frames)}: {last}"

    async def settle(self) -> None:
        """A barrier before asserting that something did NOT arrive: the pong to a ping
        comes after every frame the server had queued for this connection when it read
        the ping. So first make sure the thing that must not arrive would have been sent
        by now (its ack came back, another member received it), then settle, then check."""
        pong = await self.request("ping", within=10)
        assert pong["type"] == "pong", pong

    async def close(self) -> None:
        await self.connection.close()
        with contextlib.suppress(Exception):
            await self._reader


async def assert_refused(api: Api, url: str, close_code: int, **kwargs: Any) -> None:
    """A handshake at `url` is refused: closed with `close_code` by `hubbub serve`, or
    answered with its HTTP status (close code less 4000) by API Gateway."""
    if api.at_api_gateway:
        try:
            connection = await websockets.connect(url, **kwargs)
        except websockets.InvalidStatus as refused:
            assert refused.response.status_code == close_code - 4000
            return
        await connection.close()
        raise AssertionError(f"{url} was accepted")
    async with websockets.connect(url, **kwargs) as connection:
        try:
            await connection.recv()
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == close_code
        else:
            raise AssertionError(f"{url} was not refused")


@contextlib.asynccontextmanager
async def open_socket(api: Api, account: Account, **kwargs: Any) -> AsyncIterator[Socket]:
    ticket = await api.ticket(account)
    connection = await websockets.connect(f"{api.ws_url_for(account)}?ticket={ticket}", **kwargs)
    socket_ = Socket(connection)
    try:
        await socket_.wait_for(type="hello")
        yield socket_
    finally:
        await socket_.close()


def _durable(frame: dict[str, Any]) -> bool:
    """Whether a frame is an event a client may miss and fetch again (it has an id)."""
    kind = str(frame.get("type", ""))
    return ("." in kind or kind == "read") and frame.get("cursor") is not None


class Reader:
    """One device of `account` that learns what happened through `/api/sync` from a
    process, as the sync protocol has a client do. Positions are opaque: it resumes only
    from the cursor of a sync page (or of a hello), never from an event's. An event's
    cursor is its id: the reader keeps each event once, whether it came live or replayed,
    so a test sees what the user would see; what it asserts on is `created`."""

    def __init__(
        self, api: Api, account: Account, cursor: str, socket_: Socket | None = None
    ) -> None:
        self.api, self.account, self.cursor, self.socket = api, account, cursor, socket_
        self.events: dict[str, dict[str, Any]] = {}  # event id -> frame, first seen first

    @classmethod
    async def now(cls, api: Api, account: Account) -> Reader:
        """A reader from this moment on: the cursor of a `/api/sync` without `since`."""
        return cls(api, account, await api.sync_cursor(account))

    @classmethod
    def on(cls, api: Api, account: Account, socket_: Socket) -> Reader:
        """A reader that also has the live frames of `socket_` (open on `api`'s process),
        resuming from its hello's cursor."""
        hello = next(f for f in socket_.frames if f["type"] == "hello")
        return cls(api, account, hello["cursor"], socket_)

    async def catch_up(self) -> None:
        """Keeps the live frames received so far, then syncs from the resume cursor until
        there are no more pages, keeping the events it has not seen."""
        if self.socket is not None:
            self._keep(self.socket.frames)
        events, self.cursor = await self.api.sync_all(self.account, self.cursor)
        self._keep(events)

    async def follow(self, stop: asyncio.Event, killed: asyncio.Event | None = None) -> None:
        """Syncs again and again until `stop`, as a device that polls. When a sync is cut
        by `killed` (its process was killed) it stops, to resume from its last cursor."""
        while not stop.is_set():
            try:
                await self.catch_up()
            except httpx.HTTPError:
                if killed is not None and killed.is_set():
                    return
                raise
            await asyncio.sleep(0.05)  # a device polls; it does not spin

    def _keep(self, frames: list[dict[str, Any]]) -> None:
        for frame in frames:
            if _durable(frame):
                self.events.setdefault(frame["cursor"], frame)

    def created(self, conversation_id: str) -> list[str]:
        """The message ids of the kept `message.created` events of a conversation, in
        the order they came (for a reader without a socket, the order of the log): a
        message created twice shows twice."""
        return [
            e["message"]["id"]
            for e in self.events.values()
            if e["type"] == "message.created" and e["message"]["conversationId"] == conversation_id
        ]
