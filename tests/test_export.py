"""The export stage on a small run folder (Spark local mode): selection, decontamination with
stats, token counts, shards + manifest, completion marker, deterministic shuffle, fallbacks."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from infra.storage import read_rows
from jobs.run_folder import RunFolder
from pipeline.clean_chain import clean_document
from pipeline.config import CleanConfig, load_config
from pipeline.html_text import SOURCES, extract_text
from pipeline.math_text import count_formulas
from pipeline.records import doc_id, docs_schema
from pipeline.shards import SHARD_SCHEMA, verify_manifest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "export"
GSM8K_TEST = REPO / "pipeline" / "data" / "gsm8k_test.jsonl.gz"
TRAIN_ROW_SHARING_A_TEST_10GRAM = 20  # GSM8K train #20 shares a 10-gram with a test problem


CAREFUL_SOURCES = {k for k in SOURCES if k != "fast"}


def _jsonl(path: Path) -> list[dict]:
    return list(read_rows(path))


def _doc(url: str, text: str, warc_path: str, offset: int, digest: str) -> dict:
    return {
        "id": doc_id(url, digest),
        "url": url,
        "domain": re.sub(r"^https?://([^/:]+).*", r"\1", url),
        "warc_path": warc_path,
        "warc_offset": offset,
        "warc_length": 0,
        "warc_date": "2020-03-29T09:04:10Z",
        "warc_record_id": f"<urn:uuid:{digest}>",
        "title": "",
        "text": text,
        "lang": "en",
        "lang_score": 0.9,
        "formulas": text.count("$") // 2,
        "math_markup": [],
        "html_bytes": len(text),
        "word_count": len(text.split()),
        "minhash": [],
    }


def make_run_folder(path: Path, planted: int = 5) -> dict:
    """A run folder with docs/ as extract writes it (several files, one per 'WARC') and a
    selected/ table. Returns what a correct export must produce."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    run = RunFolder(path)
    run.sub("docs").mkdir(parents=True, exist_ok=True)
    cc = _jsonl(DATA / "cc_en_head-0091.jsonl.gz") + _jsonl(DATA / "cc_en_head-0174.jsonl.gz")
    train = _jsonl(DATA / "gsm8k_train_head60.jsonl")
    test = _jsonl(GSM8K_TEST)
    files: dict[str, list[dict]] = {}
    contaminated = set()
    careful: dict[str, str] = {}  # id -> careful text of the re-readable records
    # real WARC records, re-readable at their offsets
    for name in ("dolma_science_0.warc.gz", "dolma_science_1.warc.gz"):
        wp = str(DATA / name)
        with open(wp, "rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.response):
                html = rec.reader.read().decode("utf-8", "replace")
                text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("\r\n\r\n", 1)[-1]))
                url = rec.headers["WARC-Target-URI"]
                d = _doc(url, text.strip(), wp, rec.stream_pos, rec.headers["WARC-Payload-Digest"])
                files.setdefault(name, []).append(d)
                careful[d["id"]] = extract_text(html, url=url, mode="careful").text
    # real CC pages; the first `planted` carry a GSM8K test problem in the middle
    for i, d in enumerate(cc):
        text = d["text"]
        if i < planted:
            paras = text.split("\n")
            text = "\n".join(paras[: len(paras) // 2] + [test[100 + i]["question"]] + paras[1:])
        doc = _doc(d["id"], text, f"/gone/cc-{i % 3}.warc.gz", 1000 * i, d["metadata"]["digest"])
        if i < planted:
            contaminated.add(doc["id"])
        files.setdefault(f"cc-{i % 3}", []).append(doc)
    # GSM8K *train* problems with their solutions: math pages that must be exported, except
    # train #20, which really shares a 10-gram with a test problem
    for i in list(range(12)) + [TRAIN_ROW_SHARING_A_TEST_10GRAM]:
        r = train[i]
        text = r["question"] + "\n\n" + re.sub(r"<<[^>]*>>", "", r["answer"])
        doc = _doc(f"https://gsm.example.org/train/{i}", text, "/gone/gsm.warc.gz", i, f"t{i}")
        if i == TRAIN_ROW_SHARING_A_TEST_10GRAM:
            contaminated.add(doc["id"])
        files.setdefault("gsm", []).append(doc)
    all_docs = [d for docs in files.values() for d in docs]
    for key, docs in files.items():
        pq.write_table(
            pa.Table.from_pylist(docs, docs_schema()), run.sub("docs", f"part-{key}.parquet")
        )
    # selection: every doc but three CC pages, with a score
    cc_clean = sorted(
        d["id"] for d in all_docs if "/cc-" in d["warc_path"] and d["id"] not in contaminated
    )
    dropped_by_selection = set(cc_clean[::5][:3])
    selected = [
        {"id": d["id"], "math_score": round(0.5 + (k % 50) / 100, 2)}
        for k, d in enumerate(all_docs)
        if d["id"] not in dropped_by_selection
    ]
    run.sub("selected").mkdir()
    pq.write_table(pa.Table.from_pylist(selected), run.sub("selected", "part-0.parquet"))
    by_id = {d["id"]: d for d in all_docs}
    # the text that ships: the careful text of a re-readable record, else the fast text
    # ("fast_fallback:reread_failed": these WARCs are gone), judged by the cleaning rules
    judged = {}
    for s in selected:
        d = by_id[s["id"]]
        out, dec = clean_document(dict(d, text=careful.get(d["id"], d["text"])), CleanConfig())
        judged[d["id"]] = (out["text"] if out else None, dec.reason)
    kept = {i for i, (t, _) in judged.items() if t is not None}
    exported = sorted(kept - contaminated)
    return {
        "run": run,
        "docs": by_id,
        "selected": {s["id"]: s["math_score"] for s in selected},
        "contaminated": contaminated & kept,
        "rules": Counter(f"rules:{r}" for t, r in judged.values() if t is None),
        "judged": judged,
        "careful": careful,
        "exported": exported,
    }


def _manifest(run: RunFolder) -> dict:
    return json.loads(run.sub("shards", "_manifest.json").read_text())


def _shard_rows(run: RunFolder) -> list[dict]:
    m = _manifest(run)
    return [r for s in m["shards"] for r in pq.read_table(run.sub("shards", s["file"])).to_pylist()]


@pytest.mark.spark
def test_export_end_to_end(spark, tmp_path):
    from jobs.export_job import careful_available, run_export

    fx = make_run_folder(tmp_path / "run")
    run = fx["run"]
    # no per-page deadline: on a loaded test machine a 5 s careful extraction can time out
    config = load_config(None, ["export.shard_rows=4", "extract.page_timeout_s=0"])
    stats = run_export(spark, run, config)

    # accounting: every selected doc is exported, dropped by a rule on the text it would
    # ship, or dropped as contaminated, per benchmark
    assert careful_available()
    assert stats["records_read"] == len(fx["selected"])
    assert stats["kept"] == len(fx["exported"])
    assert fx["rules"], "the fixture's selection includes pages the rules drop"
    assert stats["dropped"] == {
        "contaminated:gsm8k_test": len(fx["contaminated"]),
        **fx["rules"],
    }
    assert stats["records_read"] == stats["kept"] + sum(stats["dropped"].values())
    dec = stats["decontamination"]["gsm8k_test"]
    assert dec["removed"] == len(fx["contaminated"])
    assert "bought stamps at the post office some of the stamps" in dec["sample_ngrams"]
    assert all(len(g.split()) == 10 for g in dec["sample_ngrams"])
    assert run.read_json("stats.json")["export"]["kept"] == stats["kept"]
    # no silent fallback: the 4 real WARC records are re-read (careful text); the rest point
    # at WARCs that are gone and say so
    assert sum(v for k, v in stats["text_source"].items() if "fallback" not in k) == 4, stats
    assert stats["fallback"] == {"reread_failed": len(fx["selected"]) - 4}
    assert stats["text_source"]["fast_fallback:reread_failed"] == len(fx["selected"]) - 4

    # shards: 4 rows each, ordered by id, schema fixed, manifest matches the files
    m = _manifest(run)
    assert verify_manifest(run.sub("shards")) == []
    assert [s["rows"] for s in m["shards"]][:-1] == [4] * (len(m["shards"]) - 1)
    assert m["totals"]["rows"] == len(fx["exported"])
    assert m["token_kind"] == "words" and m["selection"] == "selected+docs"
    for s in m["shards"]:
        assert pq.read_schema(run.sub("shards", s["file"])).equals(SHARD_SCHEMA)
    rows = _shard_rows(run)
    assert [r["id"] for r in rows] == fx["exported"]
    for r in rows:
        src = fx["docs"][r["id"]]
        assert r["math_score"] == fx["selected"][r["id"]]
        assert r["token_count"] == len(r["text"].split()) and r["token_kind"] == "words"
        assert (r["url"], r["warc_path"], r["warc_offset"]) == (
            src["url"],
            src["warc_path"],
            src["warc_offset"],
        )
        # exactly the text the rules judged and returned ships
        assert r["text"] == fx["judged"][r["id"]][0]
        assert r["formulas"] == count_formulas(r["text"])
        if src["warc_path"].startswith("/gone/"):
            assert r["text_source"] == "fast_fallback:reread_failed"
        else:
            assert not r["text_source"].startswith("fast_fallback"), r["text_source"]
            if src["url"].endswith("/math.html"):
                assert "E = mc^2" in r["text"] and r["formulas"] >= 2
    # export_decisions/: one row per selected doc, the ledger's input
    decisions = {d["id"]: d for d in pq.read_table(run.sub("export_decisions")).to_pylist()}
    assert set(decisions) == set(fx["selected"])
    for i, d in decisions.items():
        assert d["keep"] == (i in fx["exported"])
        if not d["keep"]:
            want = "contaminated:gsm8k_test" if i in fx["contaminated"] else "rules:"
            assert d["reason"].startswith(want) and d["formulas_out"] == 0
    ledger = run.read_json("stats.json")["ledger"]
    export_stage = ledger["stages"][-1]
    assert export_stage["stage"] == "export" and export_stage["ran"]
    assert ledger["formulas"]["shipped"] == sum(r["formulas"] for r in rows)
    assert m["totals"]["tokens"] == sum(r["token_count"] for r in rows) == stats["tokens"]
    assert not run.sub("_export_tmp").exists()

    # finished: a re-run skips and leaves the files alone
    before = {p.name: p.stat().st_mtime_ns for p in run.sub("shards").iterdir()}
    again = run_export(spark, run, config)
    assert again["kept"] == stats["kept"]
    assert {p.name: p.stat().st_mtime_ns for p in run.sub("shards").iterdir()} == before


@pytest.mark.spark
def test_export_shuffle_is_deterministic_and_rewrite_never_duplicates(spark, tmp_path):
    from jobs.export_job import run_export

    fx = make_run_folder(tmp_path / "run", planted=2)
    run = fx["run"]
    config = load_config(None, ["export.shuffle_seed=7", "export.shard_bytes=20000"])
    run_export(spark, run, config)
    first = _manifest(run)
    ids = [r["id"] for r in _shard_rows(run)]
    assert sorted(ids) == fx["exported"] and ids != fx["exported"]  # shuffled, nothing lost
    assert first["order"] == "shuffle(seed=7)" and first["totals"]["shards"] >= 2
    # a forced re-export replaces the shards with byte-identical ones; no stale shard remains
    run_export(spark, run, config, force=True)
    second = _manifest(run)
    assert [(s["file"], s["sha256"]) for s in second["shards"]] == [
        (s["file"], s["sha256"]) for s in first["shards"]
    ]
    assert sorted(p.name for p in run.sub("shards").glob("*.parquet")) == [
        s["file"] for s in second["shards"]
    ]
    assert verify_manifest(run.sub("shards")) == []


@pytest.mark.spark
def test_export_without_selection_uses_dedup_keep_and_custom_benchmark(spark, tmp_path):
    import shutil

    from jobs.export_job import run_export

    fx = make_run_folder(tmp_path / "run", planted=0)
    run = fx["run"]
    shutil.rmtree(run.sub("selected"))
    ids = sorted(fx["docs"])
    cc_doc = next(d for d in fx["docs"].values() if d["warc_path"] == "/gone/cc-0.warc.gz")
    keep = {i: (k % 4 != 0 or i == cc_doc["id"]) for k, i in enumerate(ids)}
    run.sub("dedup").mkdir()
    pq.write_table(
        pa.Table.from_pylist([{"id": i, "cluster_id": i, "keep": k} for i, k in keep.items()]),
        run.sub("dedup", "part-0.parquet"),
    )
    # export.careful=false: the fast text is judged by the rules and ships as "fast"
    verdict = {i: clean_document(d, CleanConfig())[1].reason for i, d in fx["docs"].items()}
    assert verdict[cc_doc["id"]] is None
    kept_ids = sorted(i for i, k in keep.items() if k and i != cc_doc["id"])
    shipped = [i for i in kept_ids if verdict[i] is None]
    rules = Counter(f"rules:{verdict[i]}" for i in kept_ids if verdict[i] is not None)
    assert rules, "some dedup-kept pages fail the rules"
    # the same two pages captured again in another WARC: an older and a newer capture
    older = dict(fx["docs"][shipped[0]], warc_path="/gone/old.warc.gz", warc_date="2019-01-01")
    newer = dict(fx["docs"][shipped[1]], warc_path="/gone/new.warc.gz", warc_date="2021-01-01")
    pq.write_table(
        pa.Table.from_pylist([older, newer], docs_schema()), run.sub("docs", "part-again.parquet")
    )
    # a user benchmark (Parquet, 'problem' field) made of one CC page's first line
    first = cc_doc["text"].split("\n")[0]
    assert len(first.split()) >= 13
    bench = tmp_path / "mybench.parquet"
    pq.write_table(pa.Table.from_pylist([{"problem": first, "id": 1}]), bench)
    config = load_config(
        None, [f"export.benchmarks=[mine={bench}]", "export.careful=false", "export.ngram=13"]
    )
    stats = run_export(spark, run, config)
    assert stats["selection"] == "all_docs+dedup_keep"
    assert stats["records_read"] == len(kept_ids) + 1 + 2
    assert stats["dropped"] == {"contaminated:mine": 1, "duplicate_id": 2, **rules}
    assert stats["decontamination"]["mine"]["removed"] == 1
    rows = _shard_rows(run)
    assert [r["id"] for r in rows] == shipped  # each id once, the contaminated page gone
    by_id = {r["id"]: r for r in rows}
    assert by_id[shipped[0]]["warc_path"] == fx["docs"][shipped[0]]["warc_path"]  # newest wins
    assert by_id[shipped[1]]["warc_path"] == "/gone/new.warc.gz"
    assert all(r["math_score"] is None for r in rows)
    assert {r["text_source"] for r in rows} == {"fast"} and stats["fallback"] == {}
    assert stats["text_source"] == {"fast": len(kept_ids) + 1}


@pytest.mark.spark
def test_clean_boilerplate_lines_are_removed_from_the_shipped_careful_text(spark, tmp_path):
    """Real pages of one domain (Levin's book, from the sample WARC): the clean stage persists
    the domain's boilerplate line hashes, and export removes those lines from the careful text
    it ships, so the clean stage's line edits reach the shards."""
    from jobs.clean_job import BOILERPLATE, run_clean
    from jobs.export_job import reread_html, run_export
    from jobs.sample_job import SAMPLE_WARC
    from pipeline.clean_boilerplate import domain_boilerplate, hashable_lines, line_hash
    from pipeline.extract import process_record
    from pipeline.records import RawRecord
    from pipeline.text_norm import split_lines
    from pipeline.warc import iter_records

    config = load_config(None, ["extract.page_timeout_s=0", "export.shard_rows=100"])
    docs = []
    with open(SAMPLE_WARC, "rb") as f:
        for rec in iter_records(f, str(SAMPLE_WARC), config.extract):
            if isinstance(rec, RawRecord) and "openmathbooks.org/dmoi4/sec_" in rec.url:
                d = process_record(rec, config)
                if isinstance(d, dict):
                    docs.append(d)
            if len(docs) == 8:
                break
    run = RunFolder(tmp_path / "run")
    run.sub("docs").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(docs, docs_schema()), run.sub("docs", "part-0.parquet"))
    run_clean(spark, run, config)
    per_domain = domain_boilerplate(((d["id"], d["domain"], d["text"]) for d in docs), config.clean)
    want = {h for hs in per_domain.values() for h in hs}
    got = pq.read_table(run.sub(BOILERPLATE)).to_pylist()
    assert want and {r["h"] for r in got} == want
    assert {r["domain"] for r in got} == {"openmathbooks.org"}

    # the careful text of these pages repeats none of those lines (trafilatura already left
    # the menus out), so say the domain also repeats one prose line of the first page's
    # careful text, as the clean stage would record it had it seen that line on more pages
    first = docs[0]
    with open(SAMPLE_WARC, "rb") as f:
        html = reread_html(f, first, config)
    careful = extract_text(html, url=first["url"], mode="careful").text
    line = next(ln for ln in careful.split("\n") if len(ln.split()) > 8 and "\\" not in ln)
    planted = pa.table(
        {"domain": ["openmathbooks.org"], "h": pa.array([line_hash(line)], pa.int64())}
    )
    pq.write_table(planted, run.sub(BOILERPLATE, "part-planted.parquet"))

    stats = run_export(spark, run, config)
    assert stats["lines_removed_boilerplate_lines"] >= 1
    rows = {r["id"]: r for r in _shard_rows(run)}
    assert set(rows) == {d["id"] for d in docs}
    # the careful extractor's sources (careful+fast: trafilatura with formula blocks put back)
    assert all(r["text_source"] in CAREFUL_SOURCES for r in rows.values())
    assert line not in rows[first["id"]]["text"].split("\n")
    removed = want | {line_hash(line)}
    for r in rows.values():  # no line the rules may remove as boilerplate is left
        for ln in hashable_lines(split_lines(r["text"])):
            assert line_hash(ln.text) not in removed, (r["url"], ln.text)
