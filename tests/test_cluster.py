"""The dedup job on a real standalone Spark cluster: a master and two workers started on
127.0.0.1 by the test (``spark-class`` from the installed pyspark), the job submitted with
``spark-submit``, the code shipped as a zip with ``--py-files`` (executors must import it from
there, not from the repo), and the result compared with local mode."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.dedup_job import dedup_frame
from pipeline.config import DedupConfig

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.spark]

REPO = Path(__file__).resolve().parent.parent

DRIVER = """
import json, sys
from jobs import dedup_job
from jobs.cli import build_parser

args = build_parser("dedup").parse_args(["dedup", *sys.argv[1:]])
rc = dedup_job.main(args)
from pyspark.sql import SparkSession

sc = SparkSession.getActiveSession().sparkContext
files = (
    sc.parallelize(range(4), 4)
    .map(lambda _: __import__("pipeline.minhash").minhash.__file__)
    .collect()
)
with open(args.out + "/cluster_info.json", "w") as f:
    json.dump({"executor_module_files": files, "master": sc.master, "driver_file": dedup_job.__file__}, f)
sys.exit(rc)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pyspark_bin() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin"


def zip_code(dest: Path) -> Path:
    """The packages the executors need, as a cluster gets them (no editable install there)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for pkg in ("pipeline", "jobs"):
            for f in sorted((REPO / pkg).rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".py", ".yaml"):
                    z.write(f, f.relative_to(REPO).as_posix())
    return dest


def wait_for_workers(ui_port: int, n: int, procs, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a Spark daemon exited early with code {p.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as r:
                if json.load(r).get("aliveworkers", 0) >= n:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{n} workers did not register within {timeout}s")


def make_docs(data_dir: Path) -> list[dict]:
    pages = [json.loads(x)["text"] for x in gzip.open(data_dir / "dedup" / "pages.jsonl.gz", "rt")]
    pages = [p for p in pages if 300 <= len(p.split()) <= 2000][:50]
    rng = random.Random(4)
    rows = [
        {
            "id": f"d{i:02d}",
            "url": f"http://s{i % 40}.example/",
            "warc_date": f"20{10 + i}",
            "text": p,
        }
        for i, p in enumerate(pages)
    ]
    for i in range(0, 30, 3):  # planted near duplicates
        words = pages[i].split()
        text = " ".join(w if rng.random() > 0.004 else "zzq" for w in words)
        rows.append(
            {"id": f"n{i:02d}", "url": f"http://n{i}.example/", "warc_date": "2020", "text": text}
        )
    return rows


def test_cluster_result_equals_local(spark, data_dir, tmp_path):
    rows = make_docs(data_dir)
    docs = tmp_path / "docs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), docs)
    code = zip_code(tmp_path / "mathmine-code.zip")
    (tmp_path / "driver.py").write_text(DRIVER)

    port, ui = free_port(), free_port()
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env.pop("PYTHONPATH", None)
    env["SPARK_LOG_DIR"] = str(tmp_path / "logs")
    bin_ = pyspark_bin()
    procs = []
    logs = []

    def start(args, name):
        log = open(tmp_path / f"{name}.log", "w")
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [str(bin_ / "spark-class"), *args],
                env=env,
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    master = f"spark://127.0.0.1:{port}"
    try:
        start(
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui),
            ],
            "master",
        )
        for k in range(2):
            work = tmp_path / f"work{k}"
            work.mkdir()
            start(
                [
                    "org.apache.spark.deploy.worker.Worker",
                    master,
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "1",
                    "--memory",
                    "1g",
                    "--webui-port",
                    str(free_port()),
                    "--work-dir",
                    str(work),
                ],
                f"worker{k}",
            )
        wait_for_workers(ui, 2, procs)

        conf = tmp_path / "cluster.yaml"
        conf.write_text(
            "spark:\n"
            f"  master: '{master}'\n"
            "  driver_memory: 1g\n"
            "  executor_memory: 512m\n"
            "  conf:\n"
            "    spark.driver.host: 127.0.0.1\n"
            "    spark.driver.bindAddress: 127.0.0.1\n"
            "    spark.executor.cores: '1'\n"
            "    spark.cores.max: '2'\n"
        )
        out = tmp_path / "out"
        cmd = [
            str(bin_ / "spark-submit"),
            "--master",
            master,
            "--py-files",
            str(code),
            "--conf",
            f"spark.pyspark.python={sys.executable}",
            str(tmp_path / "driver.py"),
            "--input",
            str(docs),
            "--out",
            str(out),
            "--config",
            str(conf),
        ]
        sub = subprocess.run(
            cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert sub.returncode == 0, sub.stderr[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for log in logs:
            log.close()

    info = json.loads((out / "cluster_info.json").read_text())
    assert info["master"] == master
    # the executors ran the shipped zip, not the repo's editable install
    assert info["executor_module_files"] and all(
        "mathmine-code.zip" in f for f in info["executor_module_files"]
    )
    cluster = sorted(pq.read_table(out / "dedup").to_pylist(), key=lambda r: r["id"])
    local_df, local_report = dedup_frame(spark, spark.read.parquet(str(docs)), DedupConfig())
    local = sorted((r.asDict() for r in local_df.collect()), key=lambda r: r["id"])
    assert cluster == local
    assert sum(not r["keep"] for r in local) >= 10  # the planted duplicates were found
    report = json.loads((out / "dedup_report.json").read_text())
    for key in (
        "docs_in",
        "exact_url_removed",
        "exact_text_removed",
        "near_dup_removed",
        "kept",
        "clusters",
        "largest_cluster",
    ):
        assert report[key] == local_report[key], key
