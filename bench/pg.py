"""PostgreSQL mode (`python -m bench run --store postgres`): a throwaway cluster of the
benchmark's own, and the bare commit loop that is its baseline.

The cluster (tests/pgcluster.py, shared with the tests) lives in a temporary directory
on a free loopback port and keeps PostgreSQL's default durability (`fsync=on`,
`synchronous_commit=on`, `full_page_writes=on`): an ack still means the message is on
disk, as with SQLite's `synchronous=FULL`. It runs on the server CPUs, beside the Hubbub
server, so "the server" of a step is Hubbub plus PostgreSQL and its CPU counts both.
Every Hubbub server gets a fresh database, migrated with `hubbub migrate`, dropped when
that server stops.

    python -m bench.pg loop --url URL --connections N --seconds S

is the baseline: N threads, each with a psycopg connection of its own, run
`BEGIN; INSERT one row; COMMIT` back to back (the statements Hubbub's store sends for a
write transaction, through the same driver) and print commits/s and commit latency as
JSON. It is started pinned to the server CPUs, where Hubbub would run.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.pgcluster import PostgresCluster

from bench.common import (
    BENCH_TOKEN_SECRET,
    PY,
    REPO,
    cpu_layout,
    free_port,
    hist_dump,
    hist_merge,
    hist_record,
    new_hist,
    pct_ms,
    pinned,
    proc_cpu_seconds,
)

# PostgreSQL's own defaults, spelled out: the benchmark measures a durable commit.
DURABLE = ["fsync=on", "synchronous_commit=on", "full_page_writes=on", "max_connections=200"]

LOOP_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_loop ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " body text NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now())"
)
BODY = "x" * 100  # the size of a benchmark message body


class BenchPostgres:
    """The run's cluster: started on first use, stopped by `close`."""

    def __init__(self) -> None:
        server_cpus, _ = cpu_layout()
        self.cluster = PostgresCluster(free_port(), DURABLE, pinned([], server_cpus))
        self._names = itertools.count(1)
        self.cluster.start()

    @property
    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.cluster.admin_url) as db:
            row = db.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def fresh_database(self) -> str:
        """A new database, migrated by `hubbub migrate` as an operator would."""
        url = self._create("hubbub")
        env = {**os.environ, "HUBBUB_TOKEN_SECRET": BENCH_TOKEN_SECRET}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO / "src"), env.get("PYTHONPATH")])
        )
        migrated = subprocess.run(
            [PY, "-m", "hubbub", "migrate", "--database-url", url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"hubbub migrate failed: {migrated.stdout}{migrated.stderr}")
        return url

    def _create(self, kind: str) -> str:
        import psycopg

        name = f"{kind}_{next(self._names)}"
        with psycopg.connect(self.cluster.admin_url, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}".encode())
        return self.cluster.url(name)

    def messages(self, url: str) -> int:
        """Messages stored in Hubbub's database at `url`: proof the run used it."""
        import psycopg

        with psycopg.connect(url) as db:
            row = db.execute("SELECT count(*) FROM messages").fetchone()
        return int(row[0]) if row else 0

    def drop(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.cluster.admin_url, autocommit=True) as db,
        ):
            db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())

    def cpu_seconds(self) -> float:
        """CPU used so far by the whole cluster: the postmaster, its live children
        (backends, WAL writer, checkpointer...) and the children it has reaped."""
        pid = self.cluster.postmaster_pid()
        total = proc_cpu_seconds(pid) + _reaped_children_cpu(pid)
        for child in _children(pid):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += proc_cpu_seconds(child)
        return total

    def loop(self, connections: int, seconds: float) -> dict[str, Any]:
        """The bare baseline: `connections` parallel INSERT ... COMMIT loops for
        `seconds`, in a process pinned to the server CPUs."""
        url = self._create("loop")
        try:
            server_cpus, _ = cpu_layout()
            cmd = [PY, "-m", "bench.pg", "loop", "--url", url]
            cmd += ["--connections", str(connections), "--seconds", str(seconds)]
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
            cpu0, child0 = self.cpu_seconds(), _children_cpu()
            done = subprocess.run(
                pinned(cmd, server_cpus),
                check=True,
                env=env,
                capture_output=True,
                text=True,
                timeout=seconds + 120,
            )
            result: dict[str, Any] = json.loads(done.stdout)
            postgres_s = self.cpu_seconds() - cpu0
            result["postgres_cpu"] = round(postgres_s / result["seconds"], 3)
            # both sides' whole CPU (the loop's start-up included), for the `others` sum
            result["cpu_s"] = round(postgres_s + _children_cpu() - child0, 3)
            return result
        finally:
            self.drop(url)

    def close(self) -> None:
        self.cluster.stop()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = Path(f"/proc/{entry}/stat").read_text()
            if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return found


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reaped_children_cpu(pid: int) -> float:
    raw = Path(f"/proc/{pid}/stat").read_text()
    parts = raw[raw.rindex(")") + 2 :].split()
    return (int(parts[13]) + int(parts[14])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ the loop process


def _loop(url: str, connections: int, seconds: float) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(LOOP_TABLE)
    dbs = [psycopg.connect(url, autocommit=True) for _ in range(connections)]
    counts = [0] * connections
    hists = [new_hist() for _ in range(connections)]
    start = threading.Barrier(connections + 1)
    deadline = [0.0]

    def run(n: int) -> None:
        db, hist = dbs[n], hists[n]
        start.wait()
        while True:
            t = time.monotonic_ns()
            if t >= deadline[0]:
                return
            db.execute(b"BEGIN ISOLATION LEVEL READ COMMITTED")
            db.execute(b"INSERT INTO bench_loop (body) VALUES (%s)", (BODY,))
            db.execute(b"COMMIT")
            hist_record(hist, (time.monotonic_ns() - t) / 1000)
            counts[n] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    cpu0 = time.process_time()
    t0 = time.monotonic_ns()
    deadline[0] = t0 + seconds * 1e9
    start.wait()
    for thread in threads:
        thread.join()
    wall = (time.monotonic_ns() - t0) / 1e9
    cpu = time.process_time() - cpu0
    for db in dbs:
        db.close()
    commits = sum(counts)
    return {
        "connections": connections,
        "seconds": round(wall, 3),
        "commits": commits,
        "commits_per_s": round(commits / wall, 1),
        "commit_latency_ms": pct_ms(hist_merge([hist_dump(h) for h in hists])),
        "loop_cpu": round(cpu / wall, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pg")
    sub = parser.add_subparsers(dest="command", required=True)
    loop = sub.add_parser("loop", help="the bare INSERT ... COMMIT baseline")
    loop.add_argument("--url", required=True)
    loop.add_argument("--connections", type=int, default=1)
    loop.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    print(json.dumps(_loop(args.url, args.connections, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
