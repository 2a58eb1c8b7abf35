"""A warm Lambda container of the `fanout` function, in its own process with only the
environment the deployed function gets (no HUBBUB_REDIS_URL, no topic, no token
secret): it reads one SNS event per line on stdin and writes, per event, the handler's
response (or the exception it raised), and whether anything the fan-out must not
need was built or imported (the services, Redis, the store).

`python -m tests.aws.fanout_container`; `tests/aws/conftest.py` drives it.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

# Starts the line of each answer on stdout (where the handler's logs and metrics go too).
ANSWER = "@@fanout-answer "

# Modules the fan-out has no business loading: the services and their wiring, Redis, a
# store (none is imported by this module either).
FORBIDDEN = (
    "redis",
    "hubbub.bootstrap",
    "hubbub.services",
    "hubbub.commands",
    "hubbub.adapters.redis",
    "hubbub.adapters.memory",
    "hubbub.adapters.sqlite",
    "hubbub.adapters.postgres",
    "hubbub.adapters.dynamodb",
)


def main() -> None:
    from hubbub.aws import platform, realtime
    from tests.aws.lambda_context import Context

    for line in sys.stdin:
        event = json.loads(line)
        answer: dict[str, Any]
        try:
            answer = {"response": realtime.fanout(event, Context())}
        except Exception as error:
            answer = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
        answer["servicesBuilt"] = platform._core is not None
        answer["loaded"] = sorted(n for n in sys.modules if n.startswith(FORBIDDEN))
        print(ANSWER + json.dumps(answer), flush=True)
    platform.reset()


if __name__ == "__main__":
    main()
