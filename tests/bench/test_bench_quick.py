"""Keeps the benchmark suite from rotting: runs `python -m bench run --quick` once and
checks that B1-B6, B3c and B4s produced numbers and JSON. No thresholds on speed: the
full suite (`python -m bench run`) measures that, never the test suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_quick_suite_produces_numbers_for_every_runnable_benchmark(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # only against a hang: a busy machine may be slow, never wrong
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    results = {
        p.name.split("-")[0]: json.loads(p.read_text()) for p in tmp_path.glob("B*-latest.json")
    }
    assert sorted(results) == sorted([f"B{i}" for i in range(1, 9)] + ["B3c", "B4s"])
    for bench_id in ("B1", "B2", "B3", "B4", "B5", "B6", "B3c", "B4s"):
        result = results[bench_id]
        assert "error" not in result, result.get("error")
        assert result["mode"] == "quick"
        headline = result["headline"]
        if bench_id == "B1":
            assert result["hubbub"]["open"] > 0 and result["bare"]["open"] > 0
            assert result["hubbub"]["rss_per_conn_kib"] > 0
        elif bench_id in ("B4", "B4s"):
            assert headline["hubbub_p50_ms"] > 0 and headline["bare_p50_ms"] > 0
            assert headline["ratio_p50"] is not None and headline["ratio_p99"] is not None
        else:
            assert headline["hubbub_per_s"] > 0 and headline["bare_per_s"] > 0
        if bench_id not in ("B4", "B4s"):
            assert headline["ratio"] is not None
    _check_b7(results["B7"])
    b8 = results["B8"]
    assert "error" not in b8, b8.get("error")
    assert b8["headline"]["worst_import_ms"] > 0 and b8["headline"]["boto3_import_ms"] > 0
    assert all(h["setup_ms"] > 0 for h in b8["handlers"].values())

    summary = json.loads((tmp_path / "summary-latest.json").read_text())
    assert len(summary["rows"]) == 10
    assert "B3" in run.stdout and "ratio" in run.stdout


def test_quick_postgres_mode_runs_hubbub_on_postgres_against_a_commit_loop(
    tmp_path: Path,
) -> None:
    """`--store postgres` starts a throwaway cluster of its own: Hubbub's messages land
    in it, the bare commit loop is measured beside the echo baseline, and the results
    say their store in their name and content (never overwriting SQLite's)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    command = ["run", "--quick", "--store", "postgres", "--only", "B3", "--out", str(tmp_path)]
    run = subprocess.run(
        [sys.executable, "-m", "bench", *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # only against a hang
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    assert not (tmp_path / "B3-latest.json").exists()
    result = json.loads((tmp_path / "B3-postgres-latest.json").read_text())
    assert "error" not in result, result.get("error")
    assert result["store"] == "postgres"
    assert result["machine"]["postgres"]
    headline = result["headline"]
    assert headline["hubbub_per_s"] > 0 and headline["bare_per_s"] > 0
    # every message the recipients got was stored in PostgreSQL
    assert result["messages_in_postgres"] >= result["hubbub"]["max_sustained"]["done"] > 0
    assert headline["pg_loop_per_s"] > 0 and headline["pg_loop_1conn_per_s"] > 0
    assert headline["ratio_to_pg_loop"] is not None
    summary = json.loads((tmp_path / "summary-postgres-latest.json").read_text())
    assert summary["store"] == "postgres"
    assert "pg commit loop" in run.stdout


def _check_b7(result: dict[str, Any]) -> None:
    assert "error" not in result, result.get("error")
    headline = result["headline"]
    assert headline["delivered"] is True  # every message reached its recipient, both ways
    for key in ("cross_p50_ms", "cross_p99_ms", "same_p50_ms", "same_p99_ms"):
        assert headline[key] > 0, key
    assert headline["added_p99_ms"] == round(headline["cross_p99_ms"] - headline["same_p99_ms"], 3)
    assert result["messages_in_postgres"] >= 2 * result["same process"]["expected"] > 0


def test_quick_b7_measures_delivery_across_processes_beside_delivery_within_one(
    tmp_path: Path,
) -> None:
    """B7 starts two Hubbub processes on one PostgreSQL database and one Redis: pairs
    with the recipient on the other process and pairs on one process both deliver, and
    the result says how much the trip through Redis adds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--quick", "--only", "B7", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # only against a hang
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    _check_b7(json.loads((tmp_path / "B7-latest.json").read_text()))
    assert "cross process" in run.stdout and "same process" in run.stdout


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_quick_b10_measures_each_operation_on_a_big_and_a_tiny_store(
    tmp_path: Path, store: str
) -> None:
    """B10 at a tiny scale: both stores load, and every measured operation returned
    what it must (the page, the list, the catch-up, the search, the send), on both, so
    its figures are of the right work. No thresholds on speed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    env.pop("BENCH_B10_SCALE", None)
    command = ["run", "--quick", "--only", "B10", "--store", store, "--out", str(tmp_path)]
    run = subprocess.run(
        [sys.executable, "-m", "bench", *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # only against a hang
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    stem = "B10" if store == "sqlite" else "B10-postgres"
    result = json.loads((tmp_path / f"{stem}-latest.json").read_text())
    assert "error" not in result, result.get("error")
    assert result["store"] == store and result["mode"] == "quick"
    big, tiny = result["big"], result["tiny"]
    assert big["messages"] > tiny["messages"] and big["deep"] > tiny["deep"]
    assert result["big_bytes"] > result["tiny_bytes"] > 0
    ops = result["operations"]
    assert set(ops) == {"history_newest", "history_deep", "user_search"} | {
        "conversation_list",
        "catch_up",
        "group_send",
    }
    for kind, shape in (("tiny", tiny), ("big", big)):
        newest = ops["history_newest"][kind]["returned"]
        assert newest == {
            "messages": 50,
            "seqs": [shape["deep"] - 49, shape["deep"]],
            "in_order": True,
        }
        middle = shape["deep"] // 2
        deep = ops["history_deep"][kind]["returned"]
        assert deep == {"messages": 50, "seqs": [middle - 50, middle - 1], "in_order": True}
        found = ops["user_search"][kind]["returned"]
        assert found["users"] == 20 and found["first"] <= found["last"]
        listed = ops["conversation_list"][kind]["returned"]
        assert listed == {"conversations": 500, "distinct": 500, "newest_first": True}
        caught = ops["catch_up"][kind]["returned"]
        assert caught["events"] == caught["distinct"] == 1000
        assert caught["types"] == ["message.created"]
        sent = ops["group_send"][kind]["returned"]
        assert sent["created"] is True and sent["members"] == 1000
        assert sent["seq"] == sent["sends"] == ops["group_send"][kind]["calls"] + 1
        for op in ops.values():
            assert op[kind]["median_ms"] > 0
    assert result["headline"]["ratio"] > 0
    assert result["headline"]["mib_per_million"] > 0
    assert "B10" in run.stdout
