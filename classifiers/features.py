"""Turn a document into one fastText input line.

fastText splits on whitespace only, so LaTeX and punctuation are spaced out here: ``\\frac{a}{b}``
becomes ``\\frac { a } { b }`` and ``\\frac`` is a token of its own, which is exactly the kind of
feature that separates math from prose. The extractor's math markup (MathJax/KaTeX/MathML seen,
number of formulas recovered) is a strong signal (DESIGN.md), so it is prepended as tokens.

Formula delimiters are written one way before tokenising: ``\\(..\\)`` as ``$..$`` and
``\\[..\\]`` as ``$$..$$``. How a formula is delimited says where the text came from, not whether
it is math: the training texts (TeX, Markdown, StackExchange, OpenStax's linearised MathML) write
``$``, MathJax pages on the web (PreTeXt books, many course notes) write ``\\(``, and fastText
read ``\\(`` as the tokens ``\\`` and ``(``, which no training text has between formulas. Measured
(benchmarks/bench_recall.py, sample pages scored by a model trained on the bundled data): 26 of
53 pages of Levin's Discrete Mathematics (MathJax, ``\\(``, 15-600 formulas each) scored >= 0.5
before, 44 after; dev and test unchanged (their texts write ``$``). Repeating the markup tokens
10 or 20 times instead (so that one token among 500 words weighs more) left the Levin pages at
25-26 of 53: the delimiters, not the weight of the markup tokens, were what the model missed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.config import RecallConfig
from pipeline.math_text import formula_body, math_spans

MAX_WORDS = RecallConfig.max_words  # words of a doc the classifier reads: why in the schema
CHUNKS = 4  # ... taken as this many evenly spaced runs (skips a page's opening navigation)
SCAN_FACTOR = 20  # ... from its first 20 x 500 words (bounds the split of a huge page)

_LATEX_CMD = re.compile(r"\\[A-Za-z]+")
# bucket edges for the formula-count token: 0, 1, 2-4, 5-19, 20+
_BUCKETS = ((0, "0"), (1, "1"), (4, "2_4"), (19, "5_19"))


def formula_bucket(n: int) -> str:
    for edge, name in _BUCKETS:
        if n <= edge:
            return f"__nf_{name}__"
    return "__nf_20p__"


def markup_tokens(
    text: str,
    formulas: int = 0,
    math_markup: Iterable[str] = (),
    spans: list[tuple[int, int]] | None = None,
) -> list[str]:
    """Tokens describing the math the page carries, from the extractor and from the text itself.

    The formula count is the larger of the extractor's and the text's own count (both by
    :func:`pipeline.math_text.math_spans`, the one definition of a formula), so seed texts
    (no extractor metadata) and crawl docs get comparable tokens. ``spans``: the text's formula
    spans when the caller has them already.
    """
    n = max(int(formulas or 0), len(math_spans(text) if spans is None else spans))
    toks = [formula_bucket(n)]
    for kind in sorted({str(m).lower() for m in (math_markup or ()) if m}):
        toks.append(f"__mm_{re.sub(r'[^a-z0-9]+', '_', kind)}__")
    cmds = len(_LATEX_CMD.findall(text))
    if cmds:
        toks.append("__tex_cmds_many__" if cmds >= 10 else "__tex_cmds_few__")
    return toks


def _spacing_table() -> dict[int, str]:
    # str.translate is ~10x faster than a regex substitution over a 2,000-word page; it spaces
    # out ASCII punctuation and common Unicode punctuation, and starts a token at each
    # backslash so ``\\frac{a}`` -> ``\\frac { a }``
    table = {ord(c): f" {c} " for c in "!\"#$%&'()*+,-./:;<=>?@[]^_`{|}~"}
    for c in (
        "\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u00b7\u00d7\u00f7\u2212\u2264\u2265\u2260\u221e"
    ):
        table[ord(c)] = f" {c} "
    table[ord("\\")] = " \\"
    return table


_SPACING = _spacing_table()


def sample_words(text: str, max_words: int = MAX_WORDS) -> list[str]:
    """At most ``max_words`` words of ``text``: all of a short text; of a long one, CHUNKS evenly
    spaced runs from its first ``SCAN_FACTOR * max_words`` words.

    Web pages often open with navigation (a textbook page's table of contents is hundreds of
    words): on the bundled sample, the first 500 words found 17 of 52 math textbook pages,
    four spread-out runs of 125 words found 33, as many as the first 2,000 words (34), at the
    cost of 500.
    """
    words = text.split(maxsplit=SCAN_FACTOR * max_words)
    if len(words) > SCAN_FACTOR * max_words:
        words = words[: SCAN_FACTOR * max_words]
    if len(words) <= max_words or max_words < CHUNKS:
        return words[:max_words]
    run = max_words // CHUNKS
    step = len(words) // CHUNKS
    return [w for i in range(CHUNKS) for w in words[i * step : i * step + run]]


def dollar_delimiters(text: str, spans: list[tuple[int, int]] | None = None) -> str:
    """``text`` with ``\\(..\\)`` formulas as ``$..$`` and ``\\[..\\]`` ones as ``$$..$$`` (the
    delimiters the training texts use; see the module docstring). ``spans``: its formula spans
    (:func:`pipeline.math_text.math_spans`) when the caller has them already."""
    spans = math_spans(text) if spans is None else spans
    out, last = [], 0
    for a, b in spans:
        if text.startswith(("\\(", "\\["), a):
            dollars = "$" if text[a + 1] == "(" else "$$"
            out += [text[last:a], dollars, formula_body(text[a:b]), dollars]
            last = b
    return "".join(out) + text[last:] if out else text


def to_fasttext_line(
    text: str, formulas: int = 0, math_markup: Iterable[str] = (), max_words: int = MAX_WORDS
) -> str:
    """One line for fastText: markup tokens, then the normalised text (no newlines)."""
    # markup counted on the sampled words so a long page is as cheap as a short one
    head = " ".join(sample_words(text or "", max_words))
    spans = math_spans(head)
    body = " ".join(dollar_delimiters(head, spans).lower().translate(_SPACING).split())
    return " ".join(markup_tokens(head, formulas, math_markup, spans)) + " " + body
