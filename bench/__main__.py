"""python -m bench run [--quick] [--only B1,B3] [--store sqlite|postgres] [--out DIR]
python -m bench table [--store sqlite|postgres]
python -m bench list

B10 (cost as the data grows, bench/growth.py) loads stores of millions of rows: it runs
only when named (`--only B10`), never in the default set."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import growth, suite
from bench.common import (
    RESULTS,
    cpu_layout,
    machine_info,
    print_table,
    result_key,
    write_result,
)
from bench.suite import BENCHMARKS, STORES, Ctx

# Every benchmark `--only` accepts; the default set is BENCHMARKS.
RUNNABLE = {**BENCHMARKS, "B10": (growth.WHAT, growth.b10)}


def _saturated(result: dict[str, Any]) -> bool:
    """True if a step the headline rests on (each side's max sustained and half-load
    step, B4's steps, B1's connect phase) saw the generator above 90 % CPU. Overloaded
    steps past the maximum are not counted: there the server sets the pace."""
    found = False
    picked = []
    for kind in ("hubbub", "bare"):
        side = result.get(kind)
        if isinstance(side, dict):
            if "max_sustained" in side:
                picked += [side.get("max_sustained"), side.get("half_load")]
            else:
                picked.append(side)
    result = {"picked": picked}

    def walk(node: Any) -> None:
        nonlocal found
        if isinstance(node, dict):
            if node.get("saturated") is True:
                found = True
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(result)
    return found


def _row(bench_id: str, result: dict[str, Any]) -> list[Any]:
    h = result.get("headline", {})
    if result.get("error"):
        return [
            bench_id,
            "ERROR",
            "-",
            "-",
            h.get("target", "-"),
            result["error"].splitlines()[0][:80],
        ]
    if result.get("runnable") is False:
        return [bench_id, "-", "-", "-", h["target"], h["note"]]
    if bench_id == "B1":
        hub, bare = result["hubbub"], result["bare"]
        vals = [
            f"{hub['rss_per_conn_kib']} KiB/conn",
            f"{bare['rss_per_conn_kib']} KiB/conn",
            f"{h['ratio']}x",
        ]
        note = f"{result['connections']:,} conns"
    elif bench_id == "B7":
        vals = [
            f"cross p50 {h['cross_p50_ms']} / p99 {h['cross_p99_ms']} ms",
            f"same p50 {h['same_p50_ms']} / p99 {h['same_p99_ms']} ms",
            f"p50 {h['added_p50_ms']:+} / p99 {h['added_p99_ms']:+} ms",
        ]
        note = f"at {result['rate_per_s']:,.0f} msgs/s per side"
    elif bench_id == "B8":
        vals = [
            f"import {h['worst_import_ms']} ms (+ first-call set-up ≤ {h['worst_setup_ms']} ms)",
            f"import boto3 {h['boto3_import_ms']} ms",
            f"{h['ratio']}x",
        ]
        note = "slowest handler; boto3 included"
    elif bench_id == "B10":
        *vals, note = growth.row(result)
    elif bench_id in ("B4", "B4s"):
        vals = [
            f"p50 {h['hubbub_p50_ms']} / p99 {h['hubbub_p99_ms']} ms",
            f"p50 {h['bare_p50_ms']} / p99 {h['bare_p99_ms']} ms",
            f"p50 {h['ratio_p50']}x, p99 {h['ratio_p99']}x",
        ]
        note = f"at {result['rate_per_s']:,.0f} msgs/s" if bench_id == "B4" else "closed loop"
    else:
        unit = {"B2": "conn/s", "B3": "msg/s", "B3c": "msg/s", "B5": "deliv/s", "B6": "req/s"}[
            bench_id
        ]
        vals = [f"{h['hubbub_per_s']} {unit}", f"{h['bare_per_s']} {unit}", f"{h['ratio']}x"]
        note = ""
        if bench_id == "B2":
            note = f"hubbub p99 {h['hubbub_p99_ms']} ms"
        elif bench_id == "B3" and h.get("pg_loop_per_s"):
            note = (
                f"pg commit loop {h['pg_loop_per_s']}/s with {h['pg_loop_connections']} conns"
                f" ({h['ratio_to_pg_loop']}x), {h['pg_loop_1conn_per_s']}/s with 1"
                f" ({h['ratio_to_pg_loop_1conn']}x)"
            )
        elif bench_id in ("B5", "B6"):
            hub, bare = h.get("hubbub_p99_ms_at_half"), h.get("bare_p99_ms_at_half")
            note = f"p99 at half load {hub} ms (bare {bare})"
    if bench_id != "B1" and _saturated(result):  # B1 measures memory, not speed
        note += " [generator saturated in some step]"
    verdict = "PASS" if h.get("pass") else "short"
    return [bench_id, *vals, h.get("target", "-"), f"{verdict} {note}".strip()]


HEADER = ["id", "hubbub", "bare baseline", "ratio", "target", "verdict / notes"]


def _markdown(rows: list[list[Any]]) -> str:
    md = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    md += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(md) + "\n"


def _table_from_latest(out: Path, store: str) -> int:
    rows = []
    when = set()
    for bench_id in RUNNABLE:
        path = out / f"{result_key(bench_id, store)}-latest.json"
        if path.exists():
            result = json.loads(path.read_text())
            rows.append(_row(bench_id, result))
            took = result.get("seconds")
            when.add(f"{result['mode']} {store} {result['machine']['date']} ({took} s)")
    print(_markdown(rows))
    print("runs: " + "; ".join(sorted(when)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run all benchmarks or some")
    run.add_argument(
        "--quick", action="store_true", help="seconds, tiny sizes (the test suite's mode)"
    )
    run.add_argument("--only", help="comma-separated ids, e.g. B3,B4")
    run.add_argument("--out", type=Path, default=RESULTS, help="where JSON results go")
    run.add_argument(
        "--rate", type=float, help="no ramp: one step at this offered rate (profiling)"
    )
    run.add_argument("--seconds", type=float, help="step length with --rate")
    run.add_argument(
        "--store",
        choices=STORES,
        default="sqlite",
        help="Hubbub's store: SQLite, or a throwaway PostgreSQL cluster of the run's own",
    )
    sub.add_parser("list", help="list the benchmarks")
    table = sub.add_parser("table", help="print the table (Markdown) of the latest result of each")
    table.add_argument("--out", type=Path, default=RESULTS)
    table.add_argument("--store", choices=STORES, default="sqlite")
    args = parser.parse_args(argv)
    if args.command == "table":
        return _table_from_latest(args.out, args.store)
    if args.command == "list":
        for key, (what, _) in RUNNABLE.items():
            print(f"{key}  {what}")
        return 0
    by_upper = {key.upper(): key for key in RUNNABLE}
    asked = [x.strip() for x in args.only.split(",")] if args.only else list(BENCHMARKS)
    wanted = [by_upper.get(x.upper(), x) for x in asked]
    unknown = [x for x in wanted if x not in RUNNABLE]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    ctx = Ctx(
        quick=args.quick,
        out=args.out,
        fixed_rate=args.rate,
        fixed_seconds=args.seconds,
        store=args.store,
    )
    if args.quick:
        suite.QUIET_WAIT_S = 0.0
        suite.SETTLE_S = 0.2
    machine = machine_info()
    server_cpus, gen_cpus = cpu_layout()
    machine["server_cpus"], machine["generator_cpus"] = server_cpus, gen_cpus
    mode = "quick" if args.quick else "full"
    store = args.store
    print(
        f"Hubbub benchmarks ({mode}, store {store}) on {machine['nproc']} x "
        f"{machine['cpu_model']}, {machine['date']}; server on CPU {server_cpus}, "
        f"generator on CPU {gen_cpus}",
        flush=True,
    )
    try:
        return _run(ctx, wanted, machine, mode, store)
    finally:
        ctx.close()


def _run(ctx: Ctx, wanted: list[str], machine: dict[str, Any], mode: str, store: str) -> int:
    if store == "postgres":
        machine["postgres"] = ctx.postgres.version
        print(f"PostgreSQL {machine['postgres']} on CPU {machine['server_cpus']}", flush=True)
    started = time.monotonic()
    failed = False
    for bench_id in wanted:
        what, fn = RUNNABLE[bench_id]
        print(f"\n== {bench_id}: {what}", flush=True)
        t = time.monotonic()
        try:
            result = fn(ctx)
        except Exception as error:
            traceback.print_exc()
            result = {"error": f"{type(error).__name__}: {error}", "headline": {}}
            failed = True
        result.update(
            id=bench_id,
            what=what,
            mode=mode,
            store=store,
            machine=machine,
            seconds=round(time.monotonic() - t, 1),
        )
        ctx.results[bench_id] = result
        path = write_result(ctx.out, result_key(bench_id, store), result)
        print(f"    -> {path} ({result['seconds']} s)", flush=True)
    rows = [_row(k, ctx.results[k]) for k in wanted]
    header = ["id", "hubbub", "bare baseline", "ratio", "target", "verdict / notes"]
    print()
    table = print_table(
        f"Hubbub vs bare baselines ({mode}, store {store}, {machine['nproc']} CPUs, "
        f"{machine['cpu_model']}, "
        f"{machine['date']}, {time.monotonic() - started:.0f} s)",
        header,
        rows,
    )
    summary = {
        "mode": mode,
        "store": store,
        "machine": machine,
        "table": table,
        "rows": rows,
        "results": {k: ctx.results[k].get("headline") for k in wanted},
    }
    ctx.out.mkdir(parents=True, exist_ok=True)
    stem = result_key("summary", store)
    (ctx.out / f"{stem}-latest.json").write_text(json.dumps(summary, indent=2, default=str))
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    (ctx.out / f"{stem}-latest.md").write_text("\n".join(md) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
