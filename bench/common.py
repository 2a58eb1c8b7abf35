"""Shared plumbing: servers under test, worker processes, histograms, results.

Layout on a multi-core machine: the server under test (Hubbub or its bare baseline)
is pinned to CPU 0 with `taskset`, the load-generator processes to the other CPUs, so
the generator never steals the server's core. Every process measures its own CPU time
so a run whose generator saturates is flagged instead of silently reported.
"""

from __future__ import annotations

import base64
import contextlib
import json
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hdrh.histogram import HdrHistogram

from bench.baselines import BENCH_KEEP_ALIVE_SECONDS

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PY = sys.executable

# Latencies are recorded in microseconds, 1 µs .. 120 s, 3 significant digits.
HIST_MAX_US = 120_000_000


def new_hist() -> HdrHistogram:
    return HdrHistogram(1, HIST_MAX_US, 3)


def hist_record(h: HdrHistogram, micros: float) -> None:
    h.record_value(min(max(int(micros), 1), HIST_MAX_US))


def hist_dump(h: HdrHistogram) -> str:
    return h.encode().decode() if h.get_total_count() else ""


def hist_merge(encoded: Sequence[str]) -> HdrHistogram:
    total = new_hist()
    for item in encoded:
        if item:
            total.add(HdrHistogram.decode(item.encode()))
    return total


def pct_ms(h: HdrHistogram) -> dict[str, float | int]:
    """p50/p90/p99/p99.9/max in milliseconds plus the count."""
    if not h.get_total_count():
        return {"count": 0}
    out: dict[str, float | int] = {"count": h.get_total_count()}
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        out[name] = round(h.get_value_at_percentile(p) / 1000, 3)
    out["max"] = round(h.get_max_value() / 1000, 3)
    return out


# ---------------------------------------------------------------- machine / limits


def cpu_layout() -> tuple[list[int], list[int]]:
    """(server cpus, generator cpus). With one CPU both share it."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or not shutil.which("taskset"):
        return cpus, cpus
    return cpus[:1], cpus[1:]


def raise_nofile(wanted: int) -> int:
    """Raises RLIMIT_NOFILE for this process (and the children it starts).

    As root the hard limit can be raised too, up to fs.nr_open; otherwise the soft limit
    goes up to the hard one. Nothing outside this process tree changes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    target_hard = hard
    if hard < wanted:
        try:
            nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
        except OSError:
            nr_open = hard
        target_hard = min(max(wanted, hard), nr_open)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, target_hard), target_hard))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine_info() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    git = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        git = {"commit": head, "src_dirty": bool(dirty)}
    return {
        "git": git,
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def proc_cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and all its threads."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    parts = raw[raw.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(parts[11]) + int(parts[12])) / ticks


def machine_busy_cpus() -> float:
    """Busy CPU-seconds of the whole machine so far (all processes, from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path | None = None
    log: Path | None = None
    profiler: subprocess.Popen[bytes] | None = None
    # A database server beside it (PostgreSQL): its CPU counts as the server's, and
    # `cleanup` runs once the server has stopped.
    extra_cpu: Callable[[], float] | None = None
    cleanup: Callable[[], None] | None = None
    database_url: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        return proc_rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        extra = self.extra_cpu() if self.extra_cpu is not None else 0.0
        return proc_cpu_seconds(self.pid) + extra

    def stop(self) -> None:
        if self.profiler is not None and self.profiler.poll() is None:
            self.profiler.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.profiler.wait(timeout=20)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self.cleanup is not None:
            cleanup, self.cleanup = self.cleanup, None
            cleanup()


def pinned(cmd: list[str], cpus: list[int]) -> list[str]:
    if shutil.which("taskset") and len(cpus) < (os.cpu_count() or 1):
        return ["taskset", "-c", ",".join(map(str, cpus)), *cmd]
    return cmd


def _wait_ready(server: Server, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            log = server.log.read_text()[-3000:] if server.log and server.log.exists() else ""
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                data = s.recv(64)
                if data.startswith(b"HTTP/1.1 "):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{server.name} did not become ready in {timeout} s")


# Load-friendly settings: rate limits out of the way, cheap password hashing (the
# benchmarks measure chat, not argon2), the rest at their production defaults
# (SQLite synchronous=FULL: an ack still means the message is on disk).
HUBBUB_BENCH_ENV = {
    "HUBBUB_WS_FRAMES_PER_SECOND": "1000000",
    "HUBBUB_WS_FRAME_BURST": "1000000",
    "HUBBUB_SIGN_UP_PER_IP": "10000000",
    "HUBBUB_SIGN_IN_PER_IP": "10000000",
    "HUBBUB_SIGN_IN_PER_ACCOUNT": "10000000",
    "HUBBUB_SIGN_IN_PER_ACCOUNT_TOTAL": "10000000",
    "HUBBUB_TICKETS_PER_MINUTE": "10000000",
    "HUBBUB_WRITES_PER_SECOND": "10000000",
    "HUBBUB_WRITE_BURST": "10000000",
    "HUBBUB_PASSWORD_HASH_MEMORY_KIB": "1024",
    "HUBBUB_LOG_LEVEL": "warning",
    "HUBBUB_ACCESS_TOKEN_TTL": "3600",
    "HUBBUB_KEEP_ALIVE_SECONDS": str(BENCH_KEEP_ALIVE_SECONDS),
}


BENCH_TOKEN_SECRET = "bench-secret-" + "x" * 40


class Database(Protocol):
    """Where a Hubbub server under test keeps its data, when not in SQLite."""

    def fresh_database(self) -> str: ...  # a migrated database's URL
    def drop(self, url: str) -> None: ...
    def cpu_seconds(self) -> float: ...  # of the database server, so far


def start_hubbub(
    extra_env: dict[str, str] | None = None, database: Database | None = None
) -> Server:
    """Hubbub on SQLite in a temporary data directory, or on a fresh database of
    `database` (PostgreSQL), with the benchmark settings."""
    server_cpus, _ = cpu_layout()
    workdir = Path(tempfile.mkdtemp(prefix="hubbub-bench-"))
    port = free_port()
    env = {**os.environ, **HUBBUB_BENCH_ENV, **(extra_env or {})}
    env.setdefault("HUBBUB_TOKEN_SECRET", BENCH_TOKEN_SECRET)
    url = database.fresh_database() if database is not None else ""
    if url:
        env["HUBBUB_DATABASE_URL"] = url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    cmd = [PY, "-m", "hubbub", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--data-dir", str(workdir / "data")]
    log = workdir / "server.log"
    proc = subprocess.Popen(
        pinned(cmd, server_cpus),
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    server = Server("hubbub" if not url else "hubbub on pg", port, proc, workdir, log)
    if database is not None:
        server.database_url = url
        server.extra_cpu = database.cpu_seconds
        server.cleanup = lambda: database.drop(url)
    _wait_ready(server, "/healthz")
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    pyspy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    if profile_dir and Path(pyspy).exists():
        # collapsed stacks of the whole server life (set up + every step), see bench.hotspots
        out = Path(profile_dir) / f"hubbub-{time.strftime('%H%M%S')}-{port}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        server.profiler = subprocess.Popen(
            [
                pyspy,
                "record",
                "-p",
                str(proc.pid),
                "-f",
                "raw",
                "-r",
                "250",
                "-o",
                str(out),
                "--nonblocking",
                "--threads",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return server


def start_baseline(kind: str, *args: str) -> Server:
    """A bare server from bench.baselines (`ws-idle`, `ws-echo`, `ws-broadcast`, `asgi-json`)."""
    server_cpus, _ = cpu_layout()
    workdir = Path(tempfile.mkdtemp(prefix="bare-bench-"))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = workdir / "server.log"
    cmd = [PY, "-m", "bench.baselines", kind, "--port", str(port), *args]
    proc = subprocess.Popen(
        pinned(cmd, server_cpus), env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    server = Server(f"bare {kind}", port, proc, workdir, log)
    _wait_ready(server, "/ready")
    return server


@contextlib.contextmanager
def running(start: Callable[[], Server]) -> Iterator[Server]:
    server = start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- worker processes


def _worker_main(target: Callable[..., Any], conn: Any, cpus: list[int], args: Any) -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, cpus)
    try:
        import uvloop

        uvloop.run(target(conn, args))
    except BaseException as error:  # report, never hang the parent
        import traceback

        with contextlib.suppress(Exception):
            conn.send({"error": f"{error!r}\n{traceback.format_exc()}"})
        raise


@dataclass
class Workers:
    """Generator processes (spawned, pinned to the generator CPUs), each running an
    async `target(conn, args)` that talks to us over a Pipe: it answers every
    command dict with one reply dict."""

    procs: list[Any] = field(default_factory=list)
    conns: list[Any] = field(default_factory=list)

    @classmethod
    def start(cls, target: Callable[..., Any], args_list: Sequence[Any]) -> Workers:
        _, gen_cpus = cpu_layout()
        ctx = multiprocessing.get_context("spawn")
        workers = cls()
        for args in args_list:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(target, child, gen_cpus, args))
            proc.daemon = True
            proc.start()
            workers.procs.append(proc)
            workers.conns.append(parent)
        return workers

    def ask_all(self, command: dict[str, Any], timeout: float = 600.0) -> list[dict[str, Any]]:
        for conn in self.conns:
            conn.send(command)
        return self.collect(timeout)

    def ask_each(
        self, commands: Sequence[dict[str, Any]], timeout: float = 600.0
    ) -> list[dict[str, Any]]:
        for conn, command in zip(self.conns, commands, strict=True):
            conn.send(command)
        return self.collect(timeout)

    def collect(self, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        replies: list[dict[str, Any]] = []
        for conn, proc in zip(self.conns, self.procs, strict=True):
            while not conn.poll(0.2):
                if not proc.is_alive():
                    raise RuntimeError(f"generator process {proc.pid} died")
                if time.monotonic() > deadline:
                    raise TimeoutError("generator did not answer in time")
            reply = conn.recv()
            if "error" in reply:
                raise RuntimeError("generator failed: " + str(reply["error"]))
            replies.append(reply)
        return replies

    def stop(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.send({"cmd": "stop"})
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


def gen_cpu_summary(replies: Sequence[dict[str, Any]], wall: float) -> dict[str, Any]:
    """Generator CPU use over a step: busiest process (fraction of one core) and the
    total against the generator CPUs; saturated when either passes 90 %."""
    _, gen_cpus = cpu_layout()
    per = [r.get("cpu", 0.0) / wall for r in replies] if wall > 0 else [0.0]
    total = sum(per) / max(len(gen_cpus), 1)
    return {
        "busiest_proc": round(max(per), 3),
        "total_of_gen_cpus": round(total, 3),
        "saturated": max(per) > 0.9 or total > 0.9,
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------- results


def result_key(name: str, store: str) -> str:
    """`B3` on SQLite (the default, as before), `B3-postgres` on PostgreSQL: the stem of
    the result files, so the two stores' results never overwrite each other."""
    return name if store == "sqlite" else f"{name}-{store}"


def write_result(out_dir: Path, bench_id: str, result: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = out_dir / f"{bench_id}-{stamp}.json"
    text = json.dumps(result, indent=2, default=str)
    path.write_text(text)
    (out_dir / f"{bench_id}-latest.json").write_text(text)
    return path


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title]
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
