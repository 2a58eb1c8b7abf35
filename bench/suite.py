"""The benchmarks B1-B8. Each returns a result dict: Hubbub and its bare baseline,
measured one after the other in the same run, and the ratio against the target."""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import workers as W
from bench.common import (
    Server,
    machine_busy_cpus,
    Workers,
    gen_cpu_summary,
    hist_merge,
    pct_ms,
    raise_nofile,
    start_baseline,
    start_hubbub,
)
from bench.fixtures import create_users, direct_pairs, group, post_messages
from bench.http import HttpConn

SLO_P99_MS = 100.0  # a step is "sustained" when ≥ 99 % arrive and p99 stays under this


@dataclass
class Ctx:
    quick: bool
    out: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def pick(self, quick: Any, full: Any) -> Any:
        return quick if self.quick else full


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------------ stepping


QUIET_WAIT_S = 20.0  # set to 0 by --quick
CONTENDED_CORES = 0.3  # other processes' CPU during a step above this: "contended"


def _wait_quiet(threshold: float = 0.3) -> float:
    """Between steps nothing of ours runs, so machine-wide busy CPU is other people's
    work (a shared machine). Waits, up to `max_wait` s, for a 0.5 s window in which it
    stays under `threshold` cores; returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < QUIET_WAIT_S:
        b0 = machine_busy_cpus()
        time.sleep(0.5)
        if (machine_busy_cpus() - b0) / 0.5 < threshold:
            break
    return round(time.monotonic() - start, 1)


def _step(
    workers: Workers,
    server: Server,
    commands: Callable[[int], list[dict[str, Any]]],
    rate: float,
    duration: float,
    grace: float,
    unit: str = "msgs",
) -> dict[str, Any]:
    waited = _wait_quiet()
    t0 = time.monotonic_ns() + 300_000_000
    cpu0, wall0, busy0 = server.cpu_seconds(), time.monotonic(), machine_busy_cpus()
    replies = workers.ask_each(commands(t0), timeout=duration + grace + 120)
    wall = time.monotonic() - wall0
    server_cpu_s = server.cpu_seconds() - cpu0
    server_cpu = server_cpu_s / max(wall, 1e-9)
    # CPU used by everything else on the machine (other people's tests on a shared box)
    gen_cpu_s = sum(r.get("cpu_raw", r.get("cpu", 0.0)) for r in replies)
    others = max(0.0, machine_busy_cpus() - busy0 - server_cpu_s - gen_cpu_s) / max(wall, 1e-9)
    hist = hist_merge([r["hist"] for r in replies])
    sent = sum(r.get("sent", 0) for r in replies)
    expected = sum(r.get("expected", r.get("sent", 0)) for r in replies)
    done = sum(r.get("done", 0) for r in replies)
    bad = sum(r.get("failures", 0) + r.get("bad", 0) + r.get("errors", 0) for r in replies)
    lat = pct_ms(hist)
    ok = expected > 0 and done >= 0.99 * expected and bad == 0 and lat.get("p99", 1e9) <= SLO_P99_MS
    step = {
        "offered_per_s": round(rate, 1),
        "sent": sent,
        "expected": expected,
        "done": done,
        f"{unit}_per_s": round(done / duration, 1),
        "errors": bad,
        "latency_ms": lat,
        "server_cpu": round(server_cpu, 3),
        "generator_cpu": gen_cpu_summary(replies, duration + 0.3),
        "other_processes_cpu": round(others, 3),
        "waited_for_quiet_s": waited,
        "contended": others > CONTENDED_CORES,
        "sustained": ok,
    }
    acks = [r["ack_hist"] for r in replies if r.get("ack_hist")]
    if acks:
        step["ack_latency_ms"] = pct_ms(hist_merge(acks))
    mark = ("ok " if ok else "OVER") + ("~" if others > CONTENDED_CORES else " ")
    print(
        f"    {server.name:<17} {mark} offered {rate:>9,.0f}/s  done {done:>8,}/{expected:<8,}"
        f" p50 {lat.get('p50', '-')!s:>8} p99 {lat.get('p99', '-')!s:>8} ms"
        f"  server cpu {server_cpu:4.0%}  gen cpu {step['generator_cpu']['total_of_gen_cpus']:4.0%}"
        f"  others {others:4.0%}",
        flush=True,
    )
    return step


def _ramp(
    workers: Workers,
    server: Server,
    commands: Callable[[float, int], list[dict[str, Any]]],
    start: float,
    factor: float,
    limit: float,
    duration: float,
    grace: float,
    refine: bool,
    unit: str = "msgs",
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Raises the offered rate geometrically until a step is not sustained; with
    `refine`, tries the midpoint once. Returns (best sustained step, all steps)."""
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    rate = start
    failed: float | None = None
    while rate <= limit:
        step = _step(workers, server, lambda t0, r=rate: commands(r, t0), rate, duration, grace, unit)
        steps.append(step)
        time.sleep(0.5)
        tries = 1
        while not step["sustained"] and refine and (tries < 2 or (tries < 4 and step["contended"])):
            # the machine is shared: a failed step is tried again before the ramp stops,
            # up to 3 more times while other processes were busy during it
            step = _step(workers, server, lambda t0, r=rate: commands(r, t0), rate, duration, grace, unit)
            step["retry"] = tries
            tries += 1
            steps.append(step)
            time.sleep(0.5)
        if not step["sustained"]:
            failed = rate
            break
        best = step
        rate *= factor
    if refine and failed is not None and best is not None:
        mid = (best["offered_per_s"] + failed) / 2
        step = _step(workers, server, lambda t0: commands(mid, t0), mid, duration, grace, unit)
        steps.append(step)
        if step["sustained"]:
            best = step
    if best is None and not refine and steps:
        # quick mode only proves the plumbing: report the step it ran, marked as such
        best = {**steps[-1], "not_sustained": True}
    return best, steps


def _ratio(a: float | None, b: float | None) -> float | None:
    if not a or not b:
        return None
    return round(a / b, 3)


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _chunks(items: Sequence[Any], parts: int) -> list[list[Any]]:
    return [list(items[i::parts]) for i in range(parts)]


# ------------------------------------------------------------------ B1


def b1(ctx: Ctx) -> dict[str, Any]:
    n = ctx.pick(200, int(os.environ.get("BENCH_B1_CONNECTIONS", "50000")))
    per_user = 20
    n_workers = ctx.pick(2, 4)
    requested = n
    limit = raise_nofile(n + 2_000)
    note = ""
    if limit < n + 500:
        # the server is one process: it cannot hold more sockets than its fd limit
        n = limit - 500
        note = (f"{requested:,} requested; RLIMIT_NOFILE hard limit is {limit:,} here and cannot "
                "be raised (no CAP_SYS_RESOURCE), so one server process holds at most that")
        print(f"    {note}", flush=True)
    srcs = [f"127.0.0.{i}" for i in range(1, 2 + n // 25_000)]
    out: dict[str, Any] = {"connections": n, "requested": requested, "note": note,
                           "source_addresses": srcs, "per_user": per_user}
    for kind in ("hubbub", "bare"):
        server = start_hubbub() if kind == "hubbub" else start_baseline("ws-idle")
        workers: Workers | None = None
        try:
            tokens: list[str] = []
            if kind == "hubbub":
                t = time.monotonic()
                users = _run(create_users(server.port, math.ceil(n / per_user)))
                tokens = [u.token for u in users]
                print(f"    {len(users)} users in {time.monotonic() - t:.1f} s", flush=True)
            counts = _split(n, n_workers)
            offsets = [sum(counts[:i]) for i in range(n_workers)]
            # every user's connections stay in one worker, ≤ per_user each
            args = [
                {
                    "kind": kind,
                    "http_port": server.port,
                    "ws_url": server.ws,
                    "tokens": [tokens[(offsets[i] + j) // per_user] for j in range(counts[i])] if tokens else [],
                    "count": counts[i],
                    "offset": offsets[i],
                    "srcs": srcs,
                    "per_src": 25_000,
                    "width": 32,
                }
                for i in range(n_workers)
            ]
            workers = Workers.start(W.idle_worker, args)
            workers.collect(120)
            time.sleep(1.0)
            rss0 = server.rss_kib()
            t = time.monotonic()
            replies = workers.ask_all({"cmd": "connect"}, timeout=1800)
            took = time.monotonic() - t
            time.sleep(2.0)
            rss1 = server.rss_kib()
            opened = sum(r["open"] for r in workers.ask_all({"cmd": "check"}))
            failures = sum(r["failures"] for r in replies)
            per_conn = (rss1 - rss0) * 1024 / max(opened, 1)
            out[kind] = {
                "open": opened,
                "failures": failures,
                "rss_before_mib": round(rss0 / 1024, 1),
                "rss_after_mib": round(rss1 / 1024, 1),
                "rss_per_conn_kib": round(per_conn / 1024, 2),
                "connect_seconds": round(took, 1),
                "connects_per_s": round(opened / took, 1),
                "generator_cpu": gen_cpu_summary(replies, took),
            }
            print(
                f"    {kind:<7} {opened:,} open ({failures} failed) in {took:.1f} s; RSS "
                f"{rss0 / 1024:.0f} → {rss1 / 1024:.0f} MiB = {per_conn / 1024:.1f} KiB/conn",
                flush=True,
            )
        finally:
            if workers:
                workers.stop()
            server.stop()
    ratio = _ratio(out["hubbub"]["rss_per_conn_kib"], out["bare"]["rss_per_conn_kib"])
    complete = out["hubbub"]["open"] >= n * 0.99 and out["bare"]["open"] >= n * 0.99
    out["headline"] = {
        "metric": "server RSS per idle connection, hubbub / bare",
        "ratio": ratio,
        "target": "≤ 1.25 at 50k connections",
        "pass": bool(ratio is not None and ratio <= 1.25 and complete and n >= 50_000),
    }
    return out


# ------------------------------------------------------------------ B2


def b2(ctx: Ctx) -> dict[str, Any]:
    n_workers = 2
    duration = ctx.pick(0.5, 2.0)
    start, factor, limit = ctx.pick((100, 2.0, 100), (250, 1.5, 20_000))
    raise_nofile(int(limit * duration) * 2 + 10_000)
    out: dict[str, Any] = {"step_seconds": duration, "slo_p99_ms": SLO_P99_MS}
    for kind in ("hubbub", "bare"):
        env = {"HUBBUB_MAX_CONNECTIONS_PER_USER": "1000000"}
        server = start_hubbub(env) if kind == "hubbub" else start_baseline("ws-idle")
        workers: Workers | None = None
        try:
            tokens = [u.token for u in _run(create_users(server.port, 8))] if kind == "hubbub" else []
            args = [{"kind": kind, "http_port": server.port, "ws_url": server.ws, "tokens": tokens}] * n_workers
            workers = Workers.start(W.storm_worker, args)
            workers.collect(120)
            step_no = [0]

            def commands(rate: float, t0: int, w: Workers = workers) -> list[dict[str, Any]]:
                step_no[0] += 1
                counts = _split(int(rate * duration), n_workers)
                w.ask_each([{"cmd": "prepare", "count": c} for c in counts], timeout=600)
                t0 = time.monotonic_ns() + 300_000_000  # after the tickets were fetched
                src = f"127.0.{step_no[0] % 250 + 1}.{2 if kind == 'hubbub' else 3}"
                return [
                    {"cmd": "step", "rate": rate / n_workers, "count": c, "t0": t0, "src": src, "grace": 10.0}
                    for c in counts
                ]

            best, steps = _ramp(workers, server, commands, start, factor, limit, duration, 10.0, not ctx.quick, "conns")
            out[kind] = {"steps": steps, "max_sustained": best}
        finally:
            if workers:
                workers.stop()
            server.stop()
    h, b = out["hubbub"]["max_sustained"], out["bare"]["max_sustained"]
    hr = h["conns_per_s"] if h else None
    br = b["conns_per_s"] if b else None
    out["headline"] = {
        "metric": "new authenticated connections/s at p99 ≤ 100 ms, hubbub / bare",
        "hubbub_per_s": hr,
        "bare_per_s": br,
        "ratio": _ratio(hr, br),
        "hubbub_p99_ms": h["latency_ms"].get("p99") if h else None,
        "target": "≥ 500/s with handshake p99 < 100 ms",
        "pass": bool(hr and hr >= 500 * 0.99 and h["latency_ms"]["p99"] < 100),
    }
    return out


# ------------------------------------------------------------------ B3 / B4


def _chat_setup(ctx: Ctx, kind: str, pairs_n: int, n_workers: int) -> tuple[Server, Workers]:
    server = start_hubbub() if kind == "hubbub" else start_baseline("ws-echo")
    try:
        if kind == "hubbub":
            users = _run(create_users(server.port, pairs_n * 2))
            pairs = [(cid, a.token, b.token) for cid, a, b in _run(direct_pairs(server.port, users))]
            parts: list[Any] = _chunks(pairs, n_workers)
        else:
            parts = _split(pairs_n, n_workers)
        args = [
            {"kind": "hubbub" if kind == "hubbub" else "echo", "http_port": server.port,
             "ws_url": server.ws, "pairs": parts[i], "wid": i}
            for i in range(n_workers)
        ]
        workers = Workers.start(W.chat_worker, args)
        workers.collect(120)
        return server, workers
    except BaseException:
        server.stop()
        raise


def _chat_commands(n_workers: int, duration: float, grace: float) -> Callable[[float, int], list[dict[str, Any]]]:
    def commands(rate: float, t0: int) -> list[dict[str, Any]]:
        return [
            {"cmd": "step", "rate": rate / n_workers, "count": c, "t0": t0, "grace": grace}
            for c in _split(int(rate * duration), n_workers)
        ]

    return commands


def b3(ctx: Ctx) -> dict[str, Any]:
    pairs_n, n_workers = ctx.pick((4, 2), (32, 2))
    duration, grace = ctx.pick((0.5, 2.0), (3.0, 3.0))
    start, factor, limit = ctx.pick((100, 2.0, 100), (250, 1.5, 200_000))
    out: dict[str, Any] = {"pairs": pairs_n, "step_seconds": duration, "slo_p99_ms": SLO_P99_MS,
                           "durability": "ack after SQLite commit, synchronous=FULL"}
    for kind in ("hubbub", "bare"):
        server, workers = _chat_setup(ctx, kind, pairs_n, n_workers)
        try:
            best, steps = _ramp(workers, server, _chat_commands(n_workers, duration, grace),
                                start, factor, limit, duration, grace, not ctx.quick)
            out[kind] = {"steps": steps, "max_sustained": best}
        finally:
            workers.stop()
            server.stop()
    h, b = out["hubbub"]["max_sustained"], out["bare"]["max_sustained"]
    hr = h["msgs_per_s"] if h else None
    br = b["msgs_per_s"] if b else None
    ratio = _ratio(hr, br)
    out["headline"] = {
        "metric": "max sustained 1:1 msgs/s delivered (durable) / bare echo round trips/s",
        "hubbub_per_s": hr,
        "bare_per_s": br,
        "ratio": ratio,
        "target": "≥ 0.5",
        "pass": bool(ratio is not None and ratio >= 0.5),
    }
    return out


def b4(ctx: Ctx) -> dict[str, Any]:
    b3r = ctx.results.get("B3")
    if b3r is None:
        print("    (B4 needs B3's maximum: running B3 first)", flush=True)
        b3r = ctx.results["B3"] = b3(ctx)
    hmax = b3r["headline"]["hubbub_per_s"] or 50.0
    rate = max(hmax / 2, 10.0)
    pairs_n, n_workers = ctx.pick((4, 2), (32, 2))
    duration, grace = ctx.pick((0.5, 2.0), (8.0, 3.0))
    out: dict[str, Any] = {"rate_per_s": rate, "pairs": pairs_n, "step_seconds": duration,
                           "from_b3_max": hmax}
    for kind in ("hubbub", "bare"):
        server, workers = _chat_setup(ctx, kind, pairs_n, n_workers)
        try:
            attempts = [
                _step(workers, server, lambda t0: _chat_commands(n_workers, duration, grace)(rate, t0),
                      rate, duration, grace)
                for _ in range(ctx.pick(1, 2))
            ]
            # a shared machine: keep the least disturbed attempt (same rule for both sides)
            out[kind] = min(attempts, key=lambda st: st["latency_ms"].get("p99", 1e9))
            out[kind]["attempts"] = [a["latency_ms"] for a in attempts]
        finally:
            workers.stop()
            server.stop()
    hl, bl = out["hubbub"]["latency_ms"], out["bare"]["latency_ms"]
    r50, r99 = _ratio(hl.get("p50"), bl.get("p50")), _ratio(hl.get("p99"), bl.get("p99"))
    out["headline"] = {
        "metric": "send→recipient latency at half of B3's max, hubbub / bare echo RTT",
        "hubbub_p50_ms": hl.get("p50"), "hubbub_p99_ms": hl.get("p99"),
        "bare_p50_ms": bl.get("p50"), "bare_p99_ms": bl.get("p99"),
        "ratio_p50": r50, "ratio_p99": r99,
        "target": "p50 ≤ 3×, p99 ≤ 10×",
        "pass": bool(r50 is not None and r99 is not None and r50 <= 3 and r99 <= 10),
    }
    return out


# ------------------------------------------------------------------ B5


def b5(ctx: Ctx) -> dict[str, Any]:
    members_n, senders_n = 100, 10
    n_workers = 4
    duration, grace = ctx.pick((0.5, 2.0), (3.0, 3.0))
    start, factor, limit = ctx.pick((10, 2.0, 10), (20, 1.5, 20_000))
    out: dict[str, Any] = {"members": members_n, "senders": senders_n, "step_seconds": duration, "slo_p99_ms": SLO_P99_MS}
    for kind in ("hubbub", "bare"):
        server = start_hubbub() if kind == "hubbub" else start_baseline("ws-broadcast")
        workers: Workers | None = None
        try:
            conv = ""
            tokens: list[str] = []
            if kind == "hubbub":
                users = _run(create_users(server.port, members_n))
                conv = _run(group(server.port, users[0], users[1:], "bench fan-out"))
                tokens = [u.token for u in users]
            # members spread evenly over the workers; the first few of each also send
            counts = _split(members_n, n_workers)
            send_counts = _split(senders_n, n_workers)
            offsets = [sum(counts[:i]) for i in range(n_workers)]
            args = [
                {"kind": kind, "http_port": server.port, "ws_url": server.ws, "wid": i,
                 "tokens": tokens[offsets[i]: offsets[i] + counts[i]] if tokens else [],
                 "count": counts[i], "senders": send_counts[i], "conversation_id": conv}
                for i in range(n_workers)
            ]
            workers = Workers.start(W.fanout_worker, args)
            workers.collect(120)

            def commands(rate: float, t0: int) -> list[dict[str, Any]]:
                total = int(rate * duration)
                shares = [total * k // senders_n for k in send_counts]
                shares[0] += total - sum(shares)
                end = t0 + int(duration * 1e9)
                return [
                    {"cmd": "step", "rate": max(rate * k / senders_n, 1e-3), "count": c, "total": total,
                     "t0": t0, "end": end, "grace": grace}
                    for k, c in zip(send_counts, shares, strict=True)
                ]

            best, steps = _ramp(workers, server, commands, start, factor, limit, duration, grace,
                                not ctx.quick, "deliveries")
            half = None
            if best and not ctx.quick:
                r = best["offered_per_s"] / 2
                half = _step(workers, server, lambda t0: commands(r, t0), r, duration, grace, "deliveries")
            out[kind] = {"steps": steps, "max_sustained": best, "half_load": half}
        finally:
            if workers:
                workers.stop()
            server.stop()
    h, b = out["hubbub"]["max_sustained"], out["bare"]["max_sustained"]
    hr = h["deliveries_per_s"] if h else None
    br = b["deliveries_per_s"] if b else None
    ratio = _ratio(hr, br)
    hh = out["hubbub"]["half_load"]
    out["headline"] = {
        "metric": "max sustained deliveries/s to a 100-member group, hubbub / websockets.broadcast",
        "hubbub_per_s": hr, "bare_per_s": br, "ratio": ratio,
        "hubbub_p99_ms_at_max": h["latency_ms"].get("p99") if h else None,
        "hubbub_p99_ms_at_half": hh["latency_ms"].get("p99") if hh else None,
        "bare_p99_ms_at_half": (out["bare"]["half_load"] or {}).get("latency_ms", {}).get("p99"),
        "target": "≥ 0.5",
        "pass": bool(ratio is not None and ratio >= 0.5),
    }
    return out


# ------------------------------------------------------------------ B6


def b6(ctx: Ctx) -> dict[str, Any]:
    n_workers, conns = 2, ctx.pick(4, 16)
    duration, grace = ctx.pick((0.5, 2.0), (3.0, 3.0))
    start, factor, limit = ctx.pick((100, 2.0, 100), (200, 1.5, 200_000))
    out: dict[str, Any] = {"page": 50, "connections": conns * n_workers, "step_seconds": duration}
    body_file = Path(tempfile.mkdtemp(prefix="bench-b6-")) / "page.json"
    for kind in ("hubbub", "bare"):
        path, token = "/page", None
        if kind == "hubbub":
            server = start_hubbub()
        else:
            server = start_baseline("asgi-json", "--body-file", str(body_file))
        workers: Workers | None = None
        try:
            if kind == "hubbub":
                users = _run(create_users(server.port, 2))
                cid, a, _ = _run(direct_pairs(server.port, users))[0]
                _run(post_messages(server.port, a, cid, 60, 100))
                path, token = f"/api/conversations/{cid}/messages?limit=50", a.token

                async def fetch() -> bytes:
                    c = await HttpConn("127.0.0.1", server.port).connect()
                    status, data = await c.raw(c.build("GET", path, None, token))
                    c.close()
                    assert status == 200, data
                    return data

                page = _run(fetch())
                body_file.write_bytes(page)
                out["page_bytes"] = len(page)
            args = [{"port": server.port, "path": path, "token": token, "conns": conns}] * n_workers
            workers = Workers.start(W.http_worker, args)
            workers.collect(60)

            def commands(rate: float, t0: int) -> list[dict[str, Any]]:
                return [
                    {"cmd": "step", "rate": rate / n_workers, "count": c, "t0": t0, "grace": grace}
                    for c in _split(int(rate * duration), n_workers)
                ]

            best, steps = _ramp(workers, server, commands, start, factor, limit, duration, grace,
                                not ctx.quick, "reqs")
            half = None
            if best and not ctx.quick:
                r = best["offered_per_s"] / 2
                half = _step(workers, server, lambda t0: commands(r, t0), r, duration, grace, "reqs")
            out[kind] = {"steps": steps, "max_sustained": best, "half_load": half}
        finally:
            if workers:
                workers.stop()
            server.stop()
    h, b = out["hubbub"]["max_sustained"], out["bare"]["max_sustained"]
    hr = h["reqs_per_s"] if h else None
    br = b["reqs_per_s"] if b else None
    ratio = _ratio(hr, br)
    hh = out["hubbub"]["half_load"]
    p99 = hh["latency_ms"].get("p99") if hh else None
    out["headline"] = {
        "metric": "history page (50 messages) req/s, hubbub / bare ASGI JSON of the same bytes",
        "hubbub_per_s": hr, "bare_per_s": br, "ratio": ratio,
        "hubbub_p99_ms_at_half": p99,
        "bare_p99_ms_at_half": (out["bare"]["half_load"] or {}).get("latency_ms", {}).get("p99"),
        "target": "≥ 0.5, p99 ≤ 20 ms",
        "pass": bool(ratio is not None and ratio >= 0.5 and p99 is not None and p99 <= 20),
    }
    return out


# ------------------------------------------------------------------ B7 / B8


def _not_runnable(what: str, issue: str, target: str) -> dict[str, Any]:
    return {
        "runnable": False,
        "headline": {"metric": what, "ratio": None, "target": target, "pass": None,
                     "note": f"not runnable yet: needs the {issue} issue"},
    }


def b7(ctx: Ctx) -> dict[str, Any]:
    return _not_runnable("cross-process delivery through Redis (two servers) vs one process",
                         "scale-out", "adds ≤ 1 ms p99")


def b8(ctx: Ctx) -> dict[str, Any]:
    return _not_runnable("Lambda handler cold import vs `python -c pass`", "serverless", "≤ 250 ms")


BENCHMARKS: dict[str, tuple[str, Callable[[Ctx], dict[str, Any]]]] = {
    "B1": ("idle authenticated connections: RSS per connection", b1),
    "B2": ("connect storm: new authenticated connections/s", b2),
    "B3": ("1:1 durable chat: max sustained msgs/s", b3),
    "B4": ("1:1 end-to-end latency at half of B3's max", b4),
    "B5": ("fan-out to a 100-member group", b5),
    "B6": ("REST history page of 50 messages", b6),
    "B7": ("cross-process delivery through Redis", b7),
    "B8": ("Lambda handler cold import", b8),
}
