"""Adversarial pages and texts: one family per construction that makes a scan super-linear.

Each family is a function ``size -> str`` (a page of about ``size`` characters, or a document
text for the text-level functions) built from a unit repeated: an opener without its closer,
a run of delimiters, or markup that makes a lazy ``.*?`` or two adjacent ``\\s*`` rescan the
rest of the input from every repetition. tests/test_linear_time.py runs every family at two
sizes and checks that the time grows about linearly; ``make reliability`` prints their times
at the largest page the extractor accepts (``extract.max_page_bytes``).

The families come from an audit of every scan of page or document text (pipeline/ and
classifiers/): the regular expressions and loops that run over a whole page or text, and the
inputs on which each could rescan.
"""

from __future__ import annotations

from collections.abc import Callable

from classifiers.features import to_fasttext_line
from pipeline import math_text
from pipeline.clean_boilerplate import page_line_hashes
from pipeline.clean_chain import clean_document
from pipeline.config import CleanConfig, DedupConfig
from pipeline.decontam import tokenize
from pipeline.minhash import minhash_signature
from pipeline.ngram_hash import ngram_hashes, token_hashes
from pipeline.pii import replace_pii
from pipeline.prefilter import judge_page

Family = Callable[[int], str]

_HEAD = "<!doctype html><html><head><title>t</title>{head}</head><body>"
_TAIL = "</body></html>"
PROSE = "<p>" + "A paragraph of ordinary prose about prime numbers and their gaps. " * 4 + "</p>"
MATHJAX = "<script src='https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js'></script>"
KATEX = (
    "<link rel='stylesheet' href='https://cdn.jsdelivr.net/npm/katex/dist/katex.min.css'>"
    "<script src='https://cdn.jsdelivr.net/npm/katex/dist/contrib/auto-render.min.js'></script>"
)


def _fill(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def _page(body: str, head: str = "") -> str:
    return _HEAD.format(head=head) + PROSE + body + PROSE + _TAIL


def _in_p(unit: str, head: str = "") -> Family:
    return lambda size: _page("<p>" + _fill(unit, size) + "</p>", head)


def _config_script(script: str) -> str:
    return f"<script>{script}</script>" + MATHJAX


# --- pages (extract_text, fast and careful) -----------------------------------------------------

PAGE_FAMILIES: dict[str, Family] = {
    # TeX delimiters in the page's text (the formula scanner; careful mode protects them)
    "text: $ openers": _in_p("$a "),
    "text: run of $": _in_p("$"),
    "text: $$ unclosed": lambda n: _page("<p>$$" + _fill("x^", n) + "</p>"),
    "text: \\( openers": _in_p("\\("),
    "text: \\[ and braces": lambda n: _page("<p>\\[" + _fill("{", n) + "</p>"),
    "text: \\begin{align} unclosed": _in_p("\\begin{align}&&&&&&&&&&"),
    "text: run of backslashes": _in_p("\\"),
    "text: run of <": _in_p("&lt;"),
    # what trafilatura's Markdown output (careful mode) scans with regexes of its own
    "text: \\[ after spaces": _in_p(" \\["),
    "text: backslashes before *": lambda n: _page("<p>" + _fill("\\", n) + "x*</p>"),
    "text: `` code spans": _in_p("``x`"),
    "text: runs of * and _": _in_p("*_"),
    # markup that a lazy tag regex rescans from (careful mode's markup split)
    "attr: ><script in attributes": lambda n: _page(_fill("<span title='a><script x'>b</span>", n)),
    "attr: ><!-- in attributes": lambda n: _page(_fill("<span title='a><!-- x'>b</span>", n)),
    # trafilatura merges adjacent bold runs by concatenating into the first (careful mode)
    "html: adjacent <b> elements": lambda n: _page(_fill("<b>b</b>", n)),
    # a page's own MathJax/KaTeX configuration (read from the raw HTML)
    "config: repeated inlineMath:[[": lambda n: _page(
        "", _config_script("MathJax.Hub.Config({tex2jax: {" + _fill("inlineMath:[[", n) + "}});")
    ),
    "config: backslashes in a delimiter": lambda n: _page(
        "", _config_script("MathJax = {tex: {inlineMath: [['" + _fill("\\", n) + "x']]}};")
    ),
    "config: repeated KaTeX {left:": lambda n: _page(
        "",
        f"<script>renderMathInElement(document.body, {{delimiters: [{_fill('{left: ', n)}"
        "]});</script>" + KATEX,
    ),
    "config: custom opener repeated": lambda n: _page(
        "<p>" + _fill("[m]", n) + "</p>",
        _config_script("window.MathJax = {tex: {inlineMath: [['[m]', '[/m]']]}};"),
    ),
    "config: custom pairs, many": lambda n: _page(
        "<p>" + _fill("[m] x ", n // 2) + "</p>",
        _config_script(
            "MathJax = {tex: {inlineMath: ["
            + ",".join(f"['[m{i}]', '[/m{i}]']" for i in range(n // 60))
            + "]}};"
        ),
    ),
    # math markup rewritten in the DOM
    "markup: many <math> elements": lambda n: _page(_fill("<math><mi>x</mi></math> ", n)),
    "markup: deep <math> near the depth limit": lambda n: _page(
        "<div>" * 900 + _fill("<math><mi>x</mi></math>", n - 12_000) + "</div>" * 900
    ),
    "markup: wide MathML": lambda n: _page(
        "<math><mrow>" + _fill("<msup><mi>x</mi><mn>2</mn></msup>", n) + "</mrow></math>"
    ),
    "markup: {\\displaystyle + spaces": lambda n: _page(
        "<math alttext='{\\displaystyle" + " " * n + "x'><mi>x</mi></math>"
    ),
    "markup: MathJax v2 scripts unclosed": lambda n: _page(
        _fill("<script type='math/tex'>", n) + "x", "<script type='text/x-mathjax-config'></script>"
    ),
    "markup: TeX image options": lambda n: _page(
        "<img src='https://latex.codecogs.com/png.latex?" + _fill("\\large ", n) + "x'>"
    ),
    "markup: AsciiMath backticks": lambda n: _page(
        _in_p("`")(n), "<script src='https://cdn.example/ASCIIMathML.js'></script>"
    ),
}


# --- document texts (cleaning, PII, classifier features, dedup, decontamination) ---------------


def _text(unit: str, prefix: str = "", suffix: str = "") -> Family:
    return lambda size: prefix + _fill(unit, size) + suffix


TEXT_FAMILIES: dict[str, Family] = {
    "$ openers": _text("$a "),
    "run of $": _text("$"),
    "spaced $ openers": _text("$ a"),
    "prices": _text("$5 and "),
    "$ + long word": _text("$" + "a" * 1500 + "$5 "),
    "\\( openers": _text("\\("),
    "\\\\( escaped openers": _text("\\\\("),
    "\\[ and braces": _text("{", "\\["),
    "$$ unclosed": _text("x^", "$$"),
    "\\begin{equation} unclosed": _text("\\begin{equation}"),
    "run of backslashes": _text("\\"),
    "escaped dollars": _text("\\$"),
    "$ at the end": _text("a", suffix="$"),
    "newlines": _text("\n"),
    "$ and newlines": _text("$\n"),
    "label + spaces": _text(" ", "Proof", "x"),
    "worked step + spaces": _text(" ", "1 =", "x"),
    "arithmetic + spaces": _text(" ", "1", "x"),
    "long number": _text("1", suffix="x"),
    "numbers and commas": _text("1,", suffix="x"),
    "e-mail local part": _text("a-", suffix="@"),
    "e-mail dotted": _text("a.", suffix="@"),
    "e-mail domain": _text("a-", "x@"),
    "dotted numbers (IPs)": _text("1."),
    "( labels": _text("(1"),
    "run of <": _text("<"),
    "GSM8K annotations": _text("<<", suffix=">"),
    "backticks": _text("`"),
    "one long word": _text("w"),
    "words": _text("word "),
    "TeX commands": _text("\\frac"),
    # Markdown of the careful text: emphasis closing a line, table rows, <sup> tags
    "run of _ before a closing *": _text("_", suffix="x*"),
    "spaces before a table row": _text(" ", suffix="|---x|"),
    "table separator cells": _text("|---", "|", "x|"),
    "unclosed <sup>": _text("<sup>", suffix="</sup"),
    # the first pass's script/text split of raw HTML, with TeX-like dollars on both sides
    "script tags and dollars": _text("<script>$a^b$</script><p>$x_"),
}


# --- the text-level functions, each run on a whole document text -----------------------------


def _math_predicates(text: str) -> None:
    math_text.is_worked_step(text)
    math_text.has_arithmetic(text)
    math_text.has_number_sequence(text)
    math_text.has_tex_command(text)
    math_text.is_math_label(text)
    math_text.count_formula_words(text)


def _clean(text: str) -> None:
    doc = {"id": "x", "url": "https://adversarial.example/page", "text": text}
    clean_document(doc, CleanConfig(), all_rules=True)


def _first_pass(text: str) -> None:
    # the raw bytes of a crawled page, before any parsing (pipeline/prefilter.py)
    judge_page(text.encode("utf-8", "replace"), "https://adversarial.example/page", 1)


def _dedup_and_decontam(text: str) -> None:
    minhash_signature(text, DedupConfig())
    ngram_hashes(token_hashes(tokenize(text)), 10)


# what runs on a document's text after extraction: cleaning (every rule, and the per-line
# hashes of the boilerplate count), PII, the classifier's features, MinHash and decontamination
TEXT_FUNCTIONS: dict[str, Callable[[str], object]] = {
    "first pass (judge_page on the bytes)": _first_pass,
    "math_spans": math_text.math_spans,
    "math predicates on one line": _math_predicates,
    "clean_document (every rule)": _clean,
    "page_line_hashes": page_line_hashes,
    "replace_pii": replace_pii,
    "to_fasttext_line": to_fasttext_line,
    "minhash + decontamination n-grams": _dedup_and_decontam,
}


# --- measuring how the time grows ---------------------------------------------------------------

# Below this many CPU seconds a measurement is timer and cache noise, not a trend.
FLOOR_S = 0.002


def cpu_seconds(fn: Callable[[str], object], arg: str) -> float:
    """CPU seconds of ``fn(arg)`` in this process: time spent waiting for a core on a loaded
    machine is not counted, so other processes do not inflate it."""
    import gc
    import time

    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()
        fn(arg)
        return time.process_time() - t0
    finally:
        gc.enable()


def growth(
    fn: Callable[[str], object],
    family: Family,
    small: int,
    large: int,
    bound: float,
    tries: int = 3,
) -> tuple[float, float, float]:
    """(seconds at ``small``, seconds at ``large``, their ratio) for ``fn`` on ``family``.

    Each size keeps its best time; while the ratio exceeds ``bound`` both are measured again,
    up to ``tries`` times: noise only ever adds time, so the best of a few is the cost. Linear
    work gives a ratio near large/small, quadratic near its square.
    """
    a_in, b_in = family(small), family(large)
    a = b = float("inf")
    for _ in range(tries):
        a = min(a, cpu_seconds(fn, a_in))
        b = min(b, cpu_seconds(fn, b_in))
        ratio = b / max(a, FLOOR_S)
        if ratio <= bound:
            break
    return a, b, ratio
