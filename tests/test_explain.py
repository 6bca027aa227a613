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


def _levin_run(tmp_path):
    """A run folder holding one real page of the sample WARC as the stages write it: docs/
    (fast text), clean_decisions/, selected/, export_decisions/ and a shard row made by the
    export's own text step (the careful text, judged)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.export_job import _decisions_schema, decision_row
    from jobs.sample_job import SAMPLE_WARC
    from pipeline.config import load_config
    from pipeline.extract import process_record
    from pipeline.records import RawRecord, docs_schema
    from pipeline.shard_text import make_shard_text
    from pipeline.shards import SHARD_SCHEMA
    from pipeline.warc import iter_records

    url = "https://discrete.openmathbooks.org/dmoi4/sec_count-conc.html"
    config = load_config(None, ["extract.page_timeout_s=0"])
    with open(SAMPLE_WARC, "rb") as f:
        rec = next(
            r
            for r in iter_records(f, str(SAMPLE_WARC), config.extract)
            if isinstance(r, RawRecord) and r.url == url
        )
    doc = process_record(rec, config)
    from pipeline.charset import decode_html

    st = make_shard_text(doc, config, decode_html(rec.body, rec.content_type)[0])
    assert st.text is not None
    for table, rows, schema in (
        ("docs", [doc], docs_schema()),
        ("clean_decisions", [{"id": doc["id"], "url": url, "keep": True, "reason": None}], None),
        ("selected", [{"id": doc["id"], "math_score": 0.99}], None),
        ("export_decisions", [decision_row(doc, None, st)], _decisions_schema()),
        ("shards", [dict(doc, text=st.text, text_source=st.source, formulas=st.formulas,
                         token_count=1, token_kind="words", math_score=0.99)], SHARD_SCHEMA),
    ):  # fmt: skip
        (tmp_path / table).mkdir()
        t = pa.Table.from_pylist([{k: r.get(k) for k in (schema or rows[0]).names} if schema
                                  else r for r in rows], schema)  # fmt: skip
        pq.write_table(t, tmp_path / table / "part-0.parquet")
    return doc, st


def test_explain_shows_formulas_at_extract_and_in_the_shard_text_and_where_each_went(
    tmp_path, capsys
):
    from pipeline.math_text import count_formulas, iter_formulas

    doc, st = _levin_run(tmp_path)
    rc, out, err = _explain(capsys, doc["url"], "--run", str(tmp_path), "--json")
    assert rc == 0, err
    f = json.loads(out)["formulas"]
    assert f["fast"] == count_formulas(doc["text"]) > 100
    assert f["shard"] == st.formulas and f["text_source"] == st.source
    assert len(f["missing"]) >= f["fast"] - f["shard"]
    careful = {"".join(x.split()) for x in iter_formulas(st.text)}
    for m in f["missing"]:
        assert m["where"].startswith(("not in the careful text", "line removed by", "in the"))
        if m["where"].startswith("not in the careful text"):
            assert "".join(m["formula"].split()) not in careful
    rc, text, _ = _explain(capsys, doc["id"], "--run", str(tmp_path))
    assert (
        f"formulas: {f['fast']} in the fast text (extract), {f['shard']} in the shard text" in text
    )
    assert "export_decisions/: keep=True" in text
    if f["missing"]:
        assert f"missing from the shard text ({len(f['missing'])}):" in text


def test_explain_names_the_stage_that_dropped_a_page_with_its_formulas(run_dir, capsys):
    path, docs = run_dir
    rc, out, _ = _explain(capsys, docs[0]["url"], "--run", str(path), "--json")
    e = json.loads(out)
    # the first PlanetMath page is a near-duplicate: its formulas ship with its representative
    assert e["formulas"]["fast"] > 0 and e["formulas"]["shard"] is None
    assert e["formulas"]["page"].startswith("dedup: near_dup")
