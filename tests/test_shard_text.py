"""pipeline/shard_text.py: the text that ships is the careful text the cleaning rules judged,
or the judged fast text labelled with why the careful text could not be made."""

from __future__ import annotations

import gzip
from pathlib import Path

from pipeline.clean_boilerplate import line_hash
from pipeline.clean_chain import clean_document
from pipeline.config import load_config
from pipeline.html_text import extract_text
from pipeline.math_text import count_formulas
from pipeline.shard_text import make_shard_text

HTML = Path(__file__).parent / "data" / "html"
URL = "https://discrete.openmathbooks.org/dmoi4/sec_matchings.html"
CONFIG = load_config(None, ["extract.page_timeout_s=0"])


def _page():
    html = gzip.open(HTML / "levin_sec_matchings.html.gz").read().decode()
    fast = extract_text(html, url=URL, mode="fast").text
    return html, {"id": "levin", "url": URL, "text": fast}


def test_the_careful_text_judged_by_the_rules_is_what_ships():
    html, row = _page()
    careful = extract_text(html, url=URL, mode="careful", config=CONFIG.extract)
    st = make_shard_text(row, CONFIG, html)
    assert not st.is_fallback and st.fallback is None
    out, dec = clean_document({"url": URL, "text": careful.text}, CONFIG.clean)
    assert out is not None and st.text == out["text"] and st.decision.keep
    assert st.formulas == count_formulas(st.text) > 20
    assert st.formulas_before == count_formulas(careful.text)


def test_domain_boilerplate_lines_are_removed_from_the_careful_text():
    html, row = _page()
    plain = make_shard_text(row, CONFIG, html)
    lines = [ln for ln in plain.text.split("\n") if ln.strip() and "$" not in ln]
    st = make_shard_text(row, CONFIG, html, boilerplate_hashes=[line_hash(lines[0])])
    assert lines[0] not in st.text.split("\n")
    assert st.decision.lines_removed_by_rule() == {"boilerplate_lines": 1}


def test_no_careful_text_means_the_judged_fast_text_ships_and_says_why():
    _, row = _page()
    empty = "<html><head><title>x</title></head><body><script>var a;</script></body></html>"
    st = make_shard_text(row, CONFIG, empty)
    assert st.source == "fast_fallback:careful_empty_text" and st.fallback == "careful_empty_text"
    assert st.text == clean_document(row, CONFIG.clean)[0]["text"]
    gone = make_shard_text(row, CONFIG, None, "reread_failed")
    assert gone.source == "fast_fallback:reread_failed" and gone.text == st.text
    off = make_shard_text(row, CONFIG, None, "fast")
    assert off.source == "fast" and not off.is_fallback


def test_a_text_the_rules_drop_does_not_ship_and_names_the_rule():
    html, row = _page()
    strict = load_config(None, ["extract.page_timeout_s=0", "clean.max_words=50"])
    st = make_shard_text(row, strict, html)
    assert st.text is None and st.formulas == 0 and st.formulas_before > 20
    assert st.drop_reason == "rules:gopher_long_doc"
