"""The one formula finder (pipeline.math_text.math_spans): what it calls a formula, that its
fast scanner finds exactly what the definition written plainly finds, and that every use
(extractor column, cleaning, masking, PII, classifier token) counts with it."""

from __future__ import annotations

import gzip
import json
import random
import re

import pytest

from classifiers.features import formula_bucket, markup_tokens, sample_words
from pipeline.html_text import Extraction, extract_text
from pipeline.math_text import (
    MATH_ENVS,
    MAX_DISPLAY_CHARS,
    MAX_INLINE_CHARS,
    count_formulas,
    formulas,
    is_math_label,
    mask_math,
    math_spans,
    split_segments,
    sub_formulas,
)
from pipeline.pii import replace_pii

# --- the definition written plainly (quadratic, obviously in order), as the reference --------

_BEGIN = re.compile(r"\\begin\{([a-zA-Z]{1,20}\*?)\}")
_WORDS3 = re.compile(r"(?<![A-Za-z])[A-Za-z]{2,}[,.;:]?\s+[A-Za-z]{2,}[,.;:]?\s+[A-Za-z]{2,}")


_TOKEN = re.compile(r"\\.?|[{}$]|[^\\{}$]+", re.S)


def _dollar_outside_braces(body: str) -> bool:
    """A ``$`` token where no ``{`` is open (a ``}`` with none open closes nothing)."""
    depth = 0
    for tok in _TOKEN.findall(body):
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth = max(depth - 1, 0)
        elif tok == "$" and depth == 0:
            return True
    return False


def reference_spans(text: str) -> list[tuple[int, int]]:
    n = len(text)

    def unescaped(j: int) -> bool:
        before = text[:j]
        return (len(before) - len(before.rstrip("\\"))) % 2 == 0

    def first(needle: str, start: int) -> int:
        for j in range(start, n - len(needle) + 1):
            if text.startswith(needle, j) and unescaped(j):
                return j
        return -1

    def inline(i: int) -> int:
        j = first("$", i + 1)
        if j == -1 or j - (i + 1) >= MAX_INLINE_CHARS or text[i + 1] == "\n":
            return -1
        body = text[i + 1 : j]
        if "\n\n" in body or text[j + 1 : j + 2].isdigit():
            return -1
        if "\\" not in body and _WORDS3.search(body):
            return -1
        if body[:1] not in " \t\n\r\f\v" and body[-1:] not in " \t\n\r\f\v":
            return j + 1  # pandoc: no space inside either dollar
        if "\n" in body or not body.strip():
            return -1
        tex = set(re.findall(r"[\\^_{}=]", body))
        both_spaced = body[0].isspace() and body[-1].isspace()
        return j + 1 if (tex - {"="}) or (tex and both_spaced) else -1

    out = []
    i = 0
    while i < n:
        if text[i] == "\\":
            end = -1
            if text.startswith("\\(", i):
                j = first("\\)", i + 2)
                end = j + 2 if j != -1 and j - (i + 2) <= MAX_INLINE_CHARS else -1
            elif text.startswith("\\[", i):
                j = first("\\]", i + 2)
                end = j + 2 if j != -1 and j - (i + 2) <= MAX_DISPLAY_CHARS else -1
            elif (b := _BEGIN.match(text, i)) and b.group(1) in MATH_ENVS:
                closer = "\\end{" + b.group(1) + "}"
                j = first(closer, b.end())
                end = j + len(closer) if j != -1 and j - b.end() <= MAX_DISPLAY_CHARS else -1
            if end != -1:
                out.append((i, end))
                i = end
            else:
                i += 2
            continue
        if text[i] == "$":
            run = len(text[i:]) - len(text[i:].lstrip("$"))
            if run >= 3:
                i += run
                continue
            if run == 2:
                j = first("$$", i + 2)
                body = text[i + 2 : j]
                ok = (
                    j != -1
                    and j - (i + 2) <= MAX_DISPLAY_CHARS
                    and body.strip()
                    and not _dollar_outside_braces(body)
                )
                if ok:
                    out.append((i, j + 2))
                if j != -1 and j - (i + 2) <= MAX_DISPLAY_CHARS:
                    i = j + 2  # paired, formula or not
                else:
                    i += 2
                continue
            end = inline(i)
            if end != -1:
                out.append((i, end))
                i = end
                continue
        i += 1
    return out


PIECES = [
    "$",
    "$$",
    "$$$",
    "\\(",
    "\\)",
    "\\[",
    "\\]",
    "a",
    "x^2",
    " ",
    "\n",
    "1",
    "\\",
    "\\$",
    "{",
    "}",
    "=",
    "and the cat",
    "\\begin{align}",
    "\\end{align}",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "\\begin{itemize}",
    "\\end{itemize}",
]


def test_scanner_finds_what_the_plain_definition_finds():
    rnd = random.Random(7)
    for _ in range(6000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 30)))
        assert math_spans(text) == reference_spans(text), repr(text)


def test_scanner_and_definition_agree_on_real_text(data_dir):
    rows = [json.loads(x) for x in (data_dir / "clean" / "math_pages.jsonl").open()]
    for r in rows[:12]:  # the reference is quadratic: the first pages, ~100 KB in all
        assert math_spans(r["text"]) == reference_spans(r["text"]), r["url"]


@pytest.mark.parametrize("cap, opener, closer", [(MAX_INLINE_CHARS, "\\(", "\\)")])
def test_caps_keep_an_unclosed_opener_from_swallowing_the_page(cap, opener, closer):
    near = f"a {opener}{'x' * (cap - 10)}{closer} b"
    far = f"a {opener}{'x' * (cap + 10)}{closer} b"
    assert formulas(near) == [near[2:-2]] and formulas(far) == []
    assert formulas("a $5 note " + "y" * 3 * MAX_INLINE_CHARS + " and $x$") == ["$x$"]


# --- what a formula is --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        # every delimiter kind
        ("Let $x$ be real", ["$x$"]),
        ("so $$\\int_0^1 f\\,dx$$ holds", ["$$\\int_0^1 f\\,dx$$"]),
        ("the root \\(y^2\\) and \\[z = 1\\]", ["\\(y^2\\)", "\\[z = 1\\]"]),
        ("\\begin{align*} a &= b \\end{align*}", ["\\begin{align*} a &= b \\end{align*}"]),
        # amsmath's inner environments are math-mode only: math wherever they stand
        ("\\begin{pmatrix} 0 & 1 \\end{pmatrix}", ["\\begin{pmatrix} 0 & 1 \\end{pmatrix}"]),
        ("\\begin{itemize} \\item x \\end{itemize}", []),
        # prices are prose
        ("It costs $5 and $10 at the shop.", []),
        ("James earns $20 an hour. So he earns 20*.2=$<<20*.2=4>>4 less", []),
        ("The four bags cost $9 x 4 = $<<9*4=36>>36.", []),
        ("Jeannette has $$5$ and $$10$ bills.", []),
        (
            "$$\\text{$C_n$ is odd iff $n=2^j-1$}.\\tag1$$",
            ["$$\\text{$C_n$ is odd iff $n=2^j-1$}.\\tag1$$"],
        ),
        ("Earn $$$ now, $$$ later", []),
        ("A \\$5 fee and $n$ items, \\$3 each", ["$n$"]),
        # spaced $ .. $: Q&A sites (MathJax renders it) when it holds TeX syntax
        ("so $ q_{1} = \\frac{1}{11}$ holds", ["$ q_{1} = \\frac{1}{11}$"]),
        ("so $ q = 1 $ holds", ["$ q = 1 $"]),
        ("pay $ 20 $ now", []),
        # ... but not code with a space on one side of an equals sign (PHP, shell)
        ("$a = $b + $c;", []),
        # inline math never crosses a blank line; display math may span lines
        ("one $x\n\ny$ two", []),
        ("$$\na+b\n$$", ["$$\na+b\n$$"]),
        # two inline formulas side by side are two (TeX, pandoc and MathJax agree)
        ("$K_1=1,$$K_2=1$ chosen", ["$K_1=1,$", "$K_2=1$"]),
        # a backslash escapes: \\[3pt] is a line break with space, not display math
        ("even.\\\\[3pt] Case 1. $m$ odd", ["$m$"]),
        ("a \\\\(b\\\\) c", []),
        # an empty formula is not a formula
        ("$$ $$ and $$$$", []),
    ],
)
def test_what_a_formula_is(text, expected):
    assert formulas(text) == expected


def test_views_of_the_spans_agree():
    text = "Let $f(x) = x^2$ cost $5 and $10. Then $$\\int_0^1 f$$ and \\(a+b\\), fine."
    spans = math_spans(text)
    assert count_formulas(text) == len(spans) == 3
    assert [p for is_math, p in split_segments(text) if is_math] == formulas(text)
    assert "".join(p for _, p in split_segments(text)) == text
    assert sub_formulas(text, lambda f: "F") == mask_math(text, fill="F")
    assert "$5 and $10" in mask_math(text)


def test_structure_labels():
    for label in ("Proof.", "Theorem 2.1 (Bolzano).", "  (iv)  ", "3.", "Examples 1.2.3:"):
        assert is_math_label(label), label
    for line in ("Proof that it works", "The theorem", "Proof" + " " * 500 + "x"):
        assert not is_math_label(line), line


# --- one definition, every use ------------------------------------------------------------------


def test_extractor_column_is_the_count_on_its_own_text(data_dir):
    """``formulas`` of a doc = count_formulas(its text): a count on shard text equals the
    count at extract for the same text (AsciiMath pages add their backtick formulas)."""
    manifest = json.loads((data_dir / "html" / "manifest.json").read_text())
    checked = 0
    for page in manifest["pages"]:
        path = data_dir / "html" / page["file"]
        raw = path.read_bytes()
        html = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
        for mode in ("fast", "careful"):
            res = extract_text(html, url=page["url"], mode=mode)
            assert isinstance(res, Extraction)
            if page["kind"] != "asciimath":
                assert res.formulas == count_formulas(res.text), (page["file"], mode)
                checked += res.formulas
    assert checked > 200


def test_classifier_token_counts_the_same_formulas():
    text = "It costs $5 and $10. " * 3 + "Let $x$ and $y$ and \\(z\\) be reals. " * 2
    head = " ".join(sample_words(text))
    assert markup_tokens(head)[0] == formula_bucket(count_formulas(head)) == "__nf_5_19__"
    # the extractor's count wins when it is larger (seed texts carry none)
    assert markup_tokens(head, formulas=40)[0] == "__nf_20p__"


def test_pii_leaves_exactly_the_formulas_alone():
    text = "Mail a@b.example.com or see $a@b.cd$ and \\(u@v.example.org\\); it costs $5 a@x.com"
    out = replace_pii(text)
    assert formulas(out) == formulas(text) == ["$a@b.cd$", "\\(u@v.example.org\\)"]
    assert out.count("example.") == 3 and "a@b.example.com" not in out
