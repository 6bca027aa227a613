"""The export's per-record work without Spark: ExportTask.iter_export on plain dicts.

The rows are real: two records of a real WARC (re-read at their offsets, so their careful text
is made) and, for rows whose WARC is gone, the fast text of a real page with a planted line.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType

from jobs.export_job import ExportTask, build_index, careful_available
from pipeline.charset import decode_html
from pipeline.clean_boilerplate import line_hash
from pipeline.config import load_config
from pipeline.html_text import extract_text
from pipeline.math_text import count_formulas
from pipeline.records import StageStats
from pipeline.tokens import make_token_counter

DATA = Path(__file__).parent / "data" / "export"
GSM8K = Path(__file__).resolve().parent.parent / "pipeline" / "data" / "gsm8k_test.jsonl.gz"
WARC = str(DATA / "dolma_science_0.warc.gz")
GONE = "/nonexistent/x.warc.gz"


def _records() -> dict[str, tuple[str, int]]:
    """{url: (html, offset)} of the real WARC's response records."""
    out = {}
    with open(WARC, "rb") as f:
        for rec in ArchiveIterator(f, record_types=WarcRecordType.response):
            html, _ = decode_html(rec.reader.read())
            out[rec.headers["WARC-Target-URI"]] = (html, rec.stream_pos)
    return out


def _rows() -> list[dict]:
    out = []
    for url, (html, offset) in _records().items():
        fast = extract_text(html, url=url, mode="fast")
        out.append(
            {"id": url.rsplit("/", 1)[-1], "url": url, "text": fast.text, "lang": "en",
             "warc_path": WARC, "warc_offset": offset, "warc_date": "2024-05-28",
             "formulas": fast.formulas, "domain": "localhost", "math_score": 0.9}
        )  # fmt: skip
    with gzip.open(GSM8K, "rt") as f:
        q = json.loads(f.readline())["question"]
    taylor = next(r for r in out if r["id"] == "taylor.html")
    out.append(dict(taylor, id="leak", url="https://a/leak", warc_path=GONE,
                    text=taylor["text"] + "\n\n" + q))  # fmt: skip
    mail = "Write to jane.doe@uni.edu or see 8.8.8.8; the bound $a@b$ stays."
    out.append(dict(taylor, id="mail", url="https://a/mail", warc_path=GONE,
                    text=taylor["text"] + "\n\n" + mail))  # fmt: skip
    return out


def _export(config, rows=None, opener=None):
    task = ExportTask(config, "/unused", build_index(config.export), make_token_counter(""))
    stats, samples, decisions = StageStats("export"), {}, []
    docs = list(task.iter_export(rows or _rows(), stats, samples, opener, decisions))
    return {d["id"]: d for d in docs}, stats, samples, decisions


def test_iter_export_ships_judged_careful_text_labels_fallbacks_and_counts():
    config = load_config(None, ["extract.page_timeout_s=0", "export.shuffle_seed=3"])
    opened = []

    def opener(path):
        opened.append(path)
        return open(path, "rb")

    docs, stats, samples, decisions = _export(config, opener=opener)
    assert careful_available()
    assert stats.to_dict()["dropped"] == {"contaminated:gsm8k_test": 1}
    assert samples["gsm8k_test"] == ["janet s ducks lay 16 eggs per day she eats"]
    assert set(docs) == {"math.html", "taylor.html", "mail"}
    assert opened == [WARC, GONE]  # each WARC opened once for its group of rows
    # no silent fallback: the re-read rows ship careful text, the others say why they do not
    assert docs["math.html"]["text_source"] == docs["taylor.html"]["text_source"] != "fast"
    assert not docs["math.html"]["text_source"].startswith("fast_fallback")
    assert docs["mail"]["text_source"] == "fast_fallback:reread_failed"
    assert stats.extra["text_source:fast_fallback:reread_failed"] == 2  # leak + mail
    assert "E = mc^2" in docs["math.html"]["text"]
    # the cleaning chain judged the shipped text: PII replaced in it, formulas untouched
    mail = docs["mail"]["text"]
    assert "jane.doe@uni.edu" not in mail and "8.8.8.8" not in mail and "$a@b$" in mail
    assert stats.extra["pii_emails_replaced"] == 1 and stats.extra["pii_ips_replaced"] == 1
    for d in docs.values():
        assert d["token_count"] == len(d["text"].split()) and d["token_kind"] == "words"
        assert d["formulas"] == count_formulas(d["text"])
        assert d["_key"] != 0  # shuffle key present
    assert docs["math.html"]["formulas"] >= 2
    assert stats.reconciles() and stats.records_read == 4
    # one decision per row, with the formulas the ledger needs
    by_id = {d["id"]: d for d in decisions}
    assert set(by_id) == {"math.html", "taylor.html", "leak", "mail"}
    assert by_id["leak"]["keep"] is False and by_id["leak"]["reason"] == "contaminated:gsm8k_test"
    assert by_id["math.html"]["formulas_out"] == docs["math.html"]["formulas"]
    assert by_id["math.html"]["formulas_fast"] == 2


def test_boilerplate_lines_of_the_clean_stage_are_removed_from_the_careful_text():
    config = load_config(None, ["extract.page_timeout_s=0"])
    rows = [r for r in _rows() if r["id"] == "taylor.html"]
    plain, _, _, _ = _export(config, [dict(r) for r in rows])
    careful_lines = [ln for ln in plain["taylor.html"]["text"].split("\n") if ln.strip()]
    line = careful_lines[1]  # a line of the careful text that the domain repeats
    rows[0]["boilerplate_hashes"] = [line_hash(line)]
    docs, stats, _, _ = _export(config, rows)
    text = docs["taylor.html"]["text"]
    assert line not in text.split("\n") and careful_lines[0] in text
    assert stats.extra["lines_removed_boilerplate_lines"] == 1


def test_a_page_the_rules_drop_on_its_shipped_text_is_counted_by_rule_not_exported():
    # a word minimum no real page meets: every judged text is dropped, each by the rule
    config = load_config(None, ["extract.page_timeout_s=0", "clean.min_words=100000",
                                "clean.min_words_with_math=100000"])  # fmt: skip
    docs, stats, _, decisions = _export(config)
    assert docs == {}
    assert stats.to_dict()["dropped"] == {"rules:gopher_short_doc": 4}
    assert {d["reason"] for d in decisions} == {"rules:gopher_short_doc"}
    assert all(d["formulas_out"] == 0 for d in decisions)
    math = next(d for d in decisions if d["id"] == "math.html")
    assert math["formulas_before"] >= 2  # the careful text had them; the page was dropped


def test_careful_off_ships_the_judged_fast_text_labelled_fast():
    config = load_config(None, ["export.careful=false"])
    docs, stats, _, _ = _export(config)
    assert {d["text_source"] for d in docs.values()} == {"fast"}
    assert stats.extra["text_source:fast"] == 4
    rows = {r["id"]: r for r in _rows()}
    assert docs["math.html"]["text"] == rows["math.html"]["text"]  # nothing for a rule to edit
