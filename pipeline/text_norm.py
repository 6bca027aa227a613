"""Math spans, logical lines and Unicode/whitespace normalisation that leaves TeX untouched.

Every cleaning rule looks at text through :func:`math_spans`: what sits inside ``$..$``,
``$$..$$``, ``\\(..\\)``, ``\\[..\\]`` or a display-math environment is a formula, not prose.
Formulas are not symbols, their newlines do not split lines, and a line made only of formulas
is a *formula line* that no line rule may call short or unpunctuated.

The scanner is a single left-to-right pass over the text (no regular expression with nested
quantifiers, so no catastrophic backtracking): each opener looks for its closer in a window of
bounded size, and the position of the next closer of each kind is cached, so the total work is
linear in the text length.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Longest formula we accept per delimiter kind: an unclosed ``$`` in prose (a price) must not
# swallow the rest of the page. Display math can be long (aligned derivations), inline rarely is.
MAX_INLINE_CHARS = 2_000
MAX_DISPLAY_CHARS = 20_000

# Display environments that hold math even without dollars (raw TeX pages, MathJax sources).
MATH_ENVS = (
    "equation",
    "equation*",
    "align",
    "align*",
    "alignat",
    "alignat*",
    "gather",
    "gather*",
    "multline",
    "multline*",
    "eqnarray",
    "eqnarray*",
    "displaymath",
    "math",
    "flalign",
    "flalign*",
)
_BEGIN_RE = re.compile(r"\\begin\{([a-zA-Z]+\*?)\}")
_CANDIDATE = re.compile(r"[\\$]")


def _escaped(text: str, i: int) -> bool:
    """True if text[i] is preceded by an odd number of backslashes."""
    n = 0
    j = i - 1
    while j >= 0 and text[j] == "\\":
        n += 1
        j -= 1
    return n % 2 == 1


def _next_unescaped(text: str, needle: str, start: int, cache: dict, limit: int) -> int:
    """Position of the next unescaped ``needle`` at or after ``start`` (before ``limit``), or -1.

    ``cache[needle]`` remembers the last search; a later search that starts between that
    search's start and its answer has the same answer, so failed searches never rescan text.
    """
    hit = cache.get(needle)
    if hit is not None and hit[0] <= start and (hit[1] == -1 or hit[1] >= start):
        pos = hit[1]
    else:
        pos = start
        while True:
            pos = text.find(needle, pos)
            if pos == -1 or not _escaped(text, pos):
                break
            pos += 1
        cache[needle] = (start, pos)
    return pos if pos != -1 and pos < limit else -1


def math_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ``(start, end)`` spans of formulas, delimiters included.

    Recognised: ``$$..$$``, ``$..$`` (pandoc's rule: the opener is followed and the closer
    preceded by a non-space, the closer not followed by a digit, no blank line inside, so
    "$5 and $10" is prose), ``\\(..\\)``, ``\\[..\\]`` and ``\\begin{equation}..\\end{equation}``
    style environments. ``\\$`` is an escaped dollar, never a delimiter.
    """
    spans: list[tuple[int, int]] = []
    n = len(text)
    cache: dict = {}
    i = 0
    while i < n:
        m = _CANDIDATE.search(text, i)
        if m is None:
            break
        i = m.start()
        c = text[i]
        if c == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt in ("(", "["):
                closer = "\\)" if nxt == "(" else "\\]"
                cap = MAX_INLINE_CHARS if nxt == "(" else MAX_DISPLAY_CHARS
                j = _next_unescaped(text, closer, i + 2, cache, i + 2 + cap)
                if j != -1:
                    spans.append((i, j + 2))
                    i = j + 2
                    continue
            elif nxt == "b" and text.startswith("\\begin{", i):
                m = _BEGIN_RE.match(text, i)
                if m and m.group(1) in MATH_ENVS:
                    end_tag = "\\end{" + m.group(1) + "}"
                    j = _next_unescaped(text, end_tag, m.end(), cache, m.end() + MAX_DISPLAY_CHARS)
                    if j != -1:
                        spans.append((i, j + len(end_tag)))
                        i = j + len(end_tag)
                        continue
            i += 2  # an escaped character (\$, \\, \{ ...) is never a delimiter
            continue
        if c == "$":
            if text.startswith("$$", i):
                j = _next_unescaped(text, "$$", i + 2, cache, i + 2 + MAX_DISPLAY_CHARS)
                if j != -1 and j > i + 2:
                    spans.append((i, j + 2))
                    i = j + 2
                    continue
                i += 2
                continue
            end = _inline_dollar_end(text, i)
            if end != -1:
                spans.append((i, end))
                i = end
                continue
        i += 1
    return spans


_TEXISH = re.compile(r"[\\^_{}=]")
# three words in a row (of 2+ letters): prose, not a formula
_PROSE_RUN = re.compile(r"[A-Za-z]{2,}[,.;:]?\s+[A-Za-z]{2,}[,.;:]?\s+[A-Za-z]{2,}")


def _inline_dollar_end(text: str, i: int) -> int:
    """End (exclusive) of the ``$..$`` opened at ``i``, or -1 if this ``$`` is not an opener.

    Pandoc's rule (no space just inside the dollars, closer not followed by a digit) keeps
    prices out. Q&A sites also write ``$ q_{1} = \\frac{1}{11}$``: a spaced span is accepted
    when it stays on one line and holds TeX syntax (a backslash, ^, _, braces or =). A span
    with three plain words in a row and no backslash is prose between two prices ("$20 an
    hour ... 20*.2=$4"): TeX writes words in math as ``\\text{..}``.
    """
    n = len(text)
    if i + 1 >= n or text[i + 1] == "$" or text[i + 1] == "\n":
        return -1
    limit = min(n, i + 1 + MAX_INLINE_CHARS)
    j = i + 1
    while j < limit:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "\n" and text.startswith("\n", j + 1):
            return -1  # a blank line ends a paragraph; inline math never crosses one
        if c == "$":
            if text.startswith("$$", j) or text[j + 1 : j + 2].isdigit():
                return -1
            content = text[i + 1 : j]
            if "\\" not in content and _PROSE_RUN.search(content):
                return -1
            if not text[i + 1].isspace() and not text[j - 1].isspace():
                return j + 1
            if "\n" not in content and _TEXISH.search(content):
                return j + 1
            return -1
        j += 1
    return -1


def mask_math(text: str, spans: list[tuple[int, int]] | None = None, fill: str = " ") -> str:
    """The text with every formula replaced by ``fill`` (prose-only view for counting)."""
    if spans is None:
        spans = math_spans(text)
    if not spans:
        return text
    out = []
    prev = 0
    for s, e in spans:
        out.append(text[prev:s])
        out.append(fill)
        prev = e
    out.append(text[prev:])
    return "".join(out)


def split_segments(text: str, spans: list[tuple[int, int]] | None = None) -> list[tuple[bool, str]]:
    """``[(is_math, piece), ...]`` covering the whole text in order."""
    if spans is None:
        spans = math_spans(text)
    out: list[tuple[bool, str]] = []
    prev = 0
    for s, e in spans:
        if s > prev:
            out.append((False, text[prev:s]))
        out.append((True, text[s:e]))
        prev = e
    if prev < len(text):
        out.append((False, text[prev:]))
    return out


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


def _make_line(text: str, s: int, e: int, spans: list[tuple[int, int]]) -> Line:
    """The line text[s:e]; ``spans`` are the formulas inside it (absolute positions)."""
    t = text[s:e]
    if not spans:
        return Line(t, False, False, t)
    inner = [(a - s, b - s) for a, b in spans]
    prose = mask_math(t, inner, fill=" ")
    tail = t[inner[-1][1] :]
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


def formulas(text: str) -> list[str]:
    """The formulas of ``text`` in order (delimiters included)."""
    return [text[s:e] for s, e in math_spans(text)]
