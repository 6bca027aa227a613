"""pipeline/shard_text.py: the text that ships is the careful text the cleaning rules judged,
or the judged fast text labelled with why the careful text could not be made."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.clean_boilerplate import line_hash
from pipeline.clean_chain import clean_document
from pipeline.config import load_config
from pipeline.html_text import _INLINE_TAG, SOURCE_FAST_LARGE, extract_text
from pipeline.math_markup import placeholder_spacing, respace_placeholders
from pipeline.math_text import count_formulas, iter_formulas
from pipeline.records import RawRecord
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


# Real LaTeXML (PlanetMath) and PreTeXt (Levin) pages of tests/data/html: before issue 14's
# retention work their careful Markdown (equation tables as "|  | $$..$$ |  |" rows, the
# metadata table's pipes, "<sup>" runs) was dropped at export by rules that keep the fast text.
MATH_FIXTURES = [
    ("planetmath_QuadraticCongruence.html.gz", "https://planetmath.org/quadraticcongruence"),
    ("planetmath_DirichletCharacter.html.gz", "https://planetmath.org/dirichletcharacter"),
    ("planetmath_Mean.html.gz", "https://planetmath.org/mean"),
    ("planetmath_GeometricMean.html.gz", "https://planetmath.org/geometricmean"),
    ("planetmath_StrongPrime.html.gz", "https://planetmath.org/strongprime"),
    ("planetmath_MarkovNumber.html.gz", "https://planetmath.org/11d72-markovnumber"),
    (
        "planetmath_FibonacciJigsawPuzzle.html.gz",
        "https://planetmath.org/11b39-fibonaccijigsawpuzzle",
    ),
    ("levin_backmatter-2.html.gz", "https://discrete.openmathbooks.org/dmoi4/backmatter-2.html"),
]


def _missing(fast: str, shipped: str) -> int:
    """Formulas of ``fast`` absent from ``shipped`` (multisets of whitespace-free TeX)."""
    have = Counter("".join(f.split()) for f in iter_formulas(shipped))
    need = Counter("".join(f.split()) for f in iter_formulas(fast))
    return sum((need - have).values())


@pytest.mark.parametrize("name,url", MATH_FIXTURES)
def test_a_math_page_ships_every_formula_of_its_fast_text(name, url):
    html = gzip.open(HTML / name).read().decode()
    fast = extract_text(html, url=url, mode="fast", config=CONFIG.extract).text
    row = {"id": name, "url": url, "text": fast}
    assert clean_document(row, CONFIG.clean)[0] is not None  # the rules keep the fast text
    st = make_shard_text(row, CONFIG, html)
    assert st.text is not None, st.drop_reason  # ... and the careful text they judge
    assert st.source.startswith("careful")
    assert count_formulas(fast) >= 1 and _missing(fast, st.text) == 0


def test_latexml_equation_tables_are_display_lines_not_table_rows():
    html = gzip.open(HTML / "planetmath_QuadraticCongruence.html.gz").read().decode()
    assert html.count("ltx_eqn_table") >= 5
    text = extract_text(html, url=MATH_FIXTURES[0][1], mode="careful", config=CONFIG.extract).text
    rows = [ln for ln in text.split("\n") if ln.lstrip().startswith("|")]
    assert rows  # the metadata table is still a table
    assert not [r for r in rows if "$" in r]
    display = [ln for ln in text.split("\n") if ln.startswith("$$")]
    assert len(display) >= 5


def test_a_page_past_the_careful_bound_gets_its_fast_text_and_says_so():
    # trafilatura is not linear in the page (benchmarks/adversarial.py, adjacent <b>): past
    # extract.careful_max_bytes the careful text is the fast text, labelled, not trafilatura's
    html = gzip.open(HTML / "levin_sec_matchings.html.gz").read().decode()
    bounded = load_config(
        None, ["extract.page_timeout_s=0", f"extract.careful_max_bytes={len(html) - 1}"]
    )
    fast = extract_text(html, url=URL, mode="fast", config=bounded.extract)
    ext = extract_text(html, url=URL, mode="careful", config=bounded.extract)
    assert ext.source == SOURCE_FAST_LARGE and ext.text == fast.text
    assert ext.formulas == fast.formulas > 20
    st = make_shard_text({"id": "levin", "url": URL, "text": fast.text}, bounded, html)
    assert st.source == SOURCE_FAST_LARGE and not st.is_fallback and st.text
    # one byte more of bound: trafilatura's text again
    roomy = dataclasses.replace(bounded.extract, careful_max_bytes=len(html))
    assert extract_text(html, url=URL, mode="careful", config=roomy).source.startswith("careful")
    # the inline-tag bound (trafilatura merges adjacent <b>/<i>.. runs in quadratic time)
    n_tags = len(_INLINE_TAG.findall(html))
    assert n_tags >= 10
    for limit, source in ((n_tags - 1, SOURCE_FAST_LARGE), (n_tags, "careful")):
        cfg = dataclasses.replace(roomy, careful_max_inline_tags=limit)
        assert extract_text(html, url=URL, mode="careful", config=cfg).source.startswith(source)


def test_a_thread_page_past_the_careful_bound_is_still_read_post_by_post():
    forum = Path(__file__).parent / "data" / "forum"
    rows = list(csv.DictReader(open(forum / "manifest.tsv"), delimiter="\t"))
    row = next(r for r in rows if r["path"].startswith("harvest/") and r["engine"] == "XenForo")
    html = json.loads(gzip.open(forum / row["path"]).read())["html"]
    small = dataclasses.replace(CONFIG.extract, careful_max_bytes=1000)
    assert len(html) > 1000
    ext = extract_text(html, url=row["url"], mode="careful", config=small)
    assert ext.source.startswith("thread")


def test_shipped_formulas_are_counted_as_the_extractor_counts_them():
    # an AsciiMath page's `...` formulas count at extract; so they do in the shard text
    html = (HTML / "snippets" / "asciimath.html").read_text()
    url = "https://fixtures.invalid/snippets/asciimath.html"
    fast = extract_text(html, url=url, mode="fast", config=CONFIG.extract)
    careful = extract_text(html, url=url, mode="careful", config=CONFIG.extract)
    assert "asciimath" in careful.math_markup and count_formulas(careful.text) == 0
    st = make_shard_text({"id": "a", "url": url, "text": fast.text}, CONFIG, html)
    assert st.text is not None and st.formulas == careful.formulas == fast.formulas == 2


def test_careful_text_keeps_script_link_words_and_drops_hidden_icon_runs():
    # PlanetMath's NNexus concept links: <a href="javascript:..">power mean</a> followed by a
    # hidden <sup> of icon links; trafilatura dropped the words and wrapped the rest of the
    # paragraph in "<sup>"; LaTeXML's item bullets came out as lines "- •"
    html = gzip.open(HTML / "planetmath_Mean.html.gz").read().decode()
    assert html.count('href="javascript:void(0)"') >= 8 and 'style="display: none;"' in html
    text = extract_text(html, url="https://planetmath.org/mean", mode="careful").text
    for words in ("generalized mean", "power mean", "Lehmer mean", "Heronian mean"):
        assert f"- {words}" in text
    assert "<sup>" not in text and "- •" not in text


def _sample_html(url: str) -> str:
    from pipeline.charset import decode_html
    from pipeline.warc import iter_records

    with open(Path(__file__).parent.parent / "sample" / "sample.warc.gz", "rb") as f:
        for rec in iter_records(f, "sample.warc.gz", CONFIG.extract):
            if isinstance(rec, RawRecord) and rec.url == url:
                return decode_html(rec.body, rec.content_type)[0]
    raise AssertionError(f"{url} is not in the sample")


def test_careful_text_keeps_the_space_the_page_has_next_to_an_inline_formula():
    # trafilatura joined "<span>\\(A\\)</span> <em>and</em> <span>\\(B\\)</span>" into "\\(A\\)and\\(B\\)"
    url = "https://discrete.openmathbooks.org/dmoi4/sec-counting-probability.html"
    html = _sample_html(url)
    assert '\\(A\\)</span> <em class="emphasis">and</em> <span class="process-math">' in html
    text = extract_text(html, url=url, mode="careful", config=CONFIG.extract).text
    assert "outcomes that are in \\(A\\) and \\(B\\text{.}\\) So" in text
    # where the page writes no space ("the <span>\\(k\\)</span>th row"), none is added
    html = gzip.open(HTML / "levin_backmatter-2.html.gz").read().decode()
    url = "https://discrete.openmathbooks.org/dmoi4/backmatter-2.html"
    text = extract_text(html, url=url, mode="careful", config=CONFIG.extract).text
    assert "the \\(k\\)th row" in text


def test_placeholder_spacing_looks_past_the_tags_that_wrap_a_formula():
    html = 'in <span class="m">xmathmine0x</span> <em>and</em> <b><i>xmathmine1x</i></b>th'
    spacing = placeholder_spacing(html)
    assert spacing == {"xmathmine0x": (True, True), "xmathmine1x": (True, False)}
    glued = "in xmathmine0xandxmathmine1xth"
    assert respace_placeholders(glued, spacing) == "in xmathmine0x and xmathmine1xth"


@pytest.mark.parametrize(
    "name,url",
    [
        ("readability_wikipedia-3.html.gz", "https://en.wikipedia.org/wiki/Hermitian_matrix"),
        (
            "trafilatura_wikipedia_tsne.html.gz",
            "https://en.wikipedia.org/wiki/T-distributed_stochastic_neighbor_embedding",
        ),
    ],
)
def test_markdown_escaped_brackets_are_not_display_formulas(name, url):
    # trafilatura's Markdown writes "Heading[edit]" and citations "[11]" as "\\[edit\\]",
    # which the formula scanner read as display math: 20 false formulas on the Hermitian page
    html = gzip.open(HTML / name).read().decode()
    text = extract_text(html, url=url, mode="careful", config=CONFIG.extract).text
    assert "[edit]" in text and "\\[edit\\]" not in text
    assert not [f for f in iter_formulas(text) if f.strip() == "edit" or f.strip().isdigit()]
