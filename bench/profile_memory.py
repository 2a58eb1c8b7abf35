"""Where does an idle connection's memory go? (the B1 gap)

    python -m bench.profile_memory [N]

Runs Hubbub in this process under tracemalloc (argon2 cheap, rate limits off), opens N
authenticated idle connections from a generator process, and prints the Python
allocations that grew, grouped by line, per connection. Python-level only: C buffers
inside uvloop (read buffers, socket objects) show in RSS but not here.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from bench import workers as W
from bench.common import HUBBUB_BENCH_ENV, Workers, free_port, proc_rss_kib, raise_nofile
from bench.fixtures import create_users


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    raise_nofile(n * 2 + 1000)
    os.environ.update(HUBBUB_BENCH_ENV)
    os.environ.setdefault("HUBBUB_TOKEN_SECRET", "bench-secret-" + "x" * 40)
    import uvicorn

    from hubbub.bootstrap import build
    from hubbub.config import Settings
    from hubbub.server.app import create_app

    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="hubbub-mem-"))
    settings = Settings.from_env(port=port, data_dir=data)
    app = create_app(build(settings))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=64 * 1024,
        ws_per_message_deflate=False,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    users = asyncio.run(create_users(port, (n + 19) // 20))
    tokens = [users[i // 20].token for i in range(n)]
    workers = Workers.start(
        W.idle_worker,
        [
            {
                "kind": "hubbub",
                "http_port": port,
                "ws_url": f"ws://127.0.0.1:{port}",
                "tokens": tokens,
                "count": n,
                "offset": 0,
                "srcs": ["127.0.0.1"],
                "per_src": 25_000,
                "width": 32,
            }
        ],
    )
    workers.collect(60)
    tracemalloc.start(1)
    rss0 = proc_rss_kib(os.getpid())
    before = tracemalloc.take_snapshot()
    replies = workers.ask_all({"cmd": "connect"}, timeout=600)
    time.sleep(1.0)
    after = tracemalloc.take_snapshot()
    rss1 = proc_rss_kib(os.getpid())
    opened = replies[0]["connected"]
    stats = after.compare_to(before, "lineno")
    traced = sum(s.size_diff for s in stats)
    print(
        f"{opened} connections: RSS +{(rss1 - rss0) / opened:.1f} KiB/conn "
        f"(includes tracemalloc overhead), Python-traced +{traced / 1024 / opened:.1f} KiB/conn"
    )
    for stat in stats[:25]:
        frame = stat.traceback[0]
        print(
            f"{stat.size_diff / opened:8.0f} B/conn {stat.count_diff / opened:6.1f} obj/conn  "
            f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"
        )
    by_file = after.compare_to(before, "filename")
    print("by file:")
    for stat in by_file[:15]:
        name = stat.traceback[0].filename.split("site-packages/")[-1]
        print(
            f"{stat.size_diff / opened:8.0f} B/conn "
            f"{stat.count_diff / opened:6.1f} obj/conn  {name}"
        )
    workers.stop()
    server.should_exit = True
    thread.join(timeout=10)


if __name__ == "__main__":
    main()
