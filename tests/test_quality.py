"""The math-aware cleaning rules on real page texts (tests/data/clean, see SOURCES.md).

Math safety: no real math page is dropped and no formula is lost. Junk: each rule fires on the
real non-math pages it was written for. Plus the pieces: math spans, logical lines,
normalisation, PII, URL lists, cross-page boilerplate lines, per-rule counters.
"""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from pipeline.clean_analysis import analyse
from pipeline.clean_boilerplate import (
    boilerplate_lines,
    domain_boilerplate,
    line_hash,
    page_line_hashes,
)
from pipeline.clean_c4 import c4_lines
from pipeline.clean_chain import clean_document, clean_partition
from pipeline.clean_fineweb import fineweb_quality
from pipeline.clean_gopher import WordNgrams, gopher_quality, gopher_repetition, words_with_formulas
from pipeline.clean_rules import PAGE_RULES, READS_TEXT
from pipeline.clean_url_lists import load_url_list, parse_url_list
from pipeline.config import CleanConfig, load_config
from pipeline.math_text import count_formula_words, formulas, mask_math, math_spans
from pipeline.pii import EMAIL_PLACEHOLDERS, EMAIL_RE, PIICounts, replace_pii
from pipeline.records import StageStats
from pipeline.text_norm import normalize_text, split_lines

DATA = Path(__file__).parent / "data" / "clean"
CFG = CleanConfig()


def _load(name: str) -> list[dict]:
    return [json.loads(x) for x in (DATA / name).read_text().split("\n") if x]


MATH = _load("math_pages.jsonl")
# the sample WARC's math pages as mathmine's own extractor emits them
EXTRACTED = _load("math_pages_extracted.jsonl")
JUNK = _load("nonmath_pages.jsonl")
# OpenStax sections whose exercise sets repeat their wording ("... where the first term is
# $a_1 = 5$ and the common difference is $d = 3$." x 22)
OPENSTAX = _load("openstax_exercises.jsonl")


def _spans(text: str) -> list[str]:
    return [text[s:e] for s, e in math_spans(text)]


# --- math spans ---------------------------------------------------------------------------------


def test_math_spans_finds_every_delimiter_kind():
    t = (
        r"Let $x$ be real, $$\int_0^1 f\,dx$$ and \(y^2\) with \[z = \frac{a}{b}\]; "
        r"\begin{align} a &= b \\ c &= d \end{align} done."
    )
    assert _spans(t) == [
        "$x$",
        r"$$\int_0^1 f\,dx$$",
        r"\(y^2\)",
        r"\[z = \frac{a}{b}\]",
        r"\begin{align} a &= b \\ c &= d \end{align}",
    ]


def test_math_spans_currency_and_escaped_dollars_are_prose():
    assert _spans("It costs $5 and $10 at the shop.") == []
    assert _spans(r"A \$5 fee and $n$ items, \$3 each") == ["$n$"]
    assert _spans("price: $ 20 $") == []  # pandoc: no space inside the delimiters
    assert _spans("one $x\n\ny$ two") == []  # inline math never crosses a blank line
    assert _spans("$$\na+b\n$$") == ["$$\na+b\n$$"]  # display math may span lines
    # Q&A sites write spaced inline math; it counts when it holds TeX syntax, on one line
    assert _spans(r"so $ q_{1} \cdot p_{1} = \frac{1}{11}$ holds") == [
        r"$ q_{1} \cdot p_{1} = \frac{1}{11}$"
    ]
    assert _spans("pay $ 20 $ now, or $ 5\n and 6 = 7$") == []
    # GSM8K: prices around prose, not a formula from "$20" to "=$"
    gsm = (
        "James earns $20 an hour while working at his main job.  He earns 20% less while "
        "working his second job.\nJames earns 20*.2=$<<20*.2=4>>4 less while working his "
        "second job\nSo he earns 20-4=$<<20-4=16>>16 an hour"
    )
    assert _spans(gsm) == []
    assert _spans("so $2x + 3 = 7$ and $f(x) = \\text{for all real } x$ hold") == [
        "$2x + 3 = 7$",
        "$f(x) = \\text{for all real } x$",
    ]


def test_math_spans_unclosed_openers_do_not_swallow_the_page():
    t = "Unclosed \\( here, a $5 bill. Later $a+b$ and \\[c\\] and $$d$$ then $$ alone"
    assert _spans(t) == ["$a+b$", r"\[c\]", "$$d$$"]


@pytest.mark.parametrize(
    "unit", ["$a ", "$", "$$", "\\(", "\\[", "a$b$", "\\begin{equation}", "\\"]
)
def test_math_spans_pathological_inputs_are_handled(unit):
    """Long runs of unclosed/odd delimiters: a backtracking regex would not come back."""
    text = unit * 50_000
    spans = math_spans(text)
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_real_math_pages_have_their_formulas_found():
    by_source = defaultdict(int)
    for m in MATH:
        by_source[m["source"].split("/")[0]] += len(formulas(m["text"]))
    assert by_source["cp-algorithms-md"] > 500
    assert by_source["planetmath-html"] > 300
    assert by_source["discrete-math-levin-html"] > 500  # MathJax \( \)
    assert by_source["stackmathqa"] > 100


# --- lines and normalisation --------------------------------------------------------------------


def test_split_lines_does_not_split_inside_formulas():
    t = "Consider\n$$\n\\sum_{k=1}^n k\n= \\frac{n(n+1)}{2}\n$$ (1)\nso done.\nNext $a$ is"
    lines = split_lines(t)
    assert [ln.text for ln in lines] == [
        "Consider",
        "$$\n\\sum_{k=1}^n k\n= \\frac{n(n+1)}{2}\n$$ (1)",
        "so done.",
        "Next $a$ is",
    ]
    assert [ln.is_formula for ln in lines] == [False, True, False, False]
    assert lines[3].has_math and not lines[3].ends_with_math
    assert split_lines("where $x>0$.")[0].ends_with_math


def test_normalize_text_leaves_tex_byte_identical():
    prose = "cafe\u0301  au\u00a0lait\u200b\t\tnow"
    tex = "$e\u0301 \\;\\;  x_{1}\u00a0y$"
    t = f"{prose} {tex}\n\n\n\n    indented code();  \nend"
    out = normalize_text(t)
    assert tex in out  # untouched: not NFC'd, spaces kept
    assert out.startswith(unicodedata.normalize("NFC", "cafe\u0301 au lait now "))
    assert "\u200b" not in mask_math(out) and "\u00a0" not in mask_math(out)
    assert "\n\n\n" not in out
    assert "\n    indented code();\n" in out  # indentation of code kept, trailing space gone
    for m in MATH:
        assert formulas(normalize_text(m["text"])) == formulas(m["text"])


# --- math safety on real pages ------------------------------------------------------------------


def with_domain_boilerplate(pages: list[dict]) -> list[dict]:
    """Pages with their domain's cross-page boilerplate hashes, as the Spark stage adds them."""
    from pipeline.urls import registered_domain

    doms = [registered_domain(p["url"]) for p in pages]
    common = domain_boilerplate(
        ((str(i), d, p["text"]) for i, (p, d) in enumerate(zip(pages, doms))), CFG
    )
    return [dict(p, boilerplate_hashes=common.get(d, [])) for p, d in zip(pages, doms)]


@pytest.mark.parametrize("corpus", ["fixtures", "extracted", "openstax"])
def test_no_real_math_page_is_dropped_and_formulas_survive(corpus):
    src = {"fixtures": MATH, "extracted": EXTRACTED, "openstax": OPENSTAX}[corpus]
    pages = with_domain_boilerplate(src)
    total = lost = 0
    for m in pages:
        out, dec = clean_document(m, CFG, all_rules=True)
        fired = [(v.rule, v.reason) for v in dec.verdicts if v.outcome == "drop"]
        assert out is not None and not fired, (m["url"], fired)
        fs = formulas(m["text"])
        total += len(fs)
        lost += sum(1 for f in fs if f not in out["text"])
    assert total > {"fixtures": 3000, "extracted": 1500, "openstax": 800}[corpus]
    assert lost <= total // 100  # >= 99% of formulas still present


@pytest.mark.parametrize(
    "split",
    [
        "dev",
        pytest.param(
            "test",
            marks=pytest.mark.xfail(
                strict=True,
                reason="measured: 5 of 321 test math pages dropped (a PlanetMath index, a "
                "table of polite numbers and a short entry, a MathOverflow thread of short "
                "tokens, an OpenStax chapter opener), 99.6% of formulas kept; the math "
                "relaxations were tuned on dev (make bench-clean)",
            ),
        ),
    ],
)
def test_no_heldout_math_page_is_dropped_and_formulas_survive(split):
    """The recall loop's held-out positives: OpenStax sections, GSM8K word problems with their
    worked arithmetic, PlanetMath entries (some 25 words long), StackMathQA. ``dev`` is the set
    the math relaxations were chosen on; ``test`` is not."""
    from classifiers.seeds import load_heldout

    pages = [r for r in load_heldout(split) if r["label"] == 1]
    assert {r["source"] for r in pages} >= {"openstax", "gsm8k", "planetmath"}
    total = lost = 0
    for m in with_domain_boilerplate(pages):
        out, dec = clean_document(m, CFG)
        assert out is not None, (m["url"], dec.reason)
        fs = formulas(m["text"])
        total += len(fs)
        lost += sum(1 for f in fs if f not in out["text"])
    assert len(pages) > 200 and total > 10_000
    assert lost <= total // 100


def test_worked_arithmetic_is_math_and_nothing_else_is():
    from pipeline.math_text import is_worked_step

    def worked(t: str) -> bool:
        return is_worked_step(split_lines(t)[0].prose)

    for t in (
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.",
        "We calculate first the discount: 80 * 45 / 100 = $<<80*45/100=36>>36",
        "If Y represents the height, Y + 0.20Y = the height of sunflowers from Packet A.",
        "We know the height is 192 inches = Y + 0.20Y or 1.2Y.",
        "so 2 + 2 = 4",
    ):
        assert worked(t), t
    for t in (
        "Posted on 2024/05/01 by admin",
        "Home > 2023 > 05 > news",
        "see https://example.com/?page-id=3&lang=en for details",
        "Last week = 111 texts",
        "Open 24/7, call 555-1234",
    ):
        assert not worked(t), t


def test_math_rich_relaxations_need_the_math():
    """An OpenStax section restates its method's steps in every worked example (duplicated
    5-grams over Gopher's share, repeated lines over FineWeb's): kept as the math page it is,
    dropped once its formulas and worked arithmetic are taken out."""
    from classifiers.seeds import load_heldout
    from pipeline.math_text import _WORKED_STEP

    page = next(r for r in load_heldout() if r["url"].endswith("/m82477"))
    assert clean_document(page, CFG)[0] is not None
    prose = "\n".join(
        _WORKED_STEP.sub(" ", ln) for ln in mask_math(page["text"], fill=" ").split("\n")
    )
    out, dec = clean_document(dict(page, text=prose), CFG)
    assert out is None and dec.reason in ("fineweb_char_dup_ratio", "gopher_dup_5_gram")


def test_generic_rules_would_drop_math_pages():
    """The same checks without the math awareness hurt: what the defaults protect against."""
    curly = dataclasses.replace(CFG, c4_curly_brace=True)
    # C4's curly-brace rule as C4 wrote it: any '{' on the page
    raw_c4 = sum("{" in m["text"] for m in MATH)
    assert raw_c4 >= 0.8 * len(MATH)
    # math-aware when switched on: '{' inside formulas does not count
    kept_tex_only = [m for m in MATH if "{" not in mask_math(m["text"]) and "{" in m["text"]]
    assert len(kept_tex_only) >= 10
    for m in kept_tex_only:
        assert clean_document(m, curly)[0] is not None, m["url"]


def test_formula_lines_are_never_short_unpunctuated_or_boilerplate():
    t = "\n".join(
        ["Theorem. For every $n$ we have"]
        + ["$$\\sum_{k\\le n} k = \\binom{n+1}{2}$$"] * 5
        + ["and the proof is by induction on $n$, which we leave to the reader as usual."] * 1
    )
    lines = split_lines(t)
    hashes = {line_hash(ln.text) for ln in lines}
    kept, removed = boilerplate_lines(lines, hashes)
    assert [ln.text for ln in removed] == ["Theorem. For every $n$ we have"][0:0]
    assert len(kept) == len(lines)  # lines with math are never boilerplate
    kept, removed = c4_lines(
        lines, dataclasses.replace(CFG, c4_terminal_punct=True, c4_min_words_per_line=3)
    )
    assert removed == []
    a = analyse(t)
    assert gopher_repetition(t, "", CFG, a) is None  # a repeated display formula is no duplicate


def test_number_sequences_and_arithmetic_count_as_words():
    """OEIS-style sequences and plain-text arithmetic are math, not a table of numbers."""
    seq = "sigma(8n+1) mod 4 starts: " + ", ".join(str(i % 4) for i in range(16))
    prose = "We look at the sum of divisors and the partitions of the number with this rule."
    t = "\n".join([prose, seq, prose.replace("rule", "law"), seq.replace("8n", "4n"), prose])
    assert gopher_quality(t, "", CFG) is None
    table = "\n".join([prose] + ["  ".join(str(i * j) for j in range(12)) for i in range(8)])
    assert gopher_quality(table, "", CFG) in (
        "gopher_below_avg_word_length",
        "gopher_below_alpha_threshold",
    )


def test_exercise_wording_is_not_gopher_repetition():
    """Measured on every word (as datatrove does), the exercise wording of a real OpenStax
    section is over Gopher's duplicated 5-gram share; on prose lines only it is not."""
    page = next(p for p in OPENSTAX if p["url"].endswith("m81418"))
    text = normalize_text(page["text"])
    a = analyse(text)
    every_word = WordNgrams(mask_math(text, fill=" \x00 ").replace("\x00", "").split())
    assert every_word.dup_chars(5) / len(text) > CFG.dup_ngram_fracs[0]
    assert WordNgrams(words_with_formulas(a)).dup_chars(5) / len(text) < CFG.dup_ngram_fracs[0]
    assert gopher_repetition(text, page["url"], CFG, a) is None


def test_count_formula_words():
    assert count_formula_words("$x^2+17x+29=0$") == 6  # x 2 17 x 29 0
    assert count_formula_words("$\\left( a \\right)$") == 1
    assert count_formula_words("$$\\int_0^1 f(x)\\,dx$$") >= 4


# --- rules on real junk -------------------------------------------------------------------------


def _fired() -> dict[str, Counter]:
    out: dict[str, Counter] = defaultdict(Counter)
    for d in JUNK:
        text = normalize_text(d["text"])
        a = analyse(text)
        for rule in PAGE_RULES:
            r = rule.apply(text, d["url"], CFG, a) if rule.reads == READS_TEXT else None
            if r:
                out[r][d["kind"]] += 1
    return out


FIRED = _fired()


@pytest.mark.parametrize(
    "reason, kinds, at_least",
    [
        ("fineweb_line_punct_ratio", {"sports-stats-tables", "legal-court-listing"}, 8),
        ("gopher_below_avg_word_length", {"sports-stats-tables"}, 3),
        ("gopher_below_alpha_threshold", {"sports-stats-tables", "slides"}, 2),
        ("gopher_short_doc", {"search-results-page", "programming-docs-javadoc"}, 5),
        ("gopher_top_2_gram", {"search-results-page", "programming-docs-javadoc", "video-page"}, 3),
        ("gopher_dup_5_gram", {"legal-court-docket", "programming-docs-javadoc"}, 1),
        ("gopher_few_stop_words", {"ecommerce-product"}, 2),
        ("fineweb_list_ratio", {"programming-docs-javadoc"}, 3),
        ("fineweb_char_dup_ratio", {"programming-qa", "programming-docs-sphinx"}, 2),
        ("fineweb_short_line_ratio", {"search-results-page", "ecommerce-product"}, 2),
        ("gopher_too_many_end_ellipsis", {"search-results-page"}, 1),
    ],
)
def test_rule_fires_on_the_real_junk_it_targets(reason, kinds, at_least):
    hits = FIRED.get(reason, Counter())
    assert sum(hits[k] for k in kinds) >= at_least, dict(hits)


def test_table_pages_are_dropped_but_not_by_math_rules():
    sports = [d for d in JUNK if d["kind"] == "sports-stats-tables"]
    assert len(sports) >= 5
    for d in sports:
        out, dec = clean_document(d, CFG)
        assert out is None, d["source"]


def test_c4_lines_remove_policy_and_javascript_lines_on_real_pages():
    removed = []
    for d in JUNK:
        _, dec = clean_document(d, CFG)
        removed += [line for rule, line in dec.removed_lines() if rule == "c4_lines"]
    assert any("terms of service" in x.lower() for x in removed)  # Stack Overflow footer
    assert any("cookies" in x.lower() for x in removed)
    assert any("javascript" in x.lower() for x in removed)
    # but a sentence with a formula that mentions Javascript stays (real PlanetMath entry)
    pm = next(m for m in MATH if "Javascript implementation" in m["text"])
    out, dec = clean_document(pm, CFG)
    assert "Javascript implementation" in out["text"]


def test_lorem_ipsum_and_curly_brace_page_rules():
    page = next(d for d in JUNK if clean_document(d, CFG)[0] is not None)
    prose = page["text"]
    lorem = prose + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit."
    assert clean_document({"text": lorem, "url": ""}, CFG)[1].reason == "c4_lorem_ipsum"
    on = dataclasses.replace(CFG, c4_curly_brace=True)
    with_code = prose + "\nfunction f() { return 1; }"
    assert clean_document({"text": with_code, "url": ""}, on)[1].reason == "c4_curly_brace"
    with_tex = prose + "\nThus $\\frac{a}{b}$ holds."
    assert clean_document({"text": with_tex, "url": ""}, on)[0] is not None
    assert clean_document({"text": with_code, "url": ""}, CFG)[0] is not None  # off by default


def test_gopher_quality_counts_formulas_as_words_not_symbols():
    prose = "Let the sequence be defined and we have that the limit exists with"
    words = prose.split()
    # 12 prose words + formulas: too short for Gopher if formulas were ignored
    t = prose + " " + " ".join(f"$a_{{{i}}} + b_{{{i}}} = c_{{{i}}}$" for i in range(20)) + "."
    assert gopher_quality(t, "", CFG) is None
    assert gopher_quality(prose + ".", "", CFG) == "gopher_short_doc"
    assert len(words) < CFG.min_words
    # '#' inside formulas is not a hashtag
    t2 = " ".join([prose + " $\\#S = |S|$ and $\\#T$."] * 5)
    assert gopher_quality(t2, "", CFG) is None
    t3 = " ".join([prose + " #tag #more #fun."] * 5)
    assert gopher_quality(t3, "", CFG) == "gopher_too_many_hashes"


def test_fineweb_counts_formula_lines_as_punctuated():
    lines = ["Proof sketch follows here for the claim"] + [
        f"$$x_{{{i}}} = {i}$$" for i in range(10)
    ]
    assert fineweb_quality("\n".join(lines), "", CFG) is None
    junk = "\n".join(["Home", "Products", "About us", "Contact", "Login", "Cart"] * 3)
    assert fineweb_quality(junk, "", CFG) in (
        "fineweb_line_punct_ratio",
        "fineweb_short_line_ratio",
    )


# --- PII ----------------------------------------------------------------------------------------


def test_pii_replaces_emails_and_public_ips_outside_math():
    c = PIICounts()
    t = "Mail jane.doe@uni.edu or ops@example.net from 8.8.8.8, not 192.168.1.1 or 127.0.0.1."
    out = replace_pii(t, counts=c)
    assert "jane.doe@uni.edu" not in out and "ops@example.net" not in out
    assert "email@example.com" in out and "firstname.lastname@example.org" in out
    assert "8.8.8.8" not in out and "192.168.1.1" in out and "127.0.0.1" in out
    assert (c.emails, c.ips) == (2, 1)
    tex = "$a@b.cd$ and $8.8.8.8$"
    assert replace_pii(tex) == tex
    assert (
        replace_pii("Section 1.2.3.4.5 and version 10.0.0.1.2")
        == "Section 1.2.3.4.5 and version 10.0.0.1.2"
    )


def test_pii_on_real_pages():
    hits = 0
    for d in JUNK:
        out, dec = clean_document(d, dataclasses.replace(CFG, fineweb_lines=False))
        if dec.pii_emails:
            hits += 1
            left = set(EMAIL_RE.findall(mask_math(out["text"])))
            assert left <= set(EMAIL_PLACEHOLDERS), left
    assert hits >= 1


# --- URL lists ----------------------------------------------------------------------------------


def test_default_blocklist_blocks_by_url_word_and_spares_math_urls():
    bl = load_url_list(
        str(Path(__file__).parent.parent / "pipeline" / "data" / "url_blocklist.txt")
    )
    assert len(bl.words) > 150 and len(bl.substrings) > 100
    assert bl.match("https://www.example.com/free-porn-videos/1") == "word"
    assert bl.match("https://example.com/watch/bigtits-here") == "substr"
    for m in MATH + JUNK:
        assert bl.match(m["url"]) is None, m["url"]


def test_custom_block_and_allow_lists(tmp_path):
    block = tmp_path / "block.txt"
    block.write_text("# mine\nspam.example\nword:casino\n")
    allow = tmp_path / "allow.txt"
    allow.write_text("kept.example\n")
    lst = parse_url_list(block.read_text().splitlines())
    assert lst.match("http://a.b.spam.example/x") == "domain"
    assert lst.match("http://notspam.example/x") is None
    cfg = dataclasses.replace(CFG, url_blocklist=str(block), url_allowlist=str(allow))
    junk = next(d for d in JUNK if d["kind"] == "sports-stats-tables")
    out, dec = clean_document(dict(junk, url="https://spam.example/p"), cfg)
    assert dec.reason == "url_blocklist_domain"
    out, dec = clean_document(dict(junk, url="https://www.kept.example/stats"), cfg)
    assert out is not None  # allowlisted: the quality rules are bypassed
    assert dec.verdicts[0].outcome == "bypass"
    cfg_missing = dataclasses.replace(CFG, url_blocklist=str(tmp_path / "nope.txt"))
    from pipeline.errors import UserError

    with pytest.raises(UserError):
        clean_document(junk, cfg_missing)


# --- boilerplate, stage counters, config -------------------------------------------------------


def test_domain_boilerplate_counts_each_page_once_and_only_pages_with_a_domain():
    """The plain-Python count of the clean stage: a page id counts once (Spark counts distinct
    ids), a page without a registered domain never counts."""
    pm = [m for m in MATH if m["url"].startswith("https://planetmath.org/")]
    k = CFG.boilerplate_min_pages
    assert len(pm) >= k
    first = [(m["url"], "planetmath.org", m["text"]) for m in pm[: k - 1]]
    assert domain_boilerplate(first, CFG) == {"planetmath.org": []}
    again = first + [first[0]]  # the same page twice is still k - 1 pages
    assert domain_boilerplate(again, CFG) == {"planetmath.org": []}
    more = first + [(pm[k - 1]["url"], "planetmath.org", pm[k - 1]["text"])]
    common = domain_boilerplate(more, CFG)["planetmath.org"]
    assert common and common == sorted(common)
    assert domain_boilerplate([(u, "", t) for u, _, t in more], CFG) == {}


def test_boilerplate_hashes_and_removal_on_real_planetmath_pages():
    pm = [m for m in MATH if m["url"].startswith("https://planetmath.org/")]
    common = domain_boilerplate(((m["url"], "planetmath.org", m["text"]) for m in pm), CFG)
    common = set(common["planetmath.org"])
    assert common
    for m in pm:
        out, dec = clean_document(dict(m, boilerplate_hashes=sorted(common)), CFG)
        removed = [x for r, x in dec.removed_lines() if r == "boilerplate_lines"]
        assert all("$" not in x for x in removed)
        if "Numerical id" in m["text"]:
            assert any(x.startswith("Numerical id") for x in removed)
        assert formulas(out["text"]) == formulas(normalize_text(m["text"]))


def test_boilerplate_keeps_math_structure_labels():
    """On a textbook site "Solution." and "Example 1.2.3." recur on every page; they stay,
    while a navigation line that recurs as often goes."""
    topics = ["apples", "pears", "socks", "books", "coins", "cards"]
    pages = [
        f"Skip to main content\nExample 1.{i}.{i}.\nCount the ways to pick {t}.\n"
        f"Solution.\nThere are $\\binom{{n}}{{{i}}}$ ways.\nCompute {i} + {i + 1} = {2 * i + 1}."
        for i, t in enumerate(topics)
    ]
    counts = Counter()
    for p in pages:
        counts.update(page_line_hashes(p))
    common = {h for h, n in counts.items() if n >= 5}
    assert common == {line_hash("Skip to main content")}
    kept, removed = boilerplate_lines(split_lines(pages[0]), common)
    assert [ln.text for ln in removed] == ["Skip to main content"]
    assert "Solution." in [ln.text for ln in kept]
    assert "Compute 0 + 1 = 1." in [ln.text for ln in kept]


def test_clean_partition_counts_per_rule_and_reconciles():
    stats = StageStats("clean")
    kept = list(clean_partition(MATH + JUNK, CFG, stats))
    assert stats.reconciles()
    assert stats.records_read == len(MATH) + len(JUNK)
    assert stats.kept == len(kept) >= len(MATH)
    assert len(stats.dropped) >= 6  # drops are named per rule
    assert stats.extra["lines_removed_c4_lines"] > 0
    assert stats.extra["lines_in"] >= stats.extra["lines_out"]


def test_clean_disabled_keeps_everything():
    off = dataclasses.replace(CFG, enabled=False)
    stats = StageStats("clean")
    assert len(list(clean_partition(JUNK, off, stats))) == len(JUNK)


def test_clean_config_keys_load_and_override():
    c = load_config(None, ["clean.c4_curly_brace=true", "clean.top_ngram_fracs=0.3,0.2,0.1"]).clean
    assert c.c4_curly_brace is True
    assert c.top_ngram_fracs == (0.3, 0.2, 0.1)


def _careful_markdown(name: str, url: str) -> str:
    """trafilatura's Markdown of a real PlanetMath page of tests/data/html, as the careful
    path's extractor writes it before the careful DOM is prepared (pipeline.html_text no
    longer feeds it the hidden <sup> elements that make its "<sup>" runs)."""
    import gzip

    from pipeline.html_text import _trafilatura

    html = gzip.open(Path(__file__).parent / "data" / "html" / name).read().decode()
    return _trafilatura(html, url)


def test_markdown_layout_of_the_careful_text_is_not_prose():
    """Table pipes, table separator rows, heading marks and <sup> tags are layout: the prose
    rules do not count them as non-alphabetic words, hashtags or sentence ends."""
    from pipeline.clean_analysis import ends_punctuated

    text = _careful_markdown(
        "planetmath_MarkovNumber.html.gz", "https://planetmath.org/11d72-markovnumber"
    )
    lines = split_lines(text)
    rows = [ln for ln in lines if ln.text.startswith("| ")]
    sep = [ln for ln in lines if ln.text.startswith("|---")]
    heads = [ln for ln in lines if ln.text.startswith("#")]
    sups = [ln for ln in lines if ln.text.rstrip().endswith("</sup>")]
    assert len(rows) >= 10 and sep and heads and sups  # the page's real Markdown
    assert [ln for ln in rows if ln.has_math]  # LaTeXML equation tables, as rows
    assert all("|" not in ln.prose for ln in rows)
    assert all(ln.prose.split() for ln in rows if not ln.has_math)
    assert all(not ln.prose.strip() for ln in sep)
    assert all("#" not in ln.prose for ln in heads)
    assert all("<sup>" not in ln.prose and ends_punctuated(ln) for ln in sups)
    a = analyse(text)
    assert not {"|", "|---|---|", "#", "##"} & set(a.prose_words)
    assert gopher_quality(text, "", CFG) is None and gopher_repetition(text, "", CFG) is None
    # the same characters outside Markdown layout are prose, as before
    for t in ("a | b is a pipe in prose", "#hashtag #another"):
        assert split_lines(t)[0].prose == t


def test_words_for_ngrams_skip_table_pipes():
    text = _careful_markdown(
        "planetmath_GeometricMean.html.gz", "https://planetmath.org/geometricmean"
    )
    assert "| Classification |" in text or "| Title |" in text
    assert "|" not in [w for w in words_with_formulas(analyse(text)) if w is not None]
