"""The services of the scaled-out set-up, each kept in the launcher's state directory and
run as a child of it: a PostgreSQL cluster (Debian's initdb and pg_ctl), redis-server,
and `hubbub serve` processes. scripts/scale_out.py starts and stops them in order.

Unlike the tests' throwaway servers these keep their data between runs and run with
each program's default durability; both PostgreSQL and Redis ask for a password, kept
in a 0600 file, since any local user may connect to a loopback port.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import psycopg
import redis

from scripts.children import healthy, spawn, stop, tail, wait_for


def secret_file(path: Path, length: int = 48) -> str:
    """The secret kept in `path`, made (readable by its owner only) on first use, so it
    stays the same from one run to the next. URL-safe, so it fits in a URL as it is."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(length) + "\n")
    return path.read_text().strip()


def _pg_binary(name: str) -> str:
    def version(path: str) -> int:
        part = Path(path).parts[-3]
        return int(part) if part.isdigit() else 0

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run scripts/ensure-postgres.sh")
    return on_path


class Postgres:
    """A cluster in `root` whose superuser `hubbub` signs in with the password kept in
    `password_file` (scram-sha-256), listening on 127.0.0.1:`port` only.

    As root, the cluster belongs to and runs as the `postgres` user (initdb refuses
    root), which must be able to enter every directory above `root`."""

    def __init__(self, root: Path, port: int, password_file: Path) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "server.log"
        self.password = secret_file(password_file, 24)
        self._as: list[str] = []
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "initdb refuses to run as root and there is no 'postgres' user to run it"
                    " as: run scripts/ensure-postgres.sh (Debian's 'postgresql' creates it)"
                ) from None
            self._as = ["runuser", "-u", "postgres", "--"]

    def url(self, database: str = "hubbub") -> str:
        return f"postgresql://hubbub:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self, max_connections: int = 100) -> None:
        """Creates the cluster on the first run, starts it, and creates the `hubbub`
        database if it is missing."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self._owner is not None:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
            self._check_reachable()
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            f" -c max_connections={max_connections}"
        )
        self._pg_ctl("-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        with psycopg.connect(self.url("postgres"), autocommit=True) as db:
            if db.execute(b"SELECT 1 FROM pg_database WHERE datname = 'hubbub'").fetchone() is None:
                db.execute(b"CREATE DATABASE hubbub")

    def stop_leftover(self) -> bool:
        """Stops a server of this cluster left running by a launcher that was killed
        (pg_ctl runs it apart from the launcher, so it outlives it); says whether there
        was one. Only for the one launcher holding the state directory's lock."""
        if not self._running():
            return False
        self.stop()
        return True

    def stop(self) -> None:
        """A fast shutdown: open transactions roll back, nothing committed is lost."""
        if self._running():
            self._pg_ctl("-m", "fast", "-w", "stop")

    def _initdb(self) -> None:
        # initdb reads the password from a file the cluster's owner can read; it is
        # removed as soon as the cluster exists.
        handover = self.root / "initdb-password"
        handover.write_text(self.password + "\n")
        handover.chmod(0o600)
        if self._owner is not None:
            os.chown(handover, self._owner.pw_uid, self._owner.pw_gid)
        try:
            self._run(
                _pg_binary("initdb"),
                "-D",
                str(self.data),
                "-U",
                "hubbub",
                "--auth=scram-sha-256",
                f"--pwfile={handover}",
                "--encoding=UTF8",
                "--locale=C",
            )
        finally:
            handover.unlink(missing_ok=True)

    def _running(self) -> bool:
        if not (self.data / "postmaster.pid").exists():
            return False
        status = subprocess.run(
            [*self._as, _pg_binary("pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        return status.returncode == 0

    def _pg_ctl(self, *arguments: str) -> None:
        self._run(_pg_binary("pg_ctl"), "-D", str(self.data), *arguments)

    def _run(self, *command: str) -> None:
        try:
            subprocess.run(
                [*self._as, *command],
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
                # The server pg_ctl starts inherits this session: a Ctrl-C in the
                # terminal does not reach it, the launcher stops it in order.
                start_new_session=True,
            )
        except subprocess.CalledProcessError as error:
            raise RuntimeError(
                f"{Path(command[0]).name} failed ({error.returncode}):\n"
                f"{error.stdout}{error.stderr}\n{tail(self.log)}"
            ) from error

    def _check_reachable(self) -> None:
        assert self._owner is not None
        probe = subprocess.run(
            ["runuser", "-u", "postgres", "--", "test", "-w", str(self.root)],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if probe.returncode != 0:
            raise RuntimeError(
                f"the 'postgres' user cannot reach {self.root}: choose a --state-dir"
                " every user may enter (e.g. under /var/tmp)"
            )


class Redis:
    """redis-server on 127.0.0.1:`port`, password-protected, keeping nothing on disk:
    everything Hubbub keeps in Redis is short-lived (tickets, presence leases, rate-limit
    windows, events in flight) and rebuilds itself after a restart."""

    def __init__(self, root: Path, port: int, password_file: Path) -> None:
        self.root = root
        self.port = port
        self.password = secret_file(password_file, 24)
        self.log = root / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://hubbub:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: run scripts/ensure-redis.sh")
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "redis.conf"
        # The password goes in a file only its owner reads, not on a command line that
        # `ps` shows everyone.
        conf.touch(mode=0o600)
        conf.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    "protected-mode yes",
                    # Hubbub's own user, limited to its keys and channels and without
                    # the commands that reconfigure or wipe the server; nobody else.
                    "user default off",
                    f"user hubbub on >{self.password} ~hubbub:* &hubbub:* +@all -@dangerous",
                    'save ""',
                    "appendonly no",
                    f"dir {self.root}",
                    "daemonize no",
                    "",
                ]
            )
        )
        self.process = spawn([binary, str(conf)], self.log)
        wait_for(self._pong, self.process, "redis-server", self.log, timeout=20)

    def stop(self) -> None:
        stop(self.process)
        self.process = None

    def _pong(self) -> bool:
        with contextlib.suppress(redis.RedisError), redis.Redis.from_url(self.url) as client:
            return bool(client.ping())
        return False


class Server:
    """One `hubbub serve` on 127.0.0.1:`port`, configured by `env` (added to ours)."""

    def __init__(self, port: int, data_dir: Path, log: Path, env: Mapping[str, str]) -> None:
        self.port = port
        self.data_dir = data_dir
        self.log = log
        self.env = dict(env)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
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
        ]
        self.process = spawn(command, self.log, {**os.environ, **self.env})

    def wait_healthy(self) -> None:
        wait_for(
            # Ready: the store and Redis answer it, not only its own event loop.
            lambda: healthy(f"{self.base_url}/readyz"),
            self.process,
            f"hubbub serve on port {self.port}",
            self.log,
        )

    def stop(self) -> None:
        """Graceful: uvicorn closes WebSockets with 1012 so clients reconnect elsewhere."""
        stop(self.process)
        self.process = None


def migrate(env: Mapping[str, str], log: Path) -> str:
    """`hubbub migrate`, as an operator runs it before starting servers on PostgreSQL
    (they never migrate on their own). Returns what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "hubbub", "migrate"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    with open(log, "a") as out:
        out.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"hubbub migrate failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()
