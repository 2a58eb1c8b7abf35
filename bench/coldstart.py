"""B8: what a Lambda cold start costs in Python, per handler.

Each figure comes from a fresh interpreter (`python -c`), the median of several, so
nothing is cached in the process:

- **import**: `import <handler module>` plus `import boto3` (which every handler needs
  on its first call: counted even where the module defers it), timed inside the
  process, so interpreter start-up (Lambda's own, ~80 ms on python3.12) is left out;
- **set-up**: what the handler builds at its first invocation after that import (the
  services, the ASGI app and Mangum for an HTTP service, the boto3 clients, the Redis
  client; for the fan-out only the connections table's and the Management API's
  clients, with the fan-out's environment), without the network round trips of the
  call itself;
- baselines measured in the same run: `python -c pass` (interpreter start-up, wall
  time) and `import boto3` alone (the floor of any Python handler that talks to AWS).

The headline is import (boto3 included) against the 250 ms target, with its ratio to
`import boto3` alone. Set-up is reported beside it: it is the rest of what a cold
start really costs before the first request is served.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 250.0

# Handler -> (module, set-up run at the first invocation).
HANDLERS: dict[str, tuple[str, str]] = {
    "http.auth": ("hubbub.aws.http", "platform.cached('http:auth', lambda: m._adapter('auth'))"),
    "http.conversations": (
        "hubbub.aws.http",
        "platform.cached('http:conversations', lambda: m._adapter('conversations'))",
    ),
    "http.messages": (
        "hubbub.aws.http",
        "platform.cached('http:messages', lambda: m._adapter('messages'))",
    ),
    # In the VPC: the services with Redis, the connections table; no Management API.
    "realtime.connect/default/disconnect": (
        "hubbub.aws.realtime",
        "platform.core(); platform.registry(); platform.sessions();"
        " platform.frame_limiter(); import hubbub.commands",
    ),
    # Outside the VPC: deliveries and hello/close requests alike need only the
    # connections table and the Management API (checked: nothing of the services or
    # Redis gets imported, with the fan-out's environment, which has no Redis URL).
    "realtime.fanout": (
        "hubbub.aws.realtime",
        "platform.registry(); platform.poster(); platform.pool();"
        " import hubbub.adapters.apigw_connections, hubbub.adapters.sns_fanout, sys;"
        " bad = [n for n in sys.modules if n.startswith(('redis', 'hubbub.bootstrap',"
        " 'hubbub.services', 'hubbub.commands'))]; assert not bad, bad",
    ),
}

# Settings a handler's function does not get (infra/realtime/functions.yml).
_WITHOUT: dict[str, tuple[str, ...]] = {
    "realtime.fanout": ("HUBBUB_REDIS_URL", "HUBBUB_SNS_TOPIC_ARN", "HUBBUB_TOKEN_SECRET"),
}

_PROBE = """
import time
t0 = time.perf_counter()
import {module} as m
import boto3
t1 = time.perf_counter()
from hubbub.aws import platform
{setup}
t2 = time.perf_counter()
import json
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "setup_ms": (t2 - t1) * 1000}}))
"""

# What a deployed function's environment gives it (the DynamoDB store, the Cognito
# identity: a local identity would spend ~110 ms on its password hasher's dummy hash,
# which no deployed function does); nothing here is contacted.
_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "HUBBUB_STORE": "dynamodb",
    "HUBBUB_DYNAMODB_TABLE_PREFIX": "hubbub-bench-",
    "HUBBUB_COGNITO_USER_POOL_ID": "eu-west-1_bench",
    "HUBBUB_COGNITO_CLIENT_ID": "benchclient",
    "HUBBUB_TOKEN_SECRET": "b" * 40,
    "HUBBUB_REDIS_URL": "redis://127.0.0.1:1/0",
    "HUBBUB_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:hubbub-bench-fanout",
    "HUBBUB_WS_MANAGEMENT_URL": "https://abc123.execute-api.eu-west-1.amazonaws.com/bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Hubbub",
}


def _env(without: tuple[str, ...] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "AWS_"))}
    env.update({k: v for k, v in _ENV.items() if k not in without})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    env["PYTHONDONTWRITEBYTECODE"] = "0"
    return env


def _python(code: str, without: tuple[str, ...] = ()) -> tuple[float, str]:
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(without),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall = (time.perf_counter() - started) * 1000
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-2000:])
    return wall, run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def measure(repeats: int) -> dict[str, Any]:
    # Warm the page cache and the bytecode cache once: a deployment package ships its
    # .pyc files, so compiling is no part of a cold start.
    for name, (module, setup) in HANDLERS.items():
        _python(_PROBE.format(module=module, setup=setup), _WITHOUT.get(name, ()))
    start = [_python("pass")[0] for _ in range(repeats)]
    boto = []
    for _ in range(repeats):
        _, out = _python(
            "import time; t=time.perf_counter(); import boto3; print((time.perf_counter()-t)*1000)"
        )
        boto.append(float(out))
    handlers: dict[str, Any] = {}
    for name, (module, setup) in HANDLERS.items():
        probe = _PROBE.format(module=module, setup=setup)
        runs = [json.loads(_python(probe, _WITHOUT.get(name, ()))[1]) for _ in range(repeats)]
        handlers[name] = {
            "module": module,
            "import_ms": _median([r["import_ms"] for r in runs]),
            # The least disturbed run: on a shared machine the median carries others' load.
            "import_min_ms": round(min(r["import_ms"] for r in runs), 1),
            "setup_ms": _median([r["setup_ms"] for r in runs]),
        }
    return {
        "python_start_ms": _median(start),
        "boto3_import_ms": _median(boto),
        "handlers": handlers,
    }


def b8(quick: bool) -> dict[str, Any]:
    figures = measure(2 if quick else 7)
    boto = figures["boto3_import_ms"]
    worst = max(h["import_ms"] for h in figures["handlers"].values())
    for handler in figures["handlers"].values():
        handler["ratio_to_boto3"] = round(handler["import_ms"] / boto, 2) if boto else None
        handler["cold_total_ms"] = round(handler["import_ms"] + handler["setup_ms"], 1)
    return {
        **figures,
        "headline": {
            "worst_import_ms": worst,
            "boto3_import_ms": boto,
            "ratio": round(worst / boto, 2) if boto else None,
            "worst_setup_ms": max(h["setup_ms"] for h in figures["handlers"].values()),
            "target": f"import incl. boto3 < {TARGET_MS:.0f} ms",
            "pass": worst < TARGET_MS,
        },
    }


def print_figures(result: dict[str, Any]) -> None:
    print(
        f"  python -c pass: {result['python_start_ms']} ms wall;"
        f" import boto3 alone: {result['boto3_import_ms']} ms"
    )
    for name, h in result["handlers"].items():
        print(
            f"  {name:40} import+boto3 {h['import_ms']:7.1f} ms ({h['ratio_to_boto3']}x boto3)"
            f" (min {h['import_min_ms']:.0f})  first-call set-up {h['setup_ms']:7.1f} ms"
            f"  total {h['cold_total_ms']:7.1f} ms"
        )


if __name__ == "__main__":
    outcome = b8(quick="--quick" in sys.argv)
    print_figures(outcome)
    print(json.dumps(outcome["headline"]))
