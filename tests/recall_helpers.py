"""A small real run folder for the recall-loop and notebook tests (built once per test session).

The "crawl" is made of the bundled dev pages (real math and non-math texts with their real URLs)
plus three real non-math pages filed under planetmath.org URLs: with a reviewed accept file that
accepts ``planetmath.org/``, those pages are unselected pages under an accepted path, so they must
become new positives of iteration 2. The loop samples its negatives from the crawl, so its dev
figures measure fit; the test set stays out of the crawl and measures generalisation.
"""

from __future__ import annotations

from pathlib import Path

# small, fast classifier settings for the loop tests (the held-out test uses the defaults)
FAST = [
    "recall.dim=64",
    "recall.bucket=100000",
    "recall.max_positives=700",
    "recall.max_negatives=700",
    "recall.iterations=2",
    "recall.threads=2",
]
PLANTED = 3

# a whole run, small and fast: one recall iteration of a tiny model, every scored doc selected
# (threshold 0) so a comparison covers every exported page; 5 rows per shard
TINY_RUN = [
    "spark.master=local[2]",
    "extract.page_timeout_s=0",
    "extract.first_pass=false",  # small runs of mostly non-math pages: extract every page
    "recall.iterations=1",
    "recall.epoch=1",
    "recall.dim=16",
    "recall.threads=1",
    "recall.max_positives=300",
    "recall.max_negatives=300",
    "recall.threshold=0.0",
    "export.shard_rows=5",
]


def build_docs(run_dir: Path) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from classifiers.seeds import load_heldout
    from pipeline.math_text import count_formulas
    from pipeline.records import doc_id
    from pipeline.urls import registered_domain

    rows = load_heldout("dev")
    math = [r for r in rows if r["label"] == 1 and r["url"].startswith("https://")][:45]
    other = [r for r in rows if r["label"] == 0]
    planted = other[:PLANTED]
    other = other[PLANTED : PLANTED + 45]
    items = [(r["url"], r["text"]) for r in math + other]
    items += [(f"https://planetmath.org/misfiled{i}", r["text"]) for i, r in enumerate(planted)]
    docs = []
    for i, (url, text) in enumerate(items):
        docs.append(
            {
                "id": doc_id(url, f"sha1:{i}"),
                "url": url,
                "domain": registered_domain(url),
                "text": text,
                "formulas": count_formulas(text),
                "math_markup": ["mathjax"] if "$" in text else [],
                "word_count": len(text.split()),
            }
        )
    (run_dir / "docs").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(docs), run_dir / "docs" / "part-0.parquet")
    return docs


def build_recall_run(spark, base: Path) -> Path:
    """Run the loop (2 iterations, reviewed accept file) into ``base/recall_run`` once."""
    from jobs.recall_job import run_recall
    from jobs.run_folder import RunFolder
    from pipeline.config import load_config

    run_dir = base / "recall_run"
    if (run_dir / "_built").exists():
        return run_dir
    build_docs(run_dir)
    accept = base / "accept.txt"
    accept.write_text("# reviewed by hand\nplanetmath.org/\n")
    cfg = load_config(None, FAST)
    stats = run_recall(spark, RunFolder(run_dir), cfg, accept_paths=str(accept))
    (run_dir / "_built").write_text(str(stats))
    return run_dir
