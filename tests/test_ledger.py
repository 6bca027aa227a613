"""The math-retention ledger's arithmetic (pipeline/ledger.py) and the extract stage's ledger
counters, on real pages; the Spark side is exercised by tests/test_export.py and the sample."""

from __future__ import annotations

import gzip
from pathlib import Path

from pipeline.config import load_config
from pipeline.html_text import extract_text
from pipeline.ledger import (
    build_ledger,
    doc_fate,
    extract_entry,
    format_ledger,
    missing_formulas,
)
from pipeline.math_text import count_formulas, iter_formulas
from pipeline.records import StageStats

DATA = Path(__file__).parent / "data"
WARCS = [DATA / "warc" / "dolma_science_0.warc.gz", DATA / "warc" / "dolma_science_1.warc.gz"]
ALL = {"clean": True, "dedup": True, "selection": True, "export": True}


def _extract(overrides: list[str]) -> tuple[list[dict], StageStats]:
    from pipeline.extract import extract_warc

    # first pass off: these WARCs' three non-math pages reach every drop reason counted here
    # (tests/test_prefilter.py counts the first pass's own drops)
    config = load_config(None, ["extract.page_timeout_s=0", "extract.first_pass=false", *overrides])
    stats, docs = StageStats("extract"), []
    for w in WARCS:
        with open(w, "rb") as f:
            docs += list(extract_warc(f, str(w), config, stats))
    return docs, stats


def test_extract_counts_math_pages_kept_and_dropped_by_reason():
    # the MathJax page of these WARCs is 144 characters: under extract.min_text_chars it is
    # dropped as empty_text, after the extractor saw its two formulas
    _, stats = _extract([])
    e = extract_entry(stats.to_dict())
    assert e["dropped"] == {"empty_text": 1} and e["formulas_dropped"] == {"empty_text": 2}
    assert e["math_pages_in"] == 1 and e["math_pages_out"] == 0

    docs, stats = _extract(["extract.min_text_chars=20"])
    math = [d for d in docs if d["formulas"] or d["math_markup"]]
    e = extract_entry(stats.to_dict())
    assert e["math_pages_out"] == e["math_pages_in"] == len(math) == 1
    assert e["formulas_in"] == sum(d["formulas"] for d in math) == 2
    assert e["dropped"] == {}

    # a language filter that keeps none of these English pages: dropped by 'lang', counted
    # with the formulas that were lost
    _, de = _extract(["extract.min_text_chars=20", "extract.langs=[de]"])
    e = extract_entry(de.to_dict())
    assert e["dropped"] == {"lang": 1} and e["formulas_dropped"] == {"lang": 2}
    assert de.dropped["lang"] == len(docs)  # every page was dropped; only the math one counted

    # a page limit below every page: dropped before the extractor could look, so 'unseen'
    _, tiny = _extract(["extract.max_page_bytes=100"])
    e = extract_entry(tiny.to_dict())
    assert e["math_pages_in"] == 0 and e["unseen"] == {"too_large": len(docs)}


def test_doc_fate_names_the_stage_and_reason_a_page_left_at():
    assert doc_fate(ALL, False, "gopher_short_doc") == ("clean", "gopher_short_doc")
    assert doc_fate(ALL, True, None, False, "near_dup") == ("dedup", "near_dup")
    assert doc_fate(ALL, True, None, True, None, None) == ("selection", "not_selected")
    assert doc_fate(ALL, True, None, True, None, True, False, "rules:fineweb_line_punct_ratio") == (
        "export",
        "rules:fineweb_line_punct_ratio",
    )
    assert doc_fate(ALL, True, None, True, None, True, True, None, "careful") == (
        "shipped",
        "careful",
    )
    # a stage that did not run keeps every page; a missing row where one is due is named
    only_export = {"export": True}
    assert doc_fate(only_export, None, None, None, None, None, True, None, "fast") == (
        "shipped",
        "fast",
    )
    assert doc_fate(ALL, None) == ("clean", "no_row")
    assert doc_fate({"clean": True}, True) == ("pending", "")


def _fates():
    """Aggregates as jobs/ledger_job.py collects them: (stage, reason, math) sums."""
    rows = [
        ("clean", "gopher_dup_line_frac", True, 3, 40, 0, 0),
        ("clean", "gopher_short_doc", False, 50, 0, 0, 0),
        ("dedup", "near_dup", True, 2, 30, 0, 0),
        ("selection", "not_selected", True, 4, 12, 0, 0),
        ("selection", "not_selected", False, 100, 0, 0, 0),
        ("export", "rules:fineweb_line_punct_ratio", True, 1, 12, 12, 0),
        ("export", "duplicate_id", True, 1, 5, 0, 0),
        ("shipped", "careful", True, 10, 200, 190, 185),
        ("shipped", "fast_fallback:reread_failed", True, 1, 7, 7, 7),
        ("shipped", "careful", False, 5, 0, 2, 2),
    ]
    keys = ("stage", "reason", "math", "pages", "formulas", "formulas_before", "formulas_out")
    return [dict(zip(keys, r)) for r in rows]


def test_every_formula_found_is_shipped_or_in_a_named_bucket():
    extract = {"ledger_math_pages": 22, "ledger_math_formulas": 306, "ledger_math_dropped:lang": 2,
               "ledger_math_dropped_formulas:lang": 9, "ledger_unseen:timeout": 1}  # fmt: skip
    domains = [
        {"domain": "a.org", "formulas": 120, "shipped": 80, "lost": 40, "lost_at": {"clean": 40}}
    ]
    ledger = build_ledger(extract, _fates(), ALL, domains)
    f = ledger["formulas"]
    lost = sum(n for by in f["lost_with_page"].values() for n in by.values())
    assert f["found"] == f["duplicates"] + lost + f["on_shipped_pages"] + f["pending"]
    assert f["on_shipped_pages"] == f["shipped"] + f["re_extraction"] + f["export_line_rules"]
    assert f["duplicates"] == 35  # near_dup 30 + duplicate_id 5: not losses
    assert f["lost_with_page"] == {
        "clean": {"gopher_dup_line_frac": 40},
        "selection": {"not_selected": 12},
        "export": {"rules:fineweb_line_punct_ratio": 12},
    }
    assert f["shipped"] == 194 and f["dropped_at_extract"] == 9
    assert f["retention"] == round(194 / (306 - 35), 4)
    # the math pages flow from stage to stage: out of one is in of the next
    stages = {s["stage"]: s for s in ledger["stages"]}
    chain = [stages[s] for s in ("clean", "dedup", "selection", "export")]
    assert chain[0]["math_pages_in"] == 22
    for a, b in zip(chain, chain[1:]):
        assert a["math_pages_out"] == b["math_pages_in"]
    assert stages["export"]["math_pages_out"] == 11  # the shipped math pages
    assert stages["export"]["fallback"] == {"reread_failed": 1}
    assert stages["extract"]["dropped"] == {"lang": 2}
    assert "not a loss" in stages["dedup"]["note"]
    text = "\n".join(format_ledger(ledger))
    for word in ("extract", "clean", "dedup", "selection", "export", "gopher_dup_line_frac",
                 "not_selected", "rules:fineweb_line_punct_ratio", "a.org", "timeout 1"):  # fmt: skip
        assert word in text, word


def test_missing_formulas_are_those_of_the_fast_text_the_shipped_text_lacks():
    html = gzip.open(DATA / "html" / "levin_sec_matchings.html.gz").read().decode()
    url = "https://discrete.openmathbooks.org/dmoi4/sec_matchings.html"
    fast = extract_text(html, url=url, mode="fast").text
    assert missing_formulas(fast, fast) == []
    # the shipped text as a reader would cut it: the second half of the page
    half = fast[len(fast) // 2 :]
    missing = missing_formulas(fast, half)
    assert len(missing) >= count_formulas(fast) - count_formulas(half) > 0
    kept = {"".join(f.split()) for f in iter_formulas(half)}
    assert all("".join(m.split()) not in kept or fast.count(m) > half.count(m) for m in missing)
