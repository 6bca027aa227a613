"""``mathmine explain`` on a tiny run folder built from real page texts: every rule's verdict,
the lines removed, and what dedup/recall/export recorded for the document."""

from __future__ import annotations

import json

import pytest

from jobs.cli import main
from pipeline.config import CleanConfig
from tests.test_clean_job import expected_decisions, load_jsonl, make_docs, write_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    math = [m for m in load_jsonl("math_pages.jsonl") if "planetmath.org" in m["url"]]
    junk = load_jsonl("nonmath_pages.jsonl")[:12]
    docs = make_docs(math + junk)
    path = write_run(tmp_path_factory.mktemp("explain"), docs)
    # clean_decisions/ as the clean stage writes it (the Spark stage is checked against this
    # same pure path in test_clean_job.py; here no Spark is needed)
    want = expected_decisions(docs, CleanConfig())
    pq.write_table(
        pa.table(
            {
                "id": [d["id"] for d in docs],
                "url": [d["url"] for d in docs],
                "keep": [want[d["id"]][0] for d in docs],
                "reason": [want[d["id"]][1] for d in docs],
            }
        ),
        path / "clean_decisions.parquet",
    )
    (path / "clean_decisions").mkdir()
    (path / "clean_decisions.parquet").rename(path / "clean_decisions" / "part-0.parquet")
    # later stages' tables, as dedup/recall write them (written by hand: their jobs are
    # tested elsewhere); the first PlanetMath page is a near-duplicate of the second
    ids = [d["id"] for d in docs]
    pq.write_table(
        pa.table(
            {
                "id": ids[:10],
                "cluster_id": [ids[1], ids[1]] + ids[2:10],
                "keep": [False] + [True] * 9,
                "reason": ["near_dup"] + [None] * 9,
            }
        ),
        path / "dedup.parquet",
    )
    (path / "dedup").mkdir()
    (path / "dedup.parquet").rename(path / "dedup" / "part-0.parquet")
    for it, scores in ((1, [0.91, 0.97, 0.42]), (2, [0.95, 0.99, 0.30])):
        d = path / "scores" / f"iter={it}"
        d.mkdir(parents=True)
        pq.write_table(pa.table({"id": ids[:3], "score": scores}), d / "part-0.parquet")
    (path / "selected").mkdir()
    pq.write_table(
        pa.table({"id": ids[1:2], "math_score": [0.99]}), path / "selected" / "part-0.parquet"
    )
    return path, docs


def _explain(capsys, *argv):
    rc = main(["explain", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_explain_by_url_shows_rules_boilerplate_and_later_stages(run_dir, capsys):
    path, docs = run_dir
    pm = docs[0]
    rc, out, err = _explain(capsys, pm["url"], "--run", str(path))
    assert rc == 0, err
    assert f"document {pm['id']}" in out
    assert "clean: KEPT" in out
    for rule in ("url_blocklist", "gopher_quality", "gopher_repetition", "c4_lines", "pii"):
        assert rule in out
    # PlanetMath's metadata block recurs on every entry of the domain
    assert "boilerplate_lines" in out and "line(s) removed" in out
    assert "Numerical id" in out
    assert "clean_decisions/: keep=True" in out
    assert "dedup/: keep=False" in out and "near_dup" in out
    assert "scores/iter=1: 0.9100" in out and "scores/iter=2: 0.9500" in out
    assert "selected/: no" in out


def test_explain_json_by_id_matches_recorded_decision(run_dir, capsys):
    import pyarrow.parquet as pq

    path, docs = run_dir
    recorded = {r["id"]: r for r in pq.read_table(path / "clean_decisions").to_pylist()}
    dropped = [d for d in docs if not recorded[d["id"]]["keep"]]
    assert dropped, "the real junk pages include drops"
    for d in dropped[:3] + docs[1:2]:
        rc, out, err = _explain(capsys, d["id"], "--run", str(path), "--json")
        assert rc == 0, err
        e = json.loads(out)
        assert e["clean"]["keep"] == recorded[d["id"]]["keep"]
        assert e["clean"]["reason"] == recorded[d["id"]]["reason"]
        drops = [r for r in e["clean"]["rules"] if r["outcome"] == "drop"]
        if not e["clean"]["keep"]:
            # every rule ran, so all the reasons a page fails are shown, the first one first
            assert drops[0]["reason"] == e["clean"]["reason"]
            assert all(r["outcome"] != "not_run" for r in e["clean"]["rules"][:-1])
            assert e["clean"]["rules"][-1]["rule"] == "pii"  # PII only runs on kept pages
    rc, out, _ = _explain(capsys, docs[1]["id"], "--run", str(path), "--json")
    e = json.loads(out)
    assert e["recorded"]["selected"]["math_score"] == pytest.approx(0.99)
    assert e["recorded"]["scores"] == {"iter=1": 0.97, "iter=2": 0.99}


def test_explain_unknown_document_is_a_one_line_error(run_dir, capsys):
    path, _ = run_dir
    rc, out, err = _explain(capsys, "0123456789abcdef", "--run", str(path))
    assert rc == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "no document with id or URL '0123456789abcdef'" in err


def test_explain_run_without_docs_is_a_one_line_error(tmp_path, capsys):
    rc, out, err = _explain(capsys, "x", "--run", str(tmp_path))
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "docs" in err
