"""End to end on the sample: a path the recall loop accepts in iteration 1 brings in the pages
of a second WARC the run never read, and iteration 2 trains on them and selects them.

The sample WARC is cut in two (gzip members copied byte for byte): the run reads A, which holds
every other page of the math book (discrete.openmathbooks.org/dmoi4) with the rest of the
sample; B holds the other half of the book. Both are indexed (Common Crawl's schema and layout)
and served from a local folder laid out like Common Crawl's bucket.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.expand_fixtures import MATH_PREFIX, build_cc_tree, cc_name, split_sample

pytestmark = [pytest.mark.slow, pytest.mark.spark]

CRAWL = "CC-MAIN-2024-22"
SEG = "1715971057216.39"


def test_accepted_path_brings_in_pages_of_another_warc(spark, tmp_path):
    from jobs.clean_job import run_clean
    from jobs.dedup_job import run_dedup
    from jobs.expand_job import run_expand
    from jobs.extract_job import run_extract
    from jobs.recall_job import run_recall
    from jobs.run_folder import RunFolder
    from pipeline.config import load_config

    a, b, moved = split_sample(tmp_path)
    names = [cc_name(CRAWL, SEG, 0), cc_name(CRAWL, SEG, 1)]
    tree = tmp_path / "cc"
    build_cc_tree(tree, {CRAWL: [(a, names[0]), (b, names[1])]})
    config = load_config(
        None,
        [
            "spark.master=local[2]",
            "recall.iterations=1",
            f"expand.index={tree}/cc-index/table/cc-main/warc/",
        ],
    )
    run = RunFolder(tmp_path / "run", config.io)
    inputs = [str(tree / names[0])]
    run.claim(inputs, config, "run")
    run_extract(spark, run, config, inputs)
    run_clean(spark, run, config)
    run_dedup(spark, run, config)
    run_recall(spark, run, config)
    tsv = (run.path / "models" / "iter=1" / "url_paths.tsv").read_text()
    accepted = [ln.split("\t")[1] for ln in tsv.splitlines()[1:] if ln.endswith("\tyes")]
    assert any(MATH_PREFIX.startswith(p.rstrip("/")) for p in accepted), tsv

    stats = run_expand(spark, run, config, [CRAWL])

    hits = pq.read_table(run.path / "expand" / "iter=1" / "hits.parquet").to_pylist()
    assert {h["url"] for h in hits} == set(moved)  # B's book pages, nothing of A
    assert {h["warc_filename"] for h in hits} == {names[1]}
    assert stats["found"] == stats["fetched"] == len(moved)
    assert stats["records_read"] == stats["kept"] + sum(stats["dropped"].values())
    assert stats["kept"] >= len(moved) - 2
    assert stats["requests"] >= 1 and stats["bytes"] > 0
    for stage in ("clean", "dedup", "recall"):
        assert not run.is_done(stage)  # expand cleared them: a resumed run redoes them

    # the next pass: the new pages are cleaned, deduplicated, scored and trained on
    run_clean(spark, run, config)
    run_dedup(spark, run, config)
    out = run_recall(spark, run, config)
    assert out["iterations"] == 2  # recall.iterations=1, raised for iteration 1's expansion
    m1 = json.loads((run.path / "models" / "iter=1" / "metrics.json").read_text())
    m2 = json.loads((run.path / "models" / "iter=2" / "metrics.json").read_text())
    n = m2["expand"]["pages"]
    assert n >= stats["kept"] - 4  # what clean and dedup left of them
    assert m2["train"]["expand_positives"] == n
    assert m1["train"]["expand_positives"] == 0
    assert m2["expand"]["selected"] == n
    selected = set(pq.read_table(run.path / "selected").column("id").to_pylist())
    expand_ids = {
        r["id"]
        for r in pq.read_table(run.path / "clean", columns=["id", "source"]).to_pylist()
        if r["source"] == "expand"
    }
    assert len(expand_ids & selected) == n
    print(
        "\nsample expansion: found", stats["found"], "fetched", stats["fetched"], "kept",
        stats["kept"], "selected", m2["expand"]["selected"], "(above threshold",
        m2["expand"]["above_threshold"], ") ranged reads", stats["requests"], "bytes",
        stats["bytes"], "index requests", stats["index_requests"], "index bytes",
        stats["index_bytes"],
    )  # fmt: skip
