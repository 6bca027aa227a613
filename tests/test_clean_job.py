"""The clean stage in Spark (local[2]) on a tiny run folder built from real page texts.

The Spark result must match the pure per-document path (pipeline.clean_chain) document by document,
cross-page boilerplate lines must be found per domain (PlanetMath's per-entry metadata lines),
and no math page or formula may be lost.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from infra.storage import read_rows
from pipeline.clean_boilerplate import domain_boilerplate
from pipeline.clean_chain import clean_document
from pipeline.config import CleanConfig, Config
from pipeline.math_text import formulas
from pipeline.records import doc_id, docs_schema
from pipeline.urls import registered_domain

DATA = Path(__file__).parent / "data" / "clean"


def load_jsonl(name: str) -> list[dict]:
    return list(read_rows(DATA / name))


def make_docs(rows: list[dict]) -> list[dict]:
    """DOC_COLUMNS rows from fixture rows (id from URL, domain public-suffix aware)."""
    out = []
    for i, r in enumerate(rows):
        out.append(
            {
                "id": doc_id(r["url"], f"sha1:{i}"),
                "url": r["url"],
                "domain": registered_domain(r["url"]),
                "warc_path": "fixture.warc.gz",
                "warc_offset": i * 1000,
                "warc_length": 1000,
                "warc_date": "2024-05-01T00:00:00Z",
                "warc_record_id": f"<urn:uuid:{i}>",
                "title": r["url"].rsplit("/", 1)[-1],
                "text": r["text"],
                "lang": "en",
                "lang_score": 0.9,
                "formulas": len(formulas(r["text"])),
                "math_markup": ["raw_tex"] if formulas(r["text"]) else [],
                "html_bytes": len(r["text"]) * 3,
                "word_count": len(r["text"].split()),
                "minhash": [1, 2, 3],
            }
        )
    return out


def write_run(tmp: Path, docs: list[dict]) -> Path:
    """A run folder with docs/ split in two Parquet parts, as extract writes it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    run = tmp / "run"
    (run / "docs").mkdir(parents=True)
    half = len(docs) // 2
    for k, part in enumerate((docs[:half], docs[half:])):
        pq.write_table(
            pa.Table.from_pylist(part, docs_schema()), run / "docs" / f"part-{k}.parquet"
        )
    return run


def expected_decisions(docs: list[dict], cfg: CleanConfig) -> dict[str, tuple]:
    """The pure-Python answer: boilerplate hashes counted per domain, then clean_document."""
    per_domain = domain_boilerplate(((d["id"], d["domain"], d["text"]) for d in docs), cfg)
    out = {}
    for d in docs:
        common = per_domain.get(d["domain"], [])
        o, dec = clean_document(dict(d, boilerplate_hashes=common), cfg)
        out[d["id"]] = (dec.keep, dec.reason, o["text"] if o else None)
    return out


@pytest.fixture(scope="module")
def cleaned_run(tmp_path_factory, spark):
    from jobs.clean_job import run_clean
    from jobs.run_folder import RunFolder

    math = load_jsonl("math_pages.jsonl")
    junk = load_jsonl("nonmath_pages.jsonl")[::3]
    docs = make_docs(math + junk)
    path = write_run(tmp_path_factory.mktemp("clean"), docs)
    run = RunFolder(path)
    stats = run_clean(spark, run, Config())
    return run, docs, stats, math


@pytest.mark.spark
@pytest.mark.slow
def test_run_clean_matches_pure_path_and_reconciles(cleaned_run):
    import pyarrow.parquet as pq

    run, docs, stats, _ = cleaned_run
    assert stats["records_read"] == len(docs)
    assert stats["records_read"] == stats["kept"] + sum(stats["dropped"].values())
    assert json.loads((run.path / "stats.json").read_text())["clean"] == stats

    decisions = pq.read_table(run.sub("clean_decisions")).to_pylist()
    assert sorted(d["id"] for d in decisions) == sorted(d["id"] for d in docs)
    kept = {r["id"]: r for r in pq.read_table(run.sub("clean")).to_pylist()}
    assert len(kept) == stats["kept"]
    # same columns as docs/
    assert set(pq.read_table(run.sub("clean")).column_names) == set(docs_schema().names)

    want = expected_decisions(docs, CleanConfig())
    for d in decisions:
        keep, reason, text = want[d["id"]]
        assert (d["keep"], d["reason"]) == (keep, reason), d["url"]
        if keep:
            assert kept[d["id"]]["text"] == text
    # per-rule drop counts are the pure path's reasons
    assert Counter(r for k, r, _ in want.values() if not k) == Counter(stats["dropped"])


@pytest.mark.spark
@pytest.mark.slow
def test_run_clean_keeps_every_math_page_and_formula(cleaned_run):
    import pyarrow.parquet as pq

    run, docs, stats, math = cleaned_run
    kept = {r["url"]: r["text"] for r in pq.read_table(run.sub("clean")).to_pylist()}
    missing = [m["url"] for m in math if m["url"] not in kept]
    assert missing == []
    total = lost = 0
    for m in math:
        fs = formulas(m["text"])
        total += len(fs)
        lost += sum(1 for f in fs if f not in kept[m["url"]])
    assert total > 3000
    assert lost <= 0.01 * total


@pytest.mark.spark
@pytest.mark.slow
def test_run_clean_removes_planetmath_boilerplate_lines(cleaned_run):
    """PlanetMath pages end in a metadata block; its fixed lines recur on every entry."""
    import pyarrow.parquet as pq

    run, docs, stats, math = cleaned_run
    assert stats["lines_removed_boilerplate_lines"] > 0
    assert stats["boilerplate_domain_lines"] > 0
    kept = {r["url"]: r["text"] for r in pq.read_table(run.sub("clean")).to_pylist()}
    pm = [m for m in math if m["url"].startswith("https://planetmath.org/")]
    assert len(pm) >= 5
    with_block = [m for m in pm if "Numerical id" in m["text"]]
    assert len(with_block) >= 5
    for m in with_block:
        assert "Numerical id" not in kept[m["url"]], m["url"]
    # prose and formulas of the entries stay
    for m in pm:
        assert formulas(m["text"])[0] in kept[m["url"]]
    decisions = pq.read_table(run.sub("clean_decisions")).to_pylist()
    pm_ids = {d["id"] for d in docs if d["domain"] == "planetmath.org"}
    assert all(d["lines_removed"] > 0 for d in decisions if d["id"] in pm_ids and d["keep"])


@pytest.mark.spark
@pytest.mark.slow
def test_run_clean_counts_drops_on_junk(cleaned_run):
    run, docs, stats, math = cleaned_run
    assert stats["kept"] >= len(math)
    assert sum(stats["dropped"].values()) >= 10  # real junk pages are dropped, per rule
    assert all(r.startswith(("gopher_", "fineweb_", "c4_", "url_")) for r in stats["dropped"])


def test_clean_cli_requires_docs(tmp_path, capsys):
    from jobs.cli import main

    assert main(["clean", "--run", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "docs" in err and len(err.splitlines()) == 1
