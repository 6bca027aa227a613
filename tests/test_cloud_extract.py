"""`mathmine extract --input s3://...` against a local moto server, through a proxy that
answers a share of the downloads with 503 SlowDown or resets them mid-body: the same docs as
from the local file, and the retries are in stats.json."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cloud_fakes import FAKE_AWS_ENV, FaultPlan, fake_aws_env, fault_proxy, moto_server

pytestmark = [pytest.mark.cloud, pytest.mark.spark, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
WARC = Path(__file__).parent / "data" / "cloud" / "cc_2020_34_excerpt.warc.gz"
BUCKET = "mm-test-crawl"
KEY = f"crawl-data/CC-MAIN-2020-34/segments/x/warc/{WARC.name}"


def _docs(run_dir: Path) -> list[dict]:
    table = pq.read_table(run_dir / "docs")
    rows = [{k: v for k, v in r.items() if k != "warc_path"} for r in table.to_pylist()]
    return sorted(rows, key=lambda r: (r["id"], r["warc_offset"]))


def test_extract_from_s3_with_faults_matches_local(spark, tmp_path):
    import boto3

    from jobs.extract_job import run_extract
    from jobs.run_folder import RunFolder
    from pipeline.config import load_config

    # the local reference, in this process's Spark session
    # every page extracted (the first pass off): the test compares S3 and local reads of them all
    config = load_config(None, ["spark.master=local[2]", "extract.first_pass=false"])
    local_run = RunFolder(tmp_path / "local")
    local_run.claim([str(WARC)], config, "extract")
    local_stats = run_extract(spark, local_run, config, [str(WARC)])

    # the first downloads are refused or cut, then a random share of the rest
    script = ("slowdown", "reset", "slowdown", "reset", "reset")
    plan = FaultPlan(target=WARC.name, p_503=0.2, p_reset=0.3, seed=2, script=script)
    with fake_aws_env(), moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(WARC), BUCKET, KEY)
        with fault_proxy(endpoint, plan) as proxy:
            # a fresh process: its Spark workers inherit the fake credentials and the endpoint
            env = {**os.environ, **FAKE_AWS_ENV, "AWS_ENDPOINT_URL": proxy, "PYTHONPATH": str(REPO)}
            out = tmp_path / "s3run"
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "jobs.cli",
                    "extract",
                    "--input",
                    f"s3://{BUCKET}/{KEY}",
                    "--out",
                    str(out),
                    "--set",
                    "spark.master=local[1]",
                    "--set",
                    "spark.driver_memory=1g",
                    "--set",
                    "extract.first_pass=false",
                ],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
    assert proc.returncode == 0, proc.stderr[-3000:]
    s3_docs, local_docs = _docs(out), _docs(local_run.path)
    assert len(local_docs) > 0
    assert s3_docs == local_docs
    assert set(pq.read_table(out / "docs").column("warc_path").to_pylist()) == {
        f"s3://{BUCKET}/{KEY}"
    }
    import json

    stats = json.loads((out / "stats.json").read_text())["extract"]
    assert stats["records_read"] == local_stats["records_read"]
    assert stats["kept"] == local_stats["kept"] and stats["dropped"] == local_stats["dropped"]
    assert plan.counts["reset"] >= 3 and plan.counts["slowdown"] >= 2
    assert stats["io_resumes"] == plan.counts["reset"]
    assert stats["io_throttled"] == plan.counts["slowdown"]
    assert stats["io_retries"] >= plan.counts["slowdown"]
    for v in FAKE_AWS_ENV.values():
        if len(v) > 12:
            assert v not in proc.stdout + proc.stderr
