"""Hubbub scaled out on one machine, from Debian's packages, with one command:

    python -m scripts.scale_out [--processes 2] [--port 8000] [--state-dir scaled-out]

PostgreSQL (the store), Redis (what the processes share: presence, tickets, limits,
fan-out), `hubbub migrate`, N `hubbub serve` processes on the ports after `--port`, and
nginx on `--port` in front of them, proxying HTTP and WebSockets: the shape of a
deployment on many machines behind a load balancer. Everything lives in the state
directory and survives a restart; `--fresh` starts from nothing. Ctrl-C or SIGTERM stops
it all, in order. `make scale-out` installs what it needs and runs it.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from hubbub.config import ConfigError, Settings
from scripts import nginx
from scripts.children import Stop, stop_on_signals, watch
from scripts.services import Postgres, Redis, Server, migrate, secret_file


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.scale_out",
        description="Hubbub behind nginx: PostgreSQL, Redis and several hubbub serve"
        " processes on this machine.",
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="hubbub serve processes (default 2)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="where nginx listens (default 127.0.0.1; 0.0.0.0 for the network)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="nginx's port (default 8000); the servers, Redis and PostgreSQL take the"
        " ports after it",
    )
    # Not under data/: `hubbub serve` makes that owner-only (0700), and PostgreSQL runs as
    # its own user, who must be able to enter the state directory.
    parser.add_argument("--state-dir", type=Path, default=Path("scaled-out"))
    parser.add_argument(
        "--fresh", action="store_true", help="delete the state directory first: no data kept"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 1 <= args.processes <= 32:
        print("scale_out: --processes must be 1-32", file=sys.stderr)
        return 2
    if not 1 <= args.port <= 65535 - args.processes - 2:
        print("scale_out: --port leaves no room for the ports after it", file=sys.stderr)
        return 2
    stop_on_signals()
    try:
        return _run(args)
    except Stop:
        return 0
    except (RuntimeError, ConfigError) as error:
        print(f"scale_out: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    state: Path = args.state_dir.resolve()
    with _locked(state, fresh=args.fresh), ExitStack() as running:
        # nginx's port, then the servers', Redis's and PostgreSQL's.
        ports = list(range(args.port, args.port + args.processes + 3))
        server_ports, redis_port = ports[1 : 1 + args.processes], ports[-2]
        postgres = Postgres(state / "postgres", ports[-1], state / "postgres-password")
        if postgres.stop_leftover():
            print("Stopped a PostgreSQL left running by an earlier run.", flush=True)
        _check_free(args.host, ports)
        logs = state / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        redis = Redis(state / "redis", redis_port, state / "redis-password")
        env = {
            "HUBBUB_DATABASE_URL": postgres.url(),
            "HUBBUB_REDIS_URL": redis.url,
            "HUBBUB_TOKEN_SECRET": secret_file(state / "token-secret"),
            # nginx reaches the servers from here, and only it does.
            "HUBBUB_TRUSTED_PROXIES": "127.0.0.1",
            # One directory for every process's attachments and pictures.
            "HUBBUB_ATTACHMENT_DIR": str(state / "attachments"),
        }
        # The servers' settings, the user's HUBBUB_* included, checked before anything
        # starts.
        settings = Settings.from_env({**os.environ, **env})
        # Every process's pool, and room for `hubbub migrate` and a person with psql.
        connections = args.processes * settings.workers * settings.database_connections + 20

        print(f"Starting PostgreSQL on 127.0.0.1:{postgres.port} ...", flush=True)
        running.callback(_step, "PostgreSQL", postgres.stop)
        postgres.start(max_connections=max(100, connections))

        print(f"Starting Redis on 127.0.0.1:{redis_port} ...", flush=True)
        running.callback(_step, "Redis", redis.stop)
        redis.start()
        print(migrate(env, logs / "migrate.log"), flush=True)

        servers = [
            Server(port, state / f"server-{port}", logs / f"server-{port}.log", env)
            for port in server_ports
        ]
        for server in servers:
            running.callback(_step, f"hubbub serve on {server.port}", server.stop)
            server.start()
        for server in servers:
            server.wait_healthy()
        print(f"Started hubbub serve on {_span(server_ports)}", flush=True)

        listen = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
        proxy = nginx.Nginx(
            state / "nginx",
            nginx.config(
                prefix=state / "nginx",
                listen=listen,
                upstreams=[f"127.0.0.1:{port}" for port in server_ports],
                max_body_bytes=settings.max_body_bytes,
                keep_alive_seconds=settings.keep_alive_seconds,
            ),
        )
        running.callback(_step, "nginx", proxy.stop)
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        shown = f"[{shown}]" if ":" in shown else shown
        proxy.start(f"http://{shown}:{args.port}/readyz")

        print(
            f"\nHubbub is on http://{shown}:{args.port}"
            f" (nginx, {_plural(len(servers), 'process', 'processes')}, PostgreSQL, Redis).\n"
            f"State and logs in {state}. Ctrl-C stops everything.",
            flush=True,
        )
        watch(
            "scale_out",
            [(f"hubbub serve on {s.port}", s.process, s.log) for s in servers]
            + [("nginx", proxy.process, proxy.error_log), ("Redis", redis.process, redis.log)],
        )
    return 1  # watch returns only when a child died


def _step(name: str, stop: Callable[[], None]) -> None:
    print(f"Stopping {name} ...", flush=True)
    stop()


@contextmanager
def _locked(state: Path, *, fresh: bool) -> Iterator[None]:
    """One launcher per state directory: a second one would start a second PostgreSQL on
    the same files."""
    if fresh and state.exists():
        _refuse_if_in_use(state)
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "lock", "w") as lock:
        _lock(lock, state)
        yield


def _refuse_if_in_use(state: Path) -> None:
    if (state / "lock").exists():
        with open(state / "lock") as lock:
            _lock(lock, state)


def _lock(lock: IO[str], state: Path) -> None:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RuntimeError(f"another scale_out is running on {state}") from None


def _check_free(host: str, ports: list[int]) -> None:
    """Fails, naming them, unless every port is free now (nginx's on `host`)."""
    taken = [
        port
        for index, port in enumerate(ports)
        if not _port_free(host if index == 0 else "127.0.0.1", port)
    ]
    if taken:
        raise RuntimeError(
            f"{'port' if len(taken) == 1 else 'ports'} {', '.join(map(str, taken))} in use"
            f" (this set-up takes"
            f" {_span(ports)}): choose another --port, or stop what holds them"
        )


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _span(ports: list[int]) -> str:
    return f"ports {ports[0]}-{ports[-1]}" if len(ports) > 1 else f"port {ports[0]}"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


if __name__ == "__main__":
    raise SystemExit(main())
