"""`hubbub serve` runs the platform; `hubbub migrate` upgrades the database schema in
place; `hubbub openapi` prints the REST contract."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hubbub.config import ConfigError, Settings
from hubbub.schema import SchemaError

_DATABASE_URL = "postgresql://... to use PostgreSQL instead of SQLite (HUBBUB_DATABASE_URL)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubbub", description="Hubbub chat platform")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API, WebSocket and web app")
    serve.add_argument("--host", help="interface to bind (HUBBUB_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (HUBBUB_PORT, default 8000)")
    serve.add_argument("--data-dir", type=Path, help="where the database lives (HUBBUB_DATA_DIR)")
    serve.add_argument("--store", choices=["sqlite", "memory", "dynamodb"], help="HUBBUB_STORE")
    serve.add_argument("--database-url", help=_DATABASE_URL)
    serve.add_argument(
        "--redis-url",
        help="redis://... to share real-time state and fan-out with other processes"
        " (HUBBUB_REDIS_URL)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="processes on this port (HUBBUB_WORKERS; needs PostgreSQL and Redis)",
    )
    migrate = commands.add_parser("migrate", help="upgrade the database schema in place")
    migrate.add_argument("--data-dir", type=Path, help="where the database lives (HUBBUB_DATA_DIR)")
    migrate.add_argument("--store", choices=["sqlite", "memory", "dynamodb"], help="HUBBUB_STORE")
    migrate.add_argument("--database-url", help=_DATABASE_URL)
    migrate.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if an upgrade is pending"
    )
    commands.add_parser("openapi", help="print the OpenAPI document as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            data_dir=getattr(args, "data_dir", None),
            store=getattr(args, "store", None),
            database_url=getattr(args, "database_url", None),
            redis_url=getattr(args, "redis_url", None),
            workers=getattr(args, "workers", None),
        )
    except ConfigError as error:
        print(f"hubbub: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        if args.command == "openapi":
            return _print_openapi(settings)
        if args.command == "migrate":
            return _migrate(settings, check=args.check)
        return _serve(settings)
    except SchemaError as error:
        print(f"hubbub: {error}", file=sys.stderr)
        return 2


def _print_openapi(settings: Settings) -> int:
    from dataclasses import replace

    from hubbub.bootstrap import build
    from hubbub.server.app import create_app

    app = create_app(build(replace(settings, store="memory", database_url="")))
    print(json.dumps(app.api.openapi(), indent=2, sort_keys=False))
    return 0


def _migrate(settings: Settings, *, check: bool) -> int:
    from hubbub.bootstrap import migrate, schema_status

    if check:
        status = schema_status(settings)
        if status is None and settings.store == "dynamodb":
            print("DynamoDB tables have no schema versions: `hubbub migrate` creates missing ones.")
            return 0
        if status is None:
            print("The memory store has no schema: nothing to migrate.")
            return 0
        if status.pending:
            print(f"Schema version {status.current}, upgrade to {status.latest} pending.")
            return 1
        print(f"Schema version {status.current} is current.")
        return 0
    versions = migrate(settings)
    if versions is None and settings.store == "dynamodb":
        print(f"Tables are in place ({_where(settings)}).")
        return 0
    if versions is None:
        print("The memory store has no schema: nothing to migrate.")
        return 0
    before, after = versions
    print(f"Schema version {before} -> {after} ({_where(settings)}).")
    return 0


def _where(settings: Settings) -> str:
    from hubbub.bootstrap import where

    return where(settings)


def _served_from(settings: Settings) -> str:
    shared = settings.backend in {"postgres", "dynamodb"}
    return _where(settings) if shared else str(settings.data_dir)


def _serve(settings: Settings) -> int:
    import uvicorn

    from hubbub.server import logs
    from hubbub.server.transport import Limits, protocols

    logs.configure(settings)  # JSON lines or text (HUBBUB_LOG_FORMAT), uvicorn's too
    http: Any
    http, ws = protocols(Limits.from_settings(settings))
    app: Any
    factory = settings.workers > 1
    if factory:
        # Each worker imports its app and HTTP protocol by name and reads these settings.
        os.environ.update(settings.to_env())
        app, http = "hubbub.server.worker:app", "hubbub.server.worker:Http"
    else:
        from hubbub.bootstrap import build
        from hubbub.server.app import create_app

        app = create_app(build(settings))
    config = uvicorn.Config(
        app,
        factory=factory,
        workers=settings.workers if settings.workers > 1 else None,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=logs.config(settings),  # applied again in each worker process
        http=http,  # httptools, with head limits and a connection cap
        ws=ws,  # the Sans-I/O websockets implementation, with backpressure and a PING budget
        ws_max_size=64 * 1024,
        ws_per_message_deflate=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        access_log=False,
        lifespan="on",
        server_header=False,  # responses do not name the server software
        proxy_headers=False,  # forwarding headers are trusted only as HUBBUB_TRUSTED_PROXIES says
    )
    processes = f", {settings.workers} processes" if settings.workers > 1 else ""
    logging.getLogger("hubbub").info(
        "Hubbub on http://%s:%s (data in %s%s)",
        settings.host,
        settings.port,
        _served_from(settings),
        processes,
    )
    if settings.workers > 1:
        # uvicorn's supervisor: binds the port once, restarts a worker that dies.
        from uvicorn.supervisors import Multiprocess

        from hubbub.server.operations import shared_metrics

        # Set before the workers start: their metrics go to files /metrics adds up.
        with shared_metrics():
            sock = config.bind_socket()
            Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
