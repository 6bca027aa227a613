"""Turn a document into one fastText input line.

fastText splits on whitespace only, so LaTeX and punctuation are spaced out here: ``\\frac{a}{b}``
becomes ``\\frac { a } { b }`` and ``\\frac`` is a token of its own, which is exactly the kind of
feature that separates math from prose. The extractor's math markup (MathJax/KaTeX/MathML seen,
number of formulas recovered) is a strong signal (DESIGN.md), so it is prepended as tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_WORDS = 2000  # scoring reads the first 2,000 words: enough to decide, bounded cost per doc

_LATEX_CMD = re.compile(r"\\[A-Za-z]+")
_SPLIT = re.compile(r"(\\[A-Za-z]+|[^\w\s\\]|\\)", re.UNICODE)
_WS = re.compile(r"\s+")
# $..$, $$..$$, \(..\), \[..\] and environments: what the extractor writes for a formula
_FORMULA = re.compile(
    r"\$\$.+?\$\$|\$[^$\n]{1,400}?\$|\\\(.+?\\\)|\\\[.+?\\\]|\\begin\{(equation|align|gather|multline|eqnarray)\*?\}",
    re.S,
)
# bucket edges for the formula-count token: 0, 1, 2-4, 5-19, 20+
_BUCKETS = ((0, "0"), (1, "1"), (4, "2_4"), (19, "5_19"))


def count_formulas(text: str) -> int:
    """Formulas written as LaTeX in ``text`` (for texts that come without the extractor's count)."""
    return sum(1 for _ in _FORMULA.finditer(text))


def formula_bucket(n: int) -> str:
    for edge, name in _BUCKETS:
        if n <= edge:
            return f"__nf_{name}__"
    return "__nf_20p__"


def markup_tokens(text: str, formulas: int = 0, math_markup: Iterable[str] = ()) -> list[str]:
    """Tokens describing the math the page carries, from the extractor and from the text itself.

    The formula count is the larger of the extractor's and the text's own count, so seed texts
    (no extractor metadata) and crawl docs get comparable tokens.
    """
    n = max(int(formulas or 0), count_formulas(text))
    toks = [formula_bucket(n)]
    for kind in sorted({str(m).lower() for m in (math_markup or ()) if m}):
        toks.append(f"__mm_{re.sub(r'[^a-z0-9]+', '_', kind)}__")
    cmds = len(_LATEX_CMD.findall(text))
    if cmds:
        toks.append("__tex_cmds_many__" if cmds >= 10 else "__tex_cmds_few__")
    return toks


def normalize_text(text: str, max_words: int = MAX_WORDS) -> str:
    """Lowercase, space out LaTeX commands and punctuation, collapse whitespace, truncate."""
    words = text.split(maxsplit=max_words)
    if len(words) > max_words:
        words = words[:max_words]
    text = " ".join(words).lower()
    return _WS.sub(" ", _SPLIT.sub(r" \1 ", text)).strip()


def to_fasttext_line(
    text: str, formulas: int = 0, math_markup: Iterable[str] = (), max_words: int = MAX_WORDS
) -> str:
    """One line for fastText: markup tokens, then the normalised text (no newlines)."""
    text = text or ""
    # count on the truncated text so a long page is as cheap as a short one
    head = " ".join(text.split(maxsplit=max_words)[:max_words])
    return (
        " ".join(markup_tokens(head, formulas, math_markup)) + " " + normalize_text(head, max_words)
    )
