"""Top functions in py-spy collapsed stacks (`py-spy record -f raw`).

    python -m bench.hotspots FILE [--only-thread SUBSTR] [--top N]

Prints, per function, the share of samples where it is on the stack (inclusive)
and where it is the leaf (self). Idle samples (epoll/select waits) are dropped
unless --idle is given.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

IDLE = (
    "select (",
    "poll (",
    "_run_once",
    "run_forever",
    "wait (threading",
    "_worker (concurrent",
    "get (queue",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--idle", action="store_true")
    parser.add_argument("--grep", help="only stacks containing this text")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in args.file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        if args.grep and args.grep not in stack:
            continue
        frames = stack.split(";")
        if not args.idle and any(i in frames[-1] for i in IDLE):
            continue
        n = int(count)
        total += n
        for f in set(frames):
            inclusive[f] += n
        leaf[frames[-1]] += n
    print(f"{total} busy samples")
    print("inclusive:")
    for f, n in inclusive.most_common(args.top):
        print(f"  {n / total:6.1%}  {f}")
    print("self:")
    for f, n in leaf.most_common(args.top):
        print(f"  {n / total:6.1%}  {f}")


if __name__ == "__main__":
    main()
