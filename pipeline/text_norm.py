"""Logical lines and Unicode/whitespace normalisation that leaves TeX untouched.

Every cleaning rule looks at text through :func:`math_spans`: what sits inside ``$..$``,
``$$..$$``, ``\\(..\\)``, ``\\[..\\]`` or a display-math environment is a formula, not prose.
Formulas are not symbols, their newlines do not split lines, and a line made only of formulas
is a *formula line* that no line rule may call short or unpunctuated.

Formulas are found by :func:`pipeline.math_text.math_spans` (the project's one definition),
in time linear in the text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pipeline.math_text import mask_math, math_spans, split_segments

# ---------------------------------------------------------------------------------------------
# logical lines

# What may sit next to formulas on a formula line: punctuation, an equation label like (3.1),
# or "and"/"or" between two displayed formulas.
_FORMULA_LINE_REST = re.compile(r"^(?:[\s.,;:!?()\[\]\-–—=]|\(\d+(?:\.\d+)*\)|\band\b|\bor\b)*$")


@dataclass(frozen=True)
class Line:
    """One logical line: newlines inside formulas do not split it."""

    text: str
    has_math: bool
    is_formula: bool  # only formulas (plus punctuation/labels): never 'short', never junk
    prose: str  # the line with formulas masked out (what prose rules look at)
    ends_with_math: bool = False  # last thing on the line (punctuation aside) is a formula


def split_lines(text: str, spans: list[tuple[int, int]] | None = None) -> list[Line]:
    """Split on newlines that are outside formulas."""
    if spans is None:
        spans = math_spans(text)
    lines: list[Line] = []
    start = 0
    first = 0  # index of the first span at or after ``start``
    k = 0  # index into spans
    n = len(text)
    pos = 0
    while pos <= n:
        nl = text.find("\n", pos)
        if nl == -1:
            nl = n
        while k < len(spans) and spans[k][1] <= nl:
            k += 1
        if k < len(spans) and spans[k][0] < nl < spans[k][1]:
            pos = spans[k][1]  # this newline is inside a formula: keep going
            continue
        lines.append(_make_line(text, start, nl, spans[first:k]))
        first = k
        start = pos = nl + 1
    return lines


# Markdown layout of the careful text (trafilatura's Markdown): a table row's cell pipes, a
# table's separator row, a heading's marks, and the <sub>/<sup> tags it writes for HTML's (a
# PlanetMath page wraps whole sentences in a stray <sup>). Layout, not words: the prose rules
# would count each pipe as a non-alphabetic word (a PlanetMath page's 12-row metadata table is
# 37 of them), each "######" as hashtags, and a sentence ending "...</sup>" as unpunctuated.
_MD_TABLE_SEP_CELL = re.compile(r"\s*:?-{3,}:?\s*")  # one cell of a separator row: " :---: "
_MD_HEADING_MARK = re.compile(r"\s*#{1,6}(?=\s)")
_SUB_SUP_TAG = re.compile(r"</?su[bp]>")


def mask_markdown_layout(prose: str) -> str:
    """``prose`` with Markdown table pipes, table separator rows, heading marks and
    ``<sub>``/``<sup>`` tags as spaces (same length); other text unchanged."""
    if "<su" in prose or "</su" in prose:
        prose = _SUB_SUP_TAG.sub(lambda m: " " * len(m.group(0)), prose)
    s = prose.lstrip()[:1]
    if s not in ("|", "#"):
        return prose
    s = prose.strip()
    if s.startswith("|") and s.endswith("|"):
        if all(_MD_TABLE_SEP_CELL.fullmatch(c) for c in s[1:-1].split("|")):
            return " " * len(prose)
        return prose.replace("|", " ")
    if s.startswith("#"):
        m = _MD_HEADING_MARK.match(prose)
        if m:
            return " " * m.end() + prose[m.end() :]
    return prose


def _make_line(text: str, s: int, e: int, spans: list[tuple[int, int]]) -> Line:
    """The line text[s:e]; ``spans`` are the formulas inside it (absolute positions). Its prose
    has formulas and Markdown layout masked."""
    t = text[s:e]
    if not spans:
        return Line(t, False, False, mask_markdown_layout(t))
    inner = [(a - s, b - s) for a, b in spans]
    prose = mask_markdown_layout(mask_math(t, inner, fill=" "))
    tail = prose[inner[-1][1] :]
    ends = not tail.strip(" \t.,;:!?)]")
    return Line(t, True, bool(_FORMULA_LINE_REST.match(prose)), prose, ends)


def join_lines(lines: list[str]) -> str:
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# normalisation

# a run of horizontal space after a visible character; leading indentation is kept (code)
_HSPACE = re.compile(r"(?<=\S)[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalize_prose(piece: str) -> str:
    """NFC, no control or zero-width characters, one space for a run of inner horizontal space."""
    piece = unicodedata.normalize("NFC", piece)
    piece = _CONTROL.sub("", piece)
    piece = _INVISIBLE.sub("", piece)
    piece = piece.replace("\r\n", "\n").replace("\r", "\n")
    return _HSPACE.sub(" ", piece)


def normalize_text(text: str) -> str:
    """Unicode NFC and whitespace cleanup outside formulas; formulas are copied byte for byte.

    Trailing spaces go, leading indentation stays (code keeps its shape), runs of blank lines
    become one blank line (paragraph breaks survive).
    """
    parts = []
    for is_math, piece in split_segments(text):
        parts.append(piece if is_math else normalize_prose(piece))
    out = "".join(parts)
    # strip each logical line (formula-internal newlines untouched), collapse blank runs
    stripped = [ln.text.rstrip() for ln in split_lines(out)]
    stripped = [t if t.strip() else "" for t in stripped]
    out = "\n".join(stripped)
    return _MANY_NEWLINES.sub("\n\n", out).strip("\n ")
