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
from tests.recall_helpers import TINY_RUN
from tests.test_export import make_run_folder

REPO = Path(__file__).resolve().parent.parent
# no per-page deadline: on a loaded machine a timeout in one run and not the other would make
# the texts differ for reasons that have nothing to do with resuming
OVERRIDES = ["export.shard_rows=3", "export.shuffle_seed=5", "extract.page_timeout_s=0"]


def _start(command: str, args: list[str], overrides: list[str]) -> subprocess.Popen:
    """``mathmine COMMAND ARGS --set ...`` in its own process group (the Spark JVM dies with it)."""
    sets = [x for o in overrides for x in ("--set", o)]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", command, *args, *sets],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _start_export(run_dir: Path, *extra: str) -> subprocess.Popen:
    return _start("export", ["--run", str(run_dir), *extra], ["spark.master=local[2]", *OVERRIDES])


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
    m = json.loads((run_dir / "shards" / "_manifest.json").read_text())
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
    assert not (crash / "shards" / "_manifest.json").exists()
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


# --- the whole run: `mathmine run` killed during extract, resumed with --resume ------------------
WARCS = [
    REPO / "tests" / "data" / "warc" / name
    for name in (
        "dolma_sample-0000.warc.gz",
        "dolma_sample-0001.warc.gz",
        "dolma_science_0.warc.gz",
        "ukwa_IAH-urls-wget.warc.gz",
        "pywb_dupes.warc.gz",
    )
]


def _mathmine_run(out: Path, *extra: str) -> subprocess.Popen:
    return _start("run", ["--input", *map(str, WARCS), "--out", str(out), *extra], TINY_RUN)


@pytest.mark.slow
@pytest.mark.spark
def test_killed_run_resumes_to_the_same_manifest(spark, tmp_path):
    assert all(w.exists() for w in WARCS), "WARC fixtures of tests/data/warc missing"
    # killed once extract has committed some WARCs' docs (and before it finished all)
    crash = tmp_path / "crash"
    proc = _mathmine_run(crash)
    _kill_when(proc, lambda: len(list((crash / "docs").glob("part-*.parquet"))) >= 1, 400)
    assert proc.returncode == -signal.SIGKILL
    assert not (crash / "shards" / "_manifest.json").exists()
    proc = _mathmine_run(crash, "--resume")
    out = proc.communicate(timeout=900)[0].decode(errors="replace")
    assert proc.returncode == 0, out[-4000:]

    # the uninterrupted reference, in this process (saves a Spark start-up)
    from jobs.inputs import expand_inputs
    from jobs.run_folder import RunFolder
    from jobs.run_job import run_pipeline

    ref = tmp_path / "ref"
    config = load_config(None, TINY_RUN)
    inputs = expand_inputs([str(w) for w in WARCS], config.io)
    ref_run = RunFolder(ref)
    ref_run.claim(inputs, config, "run")
    run_pipeline(spark, ref_run, config, inputs)

    got, expected = _summary(crash), _summary(ref)
    assert expected["totals"]["rows"] > 0
    assert got["rows"] == expected["rows"] and got["ids"] == expected["ids"]
    # same texts and token counts too; not byte-identical files, because two uninterrupted
    # runs already differ in math_score (the fastText model is not reproducible run to run)
    assert got["totals"]["tokens"] == expected["totals"]["tokens"]
    cols = ["id", "text", "token_count", "url", "warc_path", "warc_offset"]
    assert pq.read_table(sorted((crash / "shards").glob("shard-*.parquet")), columns=cols).equals(
        pq.read_table(sorted((ref / "shards").glob("shard-*.parquet")), columns=cols)
    )
    assert verify_manifest(crash / "shards") == [] and verify_manifest(ref / "shards") == []

    # the resumed extract wrote each WARC's docs once: docs/ equals the uninterrupted run's
    def doc_ids(run_dir: Path) -> list[str]:
        return sorted(pq.read_table(run_dir / "docs", columns=["id"]).column("id").to_pylist())

    assert doc_ids(crash) == doc_ids(ref)
