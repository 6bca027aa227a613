"""The first pass: can this page still become math? Decided on the raw HTML bytes, before any
parsing, so that the pages that cannot skip the expensive work (charset decoding, the DOM,
main-content extraction, language id, MinHash).

OpenWebMath prefilters raw HTML the same way (Paster et al. 2023, §3.1: MathJax/KaTeX/MathML
markup, TeX delimiters, the word "math"); MegaMath extracts fast and re-extracts candidates.
A page passes on the first evidence found, cheapest first:

1. ``markup``: math markup or its loaders (MathJax, KaTeX, MathML, TeX images, AsciiMath,
   StackExchange ``math-container``): everything :mod:`pipeline.math_markup` can rewrite;
2. ``tex``: TeX written as text: ``\\(``, ``\\[``, ``$$``, ``\\begin{``, a TeX control word
   (``\\frac``, ``\\alpha``...), or ``$..$`` around a TeX character (prices are not TeX);
3. ``url`` / ``title``: a math word in the URL or the ``<title>`` (``algebra``, ``theorem``...:
   math sites, homework and worksheet pages);
4. ``arithmetic``: worked arithmetic (``48/2 = 24``, ``3 × 4 = 12``), math symbols (``≤``, ``∑``,
   ``√``, ``x²``);
5. ``words``: at least ``min_math_words`` distinct math words (``equation``, ``integer``,
   ``fraction``...) anywhere in the bytes: plain-text math (word problems, textbook openers).

Only ASCII bytes are compared, so any ASCII-compatible charset (UTF-8, Latin-1, Windows-125x,
Shift-JIS, GB18030...) reads the same; a page whose first bytes hold NUL (UTF-16/32) is passed
unjudged. The vocabulary is English: with ``extract.langs`` other than ``[en]``, non-English
pages without markup or TeX are judged by their URL, title and arithmetic only.

What the first pass loses is measured, never assumed: a deterministic ``sample_rate`` share of
ruled-out pages (by a hash of the URL) is still extracted in full and kept with ``first_pass``
= ``sampled``, so later recall iterations can use them as negatives and the run can count how
many of them the classifier would have selected (``make bench`` prints the loss on held-out
math pages, dev and test named, and the formulas lost on the math pages we have).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# docs/ column ``first_pass``: why the page was extracted
PASSED = "passed"  # the first pass found math evidence
SAMPLED = "sampled"  # ruled out, extracted anyway as part of the measured random sample
UNJUDGED = "unjudged"  # the first pass is off, or the page was fetched by mathmine expand

# 1. markup, in the lowercased bytes: every kind pipeline.math_markup rewrites announces itself
# with one of these in the page source (its selectors' class names, script types and sources).
# One regex with a literal prefix runs at memchr speed; the rest are plain substring scans.
_MATH_MARKUP = re.compile(rb"math(?:jax|ml|/tex|-container|-element)")
_MARKUP = (b"katex", b"<math", b"codecogs", b"mimetex", b"tex.cgi", b"mjx-")
# 2. TeX as text. A control word must be one TeX has and prose/code rarely writes (JS and
# regexes write \n, \t, \d, \s, \u, \w, \b: none of these).
_TEX = re.compile(
    rb"\\(?:begin\{|frac|dfrac|tfrac|sqrt|sum|prod|int|oint|lim|infty|partial|nabla|cdot|times|"
    rb"div|pm|mp|leq?|geq?|neq|approx|equiv|sim|subset|subseteq|cup|cap|in|notin|forall|exists|"
    rb"mathbb|mathrm|mathcal|mathbf|mathfrak|operatorname|left|right|binom|choose|over|"
    rb"alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|"
    rb"nu|xi|pi|rho|sigma|tau|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Sigma|Phi|Psi|"
    rb"Omega|log|ln|sin|cos|tan|exp|det|ldots|cdots|vec|hat|bar|overline|underline|text|"
    rb"quad|qquad|to|rightarrow|Rightarrow|mapsto|iff|implies)(?![A-Za-z])"
)
# $..$ around a TeX character, on one line, without markup inside, and closed where TeX closes
# (not before a word, '(' or '.x': jQuery's ``$list = $(...)``); a price pair ("$5 and $10")
# has no TeX character between its dollars
_DOLLAR_TEX = re.compile(rb"\$[^$\s<>][^$\n<>]{0,300}\$(?![\w$({\[]|\.\w)")
_TEX_CHARS = re.compile(rb"[\\^_{}=]")
# a dollar span of script or template code, not TeX
_CODE_IN_DOLLARS = re.compile(rb"[;'\"`]|&&|\|\||==|=>|\)\.|function|\\u00|&quot")
# 3. a math word in the URL or the title: one is enough
_TOPIC_WORDS = re.compile(
    rb"math|algebra|calculus|geometr|trigonometr|theorem|lemma|equation|arithmetic|integral|"
    rb"derivative|fraction|polynomial|probabilit|statistic|homework|worksheet|olympiad|"
    rb"combinator|topology|number-theory|number_theory|physics|formula|proof"
)
_TITLE = re.compile(rb"<title[^>]*>([^<]{0,400})")
_HEAD_BYTES = 1 << 16  # where a page's <title> is (a head past 64 KB is rare and still judged)
# 4. worked arithmetic: a number, an operator, a number, '=' and a number. Found from the '='
# (a regex starting with a digit class tries every digit of the page: 4x slower), then the
# 40 bytes before it are checked.
_EQUALS = re.compile(rb"=\s?-?\$?\d")  # a literal first byte: scanned at memchr speed
_OPS = (
    rb"(?:[-+*/x\xd7\xf7^]|\xc3\x97|\xc3\xb7|\xe2\x88\x92|&times;|&divide;|&minus;|&#215;|&#247;)"
)
_BEFORE_EQUALS = frozenset(bytes([c]) for c in b"0123456789) ")
_OPERATION = re.compile(rb"\d\s?" + _OPS + rb"\s?\(?\d+(?:\.\d+)?\)?\s?$")
# math symbols: U+2200-U+22FF (for all, sums, roots, integrals, relations) in UTF-8, entities
_SYMBOLS = re.compile(rb"\xe2[\x88-\x8b]")
_SYMBOL_ENTITIES = re.compile(
    rb"&(?:le|ge|ne|sum|int|radic|infin|part|forall|exist|isin|prod|asymp|equiv|nabla);"
)
# 5. math words in the page: bytes lowercased, non-letters to spaces, split, intersected. Only
# words whose other senses are rare on the web: not "integer" (every API doc, 108 of 892 real
# non-math pages), "fraction(s)"/"denominator" alone (recipe plugins' scaling scripts: 23),
# "derivative" (legal and finance), "inequality" (social), "geometry" (bikes, SQL types),
# "factorial", "lemma" (code samples, linguistics).
_LETTERS = bytes(c if 97 <= c <= 122 else (c + 32 if 65 <= c <= 90 else 32) for c in range(256))
_BODY_WORDS = frozenset(
    (
        b"algebra arithmetic calculus trigonometry theorem theorems corollary equation equations "
        b"inequalities polynomial polynomials quadratic integers fractions numerator exponents "
        b"logarithm logarithms eigenvalue eigenvalues perimeter circumference hypotenuse parabola "
        b"divisible divisors multiplication subtraction mathematics mathematical"
    ).split()
)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    evidence: str  # the first evidence found ('' when ruled out)
    words: int = 0  # distinct math words counted (only when it came to counting)


def judge_page(body: bytes, url: str, min_math_words: int) -> Verdict:
    """Whether a page may be math, from its raw bytes and URL (see the module docstring)."""
    if b"\x00" in body[:1024]:
        return Verdict(True, "unjudged")  # UTF-16/32: no ASCII view of the bytes
    low = body.lower()
    # img latex.php / img.latex / codecogs' latex, but not CSS's translateX (lowercased)
    if (
        _MATH_MARKUP.search(low)
        or any(m in low for m in _MARKUP)
        or low.count(b"latex") > low.count(b"translatex")
    ):
        return Verdict(True, "markup")
    if (b"\\" in body and _TEX.search(body)) or b"$$" in body or _dollar_tex(body):
        return Verdict(True, "tex")
    if _TOPIC_WORDS.search(url.lower().encode("utf-8", "replace")):
        return Verdict(True, "url")
    title = _TITLE.search(low, 0, _HEAD_BYTES)
    if title and _TOPIC_WORDS.search(title.group(1)):
        return Verdict(True, "title")
    if _arithmetic(body) or len(_SYMBOLS.findall(body)) + len(_SYMBOL_ENTITIES.findall(low)) >= 2:
        return Verdict(True, "arithmetic")
    words = len(_BODY_WORDS.intersection(low.translate(_LETTERS).split()))
    if words >= min_math_words:
        return Verdict(True, "words", words)
    return Verdict(False, "", words)


def _dollar_tex(body: bytes) -> bool:
    if b"$" not in body:
        return False
    for m in _DOLLAR_TEX.finditer(body):
        span = m.group()
        if _TEX_CHARS.search(span) and not _CODE_IN_DOLLARS.search(span):
            return True
    return False


def _arithmetic(body: bytes) -> bool:
    for m in _EQUALS.finditer(body):
        i = m.start()
        # most '=' before a digit are URL queries and code (id=3, w=300): no digit, space or ')'
        # before them
        if body[i - 1 : i] in _BEFORE_EQUALS and _OPERATION.search(body, max(0, i - 40), i):
            return True
    return False


def in_sample(url: str, rate: float) -> bool:
    """Deterministic: the same URL is in the sample of ruled-out pages in every run."""
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    h = int.from_bytes(hashlib.blake2b(url.encode("utf-8", "replace"), digest_size=8).digest())
    return h < rate * (1 << 64)
