"""nginx in front of several `hubbub serve` processes: the configuration, and nginx run as
a child process with its own prefix directory (never the system service).

The scaled-out launcher (scripts/scale_out.py) and the API suite's proxy topology
(tests/proxy.py) both write their configuration with `config()`, so the tests exercise
the configuration people run. Debian's `nginx` package provides the binary
(scripts/ensure-nginx.sh).

What the configuration must get right for Hubbub:
- WebSocket upgrades on /ws (HTTP/1.1, `Upgrade`, `Connection` from a map) and a read
  timeout far above the server's ping interval, so idle sockets are not cut;
- the client's address in `X-Forwarded-For`, set (not appended: this nginx is the edge,
  and anything a client wrote there is a lie it could choose), for the per-IP limits of
  servers that trust this proxy (HUBBUB_TRUSTED_PROXIES);
- `Host` with its port, as the browser sent it, for the WebSocket same-origin check;
- a body limit equal to the server's, kept in memory: nothing is ever written to disk.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from scripts.children import healthy, spawn, tail, wait_for

_TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def binary() -> str:
    """Debian's nginx (in /usr/sbin, which is not on every user's PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError("nginx is missing: run scripts/ensure-nginx.sh (Debian's 'nginx')")
    return found


# The routes whose bodies may be large: uploads in one request, the bytes of an upload
# sent to the server's signed URL, profile pictures.
UPLOAD_ROUTES = "|".join(
    ["conversations/[^/]+/attachments", "attachment-uploads/[^/]+", "users/me/avatar"]
)


def config(
    *,
    prefix: Path,
    listen: str,
    upstreams: Sequence[str],
    max_body_bytes: int,
    max_upload_bytes: int = 25 * 1024 * 1024,
    keep_alive_seconds: int = 5,
    websocket_idle_seconds: int = 3600,
    access_log: bool = False,
) -> str:
    """The nginx.conf text: `listen` is `host:port`, `upstreams` the servers' `host:port`.

    `keep_alive_seconds` is the servers' HUBBUB_KEEP_ALIVE_SECONDS: nginx drops an idle
    upstream connection a second before the server would, so it never sends a request on
    a connection the server is closing."""
    if not upstreams:
        raise ValueError("nginx needs at least one upstream server")
    servers = "\n".join(
        # Never marked down: on loopback a stopped process refuses at once and nginx
        # passes the request to the next, and one that is back is used at once. (With
        # marks, restarting one process and then the other within fail_timeout left
        # nginx with "no live upstreams": 502s in a rolling restart.)
        f"        server {address} max_fails=0;"
        for address in upstreams
    )
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix / 'temp' / kind};" for kind in _TEMP_KINDS
    )
    body = max(1, -(-max_body_bytes // 1024))  # KiB, rounded up
    # Twice the servers' limit: they refuse first, in the API's JSON, counting the body
    # as it streams through; nginx's own refusal mid-stream can only be its HTML page.
    upload = max(body, -(-max_upload_bytes // 1024)) * 2
    upstream_idle = max(1, keep_alive_seconds - 1)
    log = f"access_log {prefix / 'logs' / 'access.log'};" if access_log else "access_log off;"
    return f"""\
# Written by Hubbub's scripts/nginx.py at every start; edits are lost.
worker_processes auto;
pid {prefix / "nginx.pid"};
error_log {prefix / "logs" / "error.log"} warn;

events {{
    worker_connections {_worker_connections()};
}}

http {{
    {log}
    server_tokens off;
{temp_paths}

    # An upgrade request asks the server for an upgrade; any other request gets an empty
    # Connection header, so the connection to the server can be kept alive.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        "" "";
    }}

    # One id per request in nginx's replies, the servers' logs and their replies: the
    # client's X-Request-ID when it is a token the servers accept too, else nginx's own.
    map $http_x_request_id $hubbub_request_id {{
        "~^[A-Za-z0-9._-]{{1,64}}$" $http_x_request_id;
        default $request_id;
    }}

    upstream hubbub {{
        # WebSockets stay open for hours: count open connections, not requests.
        least_conn;
{servers}
        keepalive 32;
        keepalive_timeout {upstream_idle}s;
    }}

    server {{
        listen {listen};

        # The servers refuse bigger bodies themselves (HUBBUB_MAX_BODY_BYTES); nginx
        # refuses them first and keeps what it accepts in memory.
        client_max_body_size {body}k;
        client_body_buffer_size {body}k;
        proxy_max_temp_file_size 0;

        # The servers are on this machine: a connection that is not made at once is
        # a process that is stuck, and the next one is tried.
        proxy_connect_timeout 3s;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header X-Request-ID $hubbub_request_id;

        location / {{
            proxy_pass http://hubbub;
        }}

        # Uploads (attachments, profile pictures; HUBBUB_ATTACHMENT_MAX_BYTES) may be
        # bigger than other bodies, and stream to the servers, which check their limits.
        location ~ ^/api/({UPLOAD_ROUTES})$ {{
            client_max_body_size {upload}k;
            proxy_request_buffering off;
            proxy_pass http://hubbub;
        }}

        # What nginx refuses itself answers in the API's error shape, as the servers
        # do; the servers' own errors pass through untouched.
{_error_pages()}

        location = /ws {{
            proxy_pass http://hubbub;
            # The server pings every 20 s, so a dead peer is found anyway; this only
            # has to be longer than any quiet spell on a live socket.
            proxy_read_timeout {websocket_idle_seconds}s;
            proxy_send_timeout {websocket_idle_seconds}s;
        }}
    }}
}}
"""


# Status, code and message of the errors nginx itself may answer: a request it cannot
# read (e.g. %00 in the path), a body over the limit, headers too large, and no server
# reachable. Codes are the API's (src/hubbub/server/errors.py).
_ERRORS = (
    (400, "validation_error", "The request could not be read."),
    (413, "payload_too_large", "The request body is too large."),
    (414, "validation_error", "The request URI is too long."),
    (494, "validation_error", "The request headers are too large."),
    (502, "unavailable", "The service is unavailable; try again shortly."),
    (503, "unavailable", "The service is unavailable; try again shortly."),
    (504, "unavailable", "The service is unavailable; try again shortly."),
)


def _error_pages() -> str:
    lines = []
    for status, code, message in _ERRORS:
        body = f'{{"error":{{"code":"{code}","message":"{message}"}}}}'
        # A URI, not a named location: a request line nginx could not read has no URI
        # to carry into one. `internal`: no client can ask for it.
        page = f"/.hubbub-error-{status}"
        lines += [
            f"        error_page {status} {page};",
            f"        location = {page} {{",
            "            internal;",
            "            default_type application/json;",
            "            add_header X-Request-ID $hubbub_request_id always;",
            # 494 is nginx's own status for a 400 whose headers were too large.
            f"            return {400 if status == 494 else status} '{body}';",
            "        }",
        ]
    return "\n".join(lines)


def _worker_connections() -> int:
    """As many as the open-file limit allows: a proxied WebSocket holds two."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 16384
    return max(256, min(16384, soft - 64))


class Nginx:
    """nginx in the foreground (`daemon off`) with everything under `prefix`: its
    configuration, pid file, logs and temporary directories."""

    def __init__(self, prefix: Path, conf: str, *, die_with_parent: bool = True) -> None:
        self.prefix = prefix
        self.conf = conf
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def error_log(self) -> Path:
        return self.prefix / "logs" / "error.log"

    def start(self, probe_url: str, timeout: float = 20) -> None:
        """Writes the configuration, checks it, starts nginx and waits until `probe_url`
        answers through it."""
        for part in ("logs", *(f"temp/{kind}" for kind in _TEMP_KINDS)):
            (self.prefix / part).mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.conf)
        command = [binary(), "-p", str(self.prefix), "-c", str(conf), "-e", str(self.error_log)]
        checked = subprocess.run(
            [*command, "-t", "-q"], capture_output=True, text=True, timeout=30, check=False
        )
        if checked.returncode != 0:
            raise RuntimeError(f"nginx refused {conf}:\n{checked.stderr}{tail(self.error_log)}")
        self.process = spawn(
            [*command, "-g", "daemon off;"],
            self.prefix / "logs" / "stderr.log",
            die_with_parent=self.die_with_parent,
        )
        try:
            wait_for(lambda: healthy(probe_url), self.process, "nginx", self.error_log, timeout)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        """Fast shutdown (SIGTERM): open WebSockets are closed rather than waited for,
        which a graceful SIGQUIT would do for up to the idle timeout."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
