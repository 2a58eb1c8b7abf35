"""Load-generator processes. Each is `async def x(conn, args)`: it sets up, answers
`{"ready": ...}`, then serves step commands from the parent until `{"cmd": "stop"}`.

Open loop: message i of a step is due at t0 + i/rate (CLOCK_MONOTONIC, shared by all
processes on the machine); its latency is measured from that intended time, so a
server that stalls the generator is charged for the wait (no coordinated omission).
Timestamps travel in the payload. The sender sleeps to within 1 ms of a due time and
then spins on the event loop (uvloop timers have 1 ms resolution), so sub-millisecond
latencies are not inflated by the generator; spin time is subtracted from the
reported generator CPU.
"""

# Step closures (send/fire/finished) read the step's own locals and finish within the step.
# ruff: noqa: B023
from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench.common import hist_dump, hist_record, new_hist
from bench.fixtures import ticket
from bench.http import HttpConn
from bench.wsclient import Client, connect

PAD = "x" * 80  # message bodies of ~100 characters


async def _recv(conn: Any) -> dict[str, Any]:
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # type: ignore[no-any-return]


_SPIN_COST: list[float] = []


async def _spin_cost() -> float:
    """CPU seconds of one empty event-loop spin iteration, measured once per process
    while nothing else runs, so spin time can be told from real work done while
    spinning (frames received during a yield are real generator work)."""
    if not _SPIN_COST:
        rounds = []
        for _ in range(10):  # the least disturbed of 10 rounds (the machine may be busy)
            c0 = time.process_time()
            for _ in range(2_000):
                time.monotonic_ns()
                os.sched_yield()
                await asyncio.sleep(0)
            rounds.append((time.process_time() - c0) / 2_000)
        _SPIN_COST.append(min(rounds))
    return _SPIN_COST[0]


class Pacer:
    """Sends `count` items at `rate`/s from t0, calling send(i, intended_ns)."""

    def __init__(self) -> None:
        self.spins = 0

    @property
    def spin_cpu(self) -> float:
        return self.spins * (_SPIN_COST[0] if _SPIN_COST else 0.0)

    async def run(
        self, rate: float, t0_ns: int, count: int, send: Callable[[int, int], None]
    ) -> int:
        interval = 1e9 / rate
        for i in range(count):
            due = t0_ns + int(i * interval)
            now = time.monotonic_ns()
            if due - now > 1_500_000:
                await asyncio.sleep((due - now - 1_000_000) / 1e9)
                now = time.monotonic_ns()
            if now < due:
                await _spin_cost()
                while time.monotonic_ns() < due:
                    self.spins += 1
                    os.sched_yield()  # let other generator processes on this core run
                    await asyncio.sleep(0)
            send(i, due)
            if i % 16 == 15:
                await asyncio.sleep(0)
        return count


async def _wait_count(get: Callable[[], int], target: int, deadline_ns: int) -> None:
    while get() < target and time.monotonic_ns() < deadline_ns:  # noqa: ASYNC110 (polls a counter)
        await asyncio.sleep(0.01)


async def _tickets(http_port: int, tokens: list[str], width: int = 4) -> list[str]:
    conns = [await HttpConn("127.0.0.1", http_port).connect() for _ in range(width)]
    out: list[str] = [""] * len(tokens)
    queue = list(enumerate(tokens))

    async def lane(k: int) -> None:
        while queue:
            n, tok = queue.pop()
            out[n] = await _ticket_retry(conns, k, tok)

    try:
        await asyncio.gather(*(lane(k) for k in range(len(conns))))
    finally:
        for c in conns:
            c.close()
    return out


async def _ticket_retry(pool: list[HttpConn], k: int, token: str, tries: int = 4) -> str:
    """A ticket over pool[k]; a keep-alive connection the server dropped is replaced."""
    for attempt in range(tries):
        try:
            return await ticket(pool[k], token)
        except ConnectionError:
            if attempt == tries - 1:
                raise
            pool[k].close()
            pool[k] = await HttpConn(pool[k].host, pool[k].port).connect()
    raise AssertionError("unreachable")


def _ws_url(args: dict[str, Any], tkt: str | None) -> str:
    return f"{args['ws_url']}/ws?ticket={tkt}" if tkt else f"{args['ws_url']}/"


# --------------------------------------------------------------------------- B1


async def idle_worker(conn: Any, args: dict[str, Any]) -> None:
    """Holds `count` idle connections; each hubbub one redeems a fresh ticket."""
    clients: list[Client] = []
    tokens: list[str] = args.get("tokens") or []
    srcs: list[str] = args["srcs"]
    per_src = args["per_src"]
    await _spin_cost()
    conn.send({"ready": True})
    while True:
        cmd = await _recv(conn)
        if cmd["cmd"] == "stop":
            break
        if cmd["cmd"] == "connect":
            c0, w0 = time.process_time(), time.monotonic()
            failures = 0
            http = (
                [await HttpConn("127.0.0.1", args["http_port"]).connect() for _ in range(4)]
                if tokens
                else []
            )
            todo = list(range(args["count"]))
            todo.reverse()

            async def lane(k: int) -> None:
                nonlocal failures
                while todo:
                    i = todo.pop()
                    tkt = (
                        await _ticket_retry(http, k % len(http), tokens[i % len(tokens)])
                        if tokens
                        else None
                    )
                    src = srcs[(args["offset"] + i) // per_src % len(srcs)]
                    try:
                        clients.append(await connect(_ws_url(args, tkt), src))
                    except Exception:
                        failures += 1

            await asyncio.gather(*(lane(k) for k in range(args.get("width", 64))))
            for h in http:
                h.close()
            conn.send(
                {
                    "connected": sum(1 for c in clients if not c.closed),
                    "failures": failures,
                    "seconds": time.monotonic() - w0,
                    "cpu": time.process_time() - c0,
                }
            )
        elif cmd["cmd"] == "check":
            conn.send({"open": sum(1 for c in clients if not c.closed)})
    for c in clients:
        c.close()
    await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- B2


async def storm_worker(conn: Any, args: dict[str, Any]) -> None:
    """Opens new connections at a fixed rate; latency = hello received - due time."""
    tokens: list[str] = args.get("tokens") or []
    prepared: list[str] = []
    await _spin_cost()
    conn.send({"ready": True})
    while True:
        cmd = await _recv(conn)
        if cmd["cmd"] == "stop":
            break
        if cmd["cmd"] == "prepare":
            need = cmd["count"]
            prepared = (
                await _tickets(args["http_port"], [tokens[i % len(tokens)] for i in range(need)])
                if tokens
                else []
            )
            conn.send({"prepared": len(prepared)})
            continue
        rate, count, src = cmd["rate"], cmd["count"], cmd["src"]
        hist = new_hist()
        clients: list[Client] = []
        failures = 0
        done = 0
        pacer = Pacer()

        async def one(i: int, due: int) -> None:
            nonlocal failures, done
            try:
                client = await connect(_ws_url(args, prepared[i] if prepared else None), src, 10)
                hist_record(hist, (time.monotonic_ns() - due) / 1000)
                clients.append(client)
                done += 1
            except Exception:
                failures += 1

        tasks: list[asyncio.Task[None]] = []
        c0 = time.process_time()
        await pacer.run(
            rate, cmd["t0"], count, lambda i, due: tasks.append(asyncio.ensure_future(one(i, due)))
        )
        if tasks:
            await asyncio.wait(tasks, timeout=cmd["grace"])
        cpu_raw = time.process_time() - c0
        cpu = max(cpu_raw - pacer.spin_cpu, 0.0)
        for c in clients:
            c.close()
        await asyncio.sleep(0.3)
        for t in tasks:
            t.cancel()
        conn.send(
            {
                "sent": count,
                "done": done,
                "failures": failures,
                "hist": hist_dump(hist),
                "cpu": cpu,
                "cpu_raw": cpu_raw,
            }
        )


# --------------------------------------------------------------------------- B3/B4


async def chat_worker(conn: Any, args: dict[str, Any]) -> None:
    """1:1 pairs held in this process: the sender's timestamp is read back here.

    hubbub: a sends `sendMessage` on the pair's direct conversation, b receives
    `message.created` (delivery latency), a receives the `ack` (after commit).
    echo: one connection per pair to the bare echo server (round-trip latency)."""
    kind = args["kind"]
    senders: list[Client] = []
    receivers: list[Client] = []
    conv_ids: list[str] = []
    state = {"delivered": 0, "acked": 0, "errors": 0}
    hist = new_hist()
    ack_hist = new_hist()

    def on_delivery(data: bytes) -> None:
        frame = orjson.loads(data)
        if kind == "echo":
            due = int(frame["body"].split(" ", 1)[0])
        elif frame.get("type") == "message.created":
            due = int(frame["message"]["body"].split(" ", 1)[0])
        else:
            return
        hist_record(hist, (time.monotonic_ns() - due) / 1000)
        state["delivered"] += 1

    def on_ack(data: bytes) -> None:
        frame = orjson.loads(data)
        if frame.get("type") == "ack":
            hist_record(ack_hist, (time.monotonic_ns() - int(frame["requestId"])) / 1000)
            state["acked"] += 1
        elif frame.get("type") == "error":
            state["errors"] += 1

    if kind == "hubbub":
        pairs = args["pairs"]
        toks = await _tickets(args["http_port"], [t for _, a, b in pairs for t in (a, b)])
        # B7 puts the recipients on another process (a ticket works on any of them).
        there = {**args, "ws_url": args.get("receiver_ws_url") or args["ws_url"]}
        for n, (cid, _, _) in enumerate(pairs):
            a = await connect(_ws_url(args, toks[2 * n]))
            b = await connect(_ws_url(there, toks[2 * n + 1]))
            a.on_text, b.on_text = on_ack, on_delivery
            senders.append(a)
            receivers.append(b)
            conv_ids.append(cid)
    else:
        for _ in range(args["pairs"]):
            c = await connect(_ws_url(args, None))
            c.on_text = on_delivery
            senders.append(c)
            conv_ids.append("echo")
    await _spin_cost()
    conn.send({"ready": True})
    step_no = 0
    while True:
        cmd = await _recv(conn)
        if cmd["cmd"] == "stop":
            break
        step_no += 1
        hist.reset()
        ack_hist.reset()
        state.update(delivered=0, acked=0, errors=0)
        pacer = Pacer()
        n_senders = len(senders)
        wid = args["wid"]

        def send(i: int, due: int, step: int = step_no) -> None:
            k = i % n_senders
            frame = {
                "action": "sendMessage",
                "requestId": str(due),
                "conversationId": conv_ids[k],
                "clientMessageId": f"w{wid}s{step}m{i}",
                "body": f"{due} {i} {PAD}",
            }
            senders[k].send(orjson.dumps(frame))

        c0 = time.process_time()
        count = cmd["count"]
        await pacer.run(cmd["rate"], cmd["t0"], count, send)
        await _wait_count(
            lambda: state["delivered"], count, time.monotonic_ns() + int(cmd["grace"] * 1e9)
        )
        if kind == "hubbub":
            await _wait_count(lambda: state["acked"], count, time.monotonic_ns() + int(0.2e9))
        cpu_raw = time.process_time() - c0
        cpu = max(cpu_raw - pacer.spin_cpu, 0.0)
        conn.send(
            {
                "sent": count,
                "done": state["delivered"],
                "acked": state["acked"],
                "errors": state["errors"],
                "hist": hist_dump(hist),
                "ack_hist": hist_dump(ack_hist),
                "cpu": cpu,
                "cpu_raw": cpu_raw,
            }
        )
        await asyncio.sleep(0.05)
    for c in senders + receivers:
        c.close()
    await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- B5


async def fanout_worker(conn: Any, args: dict[str, Any]) -> None:
    """Members of one group spread over processes; the first `senders` members held
    here also send (round robin), and every member receives what the others send.

    Delivery latency is now - due time read from the body (CLOCK_MONOTONIC is one
    clock for every process on the machine)."""
    kind = args["kind"]
    members: list[Client] = []
    state = {"delivered": 0}
    hist = new_hist()

    def on_delivery(data: bytes) -> None:
        frame = orjson.loads(data)
        if kind == "hubbub":
            if frame.get("type") != "message.created":
                return
            body = frame["message"]["body"]
        else:
            body = frame["body"]
        hist_record(hist, (time.monotonic_ns() - int(body.split(" ", 1)[0])) / 1000)
        state["delivered"] += 1

    toks = (
        await _tickets(args["http_port"], args["tokens"])
        if kind == "hubbub"
        else [None] * args["count"]
    )
    for tkt in toks:
        client = await connect(_ws_url(args, tkt))
        client.on_text = on_delivery
        members.append(client)
    senders = members[: args["senders"]]
    await _spin_cost()
    conn.send({"ready": True, "members": len(members)})
    step_no = 0
    wid = args["wid"]
    while True:
        cmd = await _recv(conn)
        if cmd["cmd"] == "stop":
            break
        step_no += 1
        hist.reset()
        state["delivered"] = 0
        pacer = Pacer()
        c0 = time.process_time()
        count = cmd["count"]

        def send(i: int, due: int, step: int = step_no) -> None:
            frame = {
                "action": "sendMessage",
                "requestId": str(i),
                "conversationId": args["conversation_id"],
                "clientMessageId": f"f{wid}s{step}m{i}",
                "body": f"{due} {i} {PAD}",
            }
            senders[i % len(senders)].send(orjson.dumps(frame))

        if senders and count:
            await pacer.run(cmd["rate"], cmd["t0"], count, send)
        else:
            await asyncio.sleep(max(0, cmd["end"] - time.monotonic_ns()) / 1e9)
        # every member receives every message but its own
        expected = cmd["total"] * len(members) - count
        await _wait_count(
            lambda: state["delivered"], expected, time.monotonic_ns() + int(cmd["grace"] * 1e9)
        )
        cpu_raw = time.process_time() - c0
        cpu = max(cpu_raw - pacer.spin_cpu, 0.0)
        conn.send(
            {
                "sent": count,
                "done": state["delivered"],
                "expected": expected,
                "hist": hist_dump(hist),
                "cpu": cpu,
                "cpu_raw": cpu_raw,
            }
        )
    for c in members:
        c.close()
    await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- B6


async def http_worker(conn: Any, args: dict[str, Any]) -> None:
    """GETs one path at a fixed rate over a pool of keep-alive connections (no
    pipelining: a request due while every connection is busy waits, and its wait
    counts in its latency)."""
    pool = [await HttpConn("127.0.0.1", args["port"]).connect() for _ in range(args["conns"])]
    request = pool[0].build("GET", args["path"], None, args.get("token"))
    await _spin_cost()
    conn.send({"ready": True})
    while True:
        cmd = await _recv(conn)
        if cmd["cmd"] == "stop":
            break
        # uvicorn drops keep-alive connections idle for 5 s (e.g. while the other side ran):
        # every step starts on fresh ones
        for c in pool:
            c.close()
        pool = [await HttpConn("127.0.0.1", args["port"]).connect() for _ in range(args["conns"])]
        hist = new_hist()
        idle = list(pool)
        backlog: list[int] = []
        state = {"done": 0, "bad": 0}
        backlog_pos = 0

        def fire(c: HttpConn, due: int) -> None:
            fut = c.raw(request)
            fut.add_done_callback(lambda f, c=c, due=due: finished(f, c, due))

        def finished(fut: asyncio.Future[tuple[int, bytes]], c: HttpConn, due: int) -> None:
            nonlocal backlog_pos
            if fut.exception() is None and fut.result()[0] == 200:
                hist_record(hist, (time.monotonic_ns() - due) / 1000)
                state["done"] += 1
            else:
                state["bad"] += 1
                return
            if backlog_pos < len(backlog):
                backlog_pos += 1
                fire(c, backlog[backlog_pos - 1])
            else:
                idle.append(c)

        def send(i: int, due: int) -> None:
            if idle and backlog_pos >= len(backlog):
                fire(idle.pop(), due)
            else:
                backlog.append(due)

        pacer = Pacer()
        c0 = time.process_time()
        count = cmd["count"]
        await pacer.run(cmd["rate"], cmd["t0"], count, send)
        await _wait_count(
            lambda: state["done"] + state["bad"],
            count,
            time.monotonic_ns() + int(cmd["grace"] * 1e9),
        )
        cpu_raw = time.process_time() - c0
        cpu = max(cpu_raw - pacer.spin_cpu, 0.0)
        if state["done"] + state["bad"] < count:  # abandon what is still queued
            for c in pool:
                c.close()
            pool = [
                await HttpConn("127.0.0.1", args["port"]).connect() for _ in range(args["conns"])
            ]
        conn.send(
            {
                "sent": count,
                "done": state["done"],
                "bad": state["bad"],
                "hist": hist_dump(hist),
                "cpu": cpu,
                "cpu_raw": cpu_raw,
            }
        )
    for c in pool:
        c.close()
    with contextlib.suppress(Exception):
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- B3c/B4s


async def closed_worker(conn: Any, args: dict[str, Any]) -> None:
    """Closed loop: each pair has one message in flight at a time. The sender sends the
    next message as soon as the last one is done: acked (hubbub, `until` "ack") or
    also delivered to the recipient (`until` "delivery"; echo: echoed back).

    Latency is send -> recipient (echo: the round trip); the rate is what the server
    lets the pairs reach, so throughput is the number of messages done in the step."""
    kind = args["kind"]
    senders: list[Client] = []
    receivers: list[Client] = []
    conv_ids: list[str] = []
    hist = new_hist()
    ack_hist = new_hist()
    state = {"delivered": 0, "acked": 0, "errors": 0, "sent": 0}
    if kind == "hubbub":
        pairs = args["pairs"]
        toks = await _tickets(args["http_port"], [t for _, a, b in pairs for t in (a, b)])
        for n, (cid, _, _) in enumerate(pairs):
            senders.append(await connect(_ws_url(args, toks[2 * n])))
            receivers.append(await connect(_ws_url(args, toks[2 * n + 1])))
            conv_ids.append(cid)
    else:
        for _ in range(args["pairs"]):
            senders.append(await connect(_ws_url(args, None)))
            conv_ids.append("echo")
    await _spin_cost()
    conn.send({"ready": True})
    step_no = 0
    wid = args["wid"]
    while True:
        cmd = await _recv(conn)
        if cmd["cmd"] == "stop":
            break
        step_no += 1
        hist.reset()
        ack_hist.reset()
        state.update(delivered=0, acked=0, errors=0, sent=0)
        end_ns = cmd["t0"] + int(cmd["seconds"] * 1e9)
        need_delivery = cmd["until"] == "delivery" or kind == "echo"
        need_ack = kind == "hubbub"
        idle = asyncio.get_running_loop().create_future()
        # per pair: [acked, delivered, in flight]
        flight = [[False, False, False] for _ in senders]

        def send(k: int, step: int = step_no) -> None:
            now = time.monotonic_ns()
            if now >= end_ns:
                flight[k][2] = False
                if not any(f[2] for f in flight) and not idle.done():
                    idle.set_result(None)
                return
            i = state["sent"]
            state["sent"] += 1
            flight[k] = [False, False, True]
            frame = {
                "action": "sendMessage",
                "requestId": str(now),
                "conversationId": conv_ids[k],
                "clientMessageId": f"c{wid}s{step}m{i}",
                "body": f"{now} {i} {PAD}",
            }
            senders[k].send(orjson.dumps(frame))

        def settle(k: int) -> None:
            acked, delivered, _ = flight[k]
            if (acked or not need_ack) and (delivered or not need_delivery):
                send(k)

        def on_delivery(k: int, data: bytes) -> None:
            frame = orjson.loads(data)
            if kind == "echo":
                body = frame["body"]
            elif frame.get("type") == "message.created":
                body = frame["message"]["body"]
            else:
                return
            hist_record(hist, (time.monotonic_ns() - int(body.split(" ", 1)[0])) / 1000)
            state["delivered"] += 1
            flight[k][1] = True
            settle(k)

        def on_ack(k: int, data: bytes) -> None:
            frame = orjson.loads(data)
            if frame.get("type") == "ack":
                hist_record(ack_hist, (time.monotonic_ns() - int(frame["requestId"])) / 1000)
                state["acked"] += 1
                flight[k][0] = True
                settle(k)
            elif frame.get("type") == "error":
                state["errors"] += 1

        for k, client in enumerate(senders):
            client.on_text = (
                (lambda d, k=k: on_delivery(k, d))
                if kind == "echo"
                else (lambda d, k=k: on_ack(k, d))
            )
        for k, client in enumerate(receivers):
            client.on_text = lambda d, k=k: on_delivery(k, d)
        await asyncio.sleep(max(0, cmd["t0"] - time.monotonic_ns()) / 1e9)
        c0 = time.process_time()
        for k in range(len(senders)):
            send(k)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(idle, timeout=cmd["seconds"] + cmd["grace"])
        if kind == "hubbub":  # the last deliveries of an ack-paced loop
            await _wait_count(
                lambda: state["delivered"], state["sent"], time.monotonic_ns() + int(0.5e9)
            )
        cpu = time.process_time() - c0
        conn.send(
            {
                "sent": state["sent"],
                "done": state["acked"] if kind == "hubbub" else state["delivered"],
                "delivered": state["delivered"],
                "errors": state["errors"],
                "hist": hist_dump(hist),
                "ack_hist": hist_dump(ack_hist),
                "cpu": cpu,
                "cpu_raw": cpu,
            }
        )
        await asyncio.sleep(0.05)
    for c in senders + receivers:
        c.close()
    await asyncio.sleep(0.2)
