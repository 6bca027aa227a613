"""Expansion from outside AWS: the index and the WARCs over HTTPS-style Range requests (a local
file server shaped like https://data.commoncrawl.org/ that answers a share of the requests
with 503 or cuts them mid-body). No Spark: the index task and the fetch task run in-process."""

from __future__ import annotations

import gzip
import json

import pyarrow.parquet as pq
import pytest

from tests.cloud_fakes import FaultPlan, file_server
from tests.expand_fixtures import MATH_PREFIX, build_cc_tree, cc_name, split_sample

pytestmark = pytest.mark.cloud

CRAWL = "CC-MAIN-2024-22"
SEG = "1715971057216.39"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("https")
    _a, b, moved = split_sample(tmp)
    root = tmp / "cc"
    rows = build_cc_tree(root, {CRAWL: [(b, cc_name(CRAWL, SEG, 1))]}, files=3, row_group_rows=8)
    # Common Crawl publishes the index's file list beside warc.paths.gz
    listing = sorted(p.relative_to(root).as_posix() for p in (root / "cc-index").rglob("*.parquet"))
    (root / "crawl-data" / CRAWL / "cc-index-table.paths.gz").write_bytes(
        gzip.compress(("\n".join(listing) + "\n").encode())
    )
    return root, rows[CRAWL], moved


def test_index_and_records_over_https_with_faults(tree, tmp_path):
    from infra.index_files import index_files
    from jobs.expand_job import FetchRunner, IndexTask, hits_schema, to_hit
    from jobs.run_folder import RunFolder
    from pipeline.cc_index import PREFIX, Target
    from pipeline.config import load_config
    from pipeline.expand import index_filter, plan_tasks

    root, rows, moved = tree
    plan = FaultPlan(
        target="/", p_503=0.2, p_reset=0.2, seed=3, script=("slowdown", "reset", "reset")
    )
    with file_server(root, plan) as base:
        config = load_config(None, ["io.s3_max_attempts=8", "expand.merge_gap_bytes=0"])
        index = f"{base}/cc-index/table/cc-main/warc/"
        files = index_files(index, [CRAWL], config.io)
        assert len(files) == 3 and all(u.startswith(base) for _c, u in files)
        run = RunFolder(tmp_path / "run")
        run.claim(["x.warc.gz"], config, "run")
        flt = index_filter(config, [Target(PREFIX, MATH_PREFIX)])
        task = IndexTask(flt, config.io, run.location, 1, "fp")
        results = [json.loads(r) for r in task(enumerate(files))]
        assert all(r["error"] is None for r in results)
        matched = [
            r
            for p in sorted((run.path / "expand" / "iter=1" / "matched").glob("*.parquet"))
            for r in pq.read_table(p, schema=hits_schema()).to_pylist()
        ]
        assert sorted(r["url"] for r in matched) == sorted(moved)
        scan = {}
        for r in results:
            for k, v in r["counters"].items():
                scan[k] = scan.get(k, 0) + v
        assert scan["index_requests"] >= 3

        # the records, by ranged reads over https
        tasks = plan_tasks([to_hit(r) for r in matched], 10, 1)
        runner = FetchRunner(config, run.location, f"{base}/")
        out = [json.loads(r) for r in runner(enumerate(tasks))]
    st = {}
    for r in out:
        for k, v in r["stats"].items():
            if isinstance(v, (int, float)):
                st[k] = st.get(k, 0) + v
    assert st["records_read"] == len(moved)
    kept = sum(r["stats"]["kept"] for r in out)
    dropped = sum(sum(r["stats"]["dropped"].values()) for r in out)
    assert kept + dropped == len(moved) and kept >= len(moved) - 2
    assert all("fetch_failed" not in r["stats"]["dropped"] for r in out)
    assert plan.counts["slowdown"] > 0 and plan.counts["reset"] > 0
    assert st.get("io_retries", 0) + scan.get("io_retries", 0) > 0
    docs = [
        d
        for p in sorted((run.path / "docs").glob("part-expand-*.parquet"))
        for d in pq.read_table(p).to_pylist()
    ]
    assert len(docs) == kept and {d["source"] for d in docs} == {"expand"}
    assert all(d["warc_path"].startswith(base + "/crawl-data/") for d in docs)
    assert st["bytes"] == sum(r["warc_record_length"] for r in matched)
