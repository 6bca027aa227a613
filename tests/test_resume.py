"""Resumable, idempotent export: a `mathmine export` process killed with SIGKILL mid-way and
then resumed gives the same shards (rows, doc ids, sha256) as an uninterrupted export, and a
killed re-export never damages the shards already there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.shards import verify_manifest
from tests.test_export import make_run_folder

REPO = Path(__file__).resolve().parent.parent
OVERRIDES = ["export.shard_rows=3", "export.shuffle_seed=5"]


def _start_export(run_dir: Path, *extra: str) -> subprocess.Popen:
    args = ["--run", str(run_dir), "--set", "spark.master=local[2]"]
    for o in OVERRIDES:
        args += ["--set", o]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", "export", *args, *extra],  # = `mathmine export`
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the Spark JVM dies with it
    )


def _kill_when(proc: subprocess.Popen, ready, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace")[-3000:]
            pytest.fail(f"export finished (rc {proc.returncode}) before it could be killed:\n{out}")
        if ready():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
            return
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    pytest.fail("export never reached the point to kill it at")


def _summary(run_dir: Path) -> dict:
    m = json.loads((run_dir / "shards" / "manifest.json").read_text())
    ids = [
        [r["id"] for r in pq.read_table(run_dir / "shards" / s["file"], columns=["id"]).to_pylist()]
        for s in m["shards"]
    ]
    return {
        "rows": [s["rows"] for s in m["shards"]],
        "ids": ids,
        "sha256": [s["sha256"] for s in m["shards"]],
        "totals": m["totals"],
    }


@pytest.mark.slow
@pytest.mark.spark
def test_killed_export_resumes_to_the_same_shards(spark, tmp_path):
    from jobs.export_job import run_export

    config = load_config(None, OVERRIDES)
    # the uninterrupted reference
    ref = make_run_folder(tmp_path / "ref")
    run_export(spark, ref["run"], config)
    expected = _summary(ref["run"].path)
    assert sorted(i for shard in expected["ids"] for i in shard) == ref["exported"]

    # a run killed after the first task committed its rows, before any shard existed
    fx = make_run_folder(tmp_path / "crash")
    crash = fx["run"].path
    rows_dir = crash / "_export_tmp" / "rows"
    proc = _start_export(crash)
    _kill_when(proc, lambda: rows_dir.is_dir() and any(rows_dir.glob("part-*.parquet")))
    assert proc.returncode == -signal.SIGKILL
    assert (crash / "_export_tmp").exists()  # really mid-way
    assert not (crash / "shards" / "manifest.json").exists()
    assert not fx["run"].is_done("export")

    # resume: the same shards as the uninterrupted run, no row twice, sha256s match the files
    stats = run_export(spark, fx["run"], config)
    assert _summary(crash) == expected
    assert verify_manifest(crash / "shards") == []
    assert stats["kept"] == expected["totals"]["rows"]
    assert not (crash / "_export_tmp").exists()

    # a forced re-export killed mid-way leaves the finished shards intact and listed
    proc = _start_export(crash, "--force")
    _kill_when(proc, lambda: rows_dir.is_dir() and any(rows_dir.glob("part-*.parquet")))
    assert proc.returncode == -signal.SIGKILL
    assert verify_manifest(crash / "shards") == []
    assert _summary(crash) == expected
