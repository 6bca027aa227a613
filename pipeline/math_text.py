"""Math in text: what a formula is, where it sits, and what a line of math looks like.

One module owns these definitions so that the extractor's ``formulas`` column, the cleaning
rules' "page with math", language-id masking and the classifier's features agree:

- :func:`math_spans`: formulas for cleaning and masking: ``$..$``, ``$$..$$``, ``\\(..\\)``,
  ``\\[..\\]`` and display-math environments (prices like "$5 and $10" are prose);
- :func:`formula_spans` / :func:`count_formulas`: the formulas the extractor counts in its
  output text;
- plain-text math without delimiters: worked steps ("48/2 = 24"), arithmetic, sequences of
  numbers, TeX control words, and how many words a formula is worth when read aloud.

Every scanner here is a single left-to-right pass (no regular expression with nested or lazy
unbounded quantifiers), so its cost is linear in the text length.
"""

from __future__ import annotations

import re

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


def formulas(text: str) -> list[str]:
    """The formulas of ``text`` in order (delimiters included)."""
    return [text[s:e] for s, e in math_spans(text)]


# Formulas in extracted text: $$..$$, \[..\], \(..\), \begin{env}..\end{env}, and $..$ by the
# pandoc rule (no space inside the dollars, closing $ not followed by a digit) so that prices
# like "$5 and $10" are not counted. A regex with lazy bodies does this in quadratic time on
# hostile text ("\\(" * 100_000 took minutes), so formulas are found by a linear scanner:
# openers by one regex, closers by str.find with the next occurrence of each closer cached.
_ENVS = "equation|align|gather|multline|eqnarray|displaymath|math"
_OPENER = re.compile(r"\$\$|\\\[|\\\(|\\begin\{(" + _ENVS + r")\*?\}|\$")
_PAIRED = {"$$": "$$", "\\[": "\\]", "\\(": "\\)"}


def formula_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, TeX body) of every formula in ``text``, in order, in linear time."""
    spans: list[tuple[int, int, str]] = []
    next_at: dict[str, int] = {}  # closer -> its first index at or after the last lookup

    def find(closer: str, start: int) -> int:
        i = next_at.get(closer)
        if i is None or (i != -1 and i < start):
            i = text.find(closer, start)
            next_at[closer] = i
        return i

    n = len(text)
    pos = 0
    while True:
        m = _OPENER.search(text, pos)
        if not m:
            return spans
        a, s, op = m.start(), m.end(), m.group(0)
        end = body = None
        if op in _PAIRED:
            ok = True
            if op == "$$":  # (?!\s*\$): a $$ opener is not followed by blanks and a $
                j = s
                while j < n and text[j] in " \t\r\n\f\v":
                    j += 1
                ok = j >= n or text[j] != "$"
            c = find(_PAIRED[op], s + 1) if ok else -1
            if c != -1:
                end, body = c + len(_PAIRED[op]), text[s:c]
        elif op.startswith("\\begin"):
            env = m.group(1)
            cs = [
                c
                for c in (find(f"\\end{{{env}}}", s + 1), find(f"\\end{{{env}*}}", s + 1))
                if c != -1
            ]
            if cs:
                c = min(cs)
                close_len = len(f"\\end{{{env}}}") + (
                    1 if text.startswith("*", c + 5 + len(env)) else 0
                )
                end, body = c + close_len, text[s:c]
        else:  # inline $: not after \ or $, first char not blank or $
            if (
                (a == 0 or text[a - 1] not in "\\$")
                and s < n
                and not text[s].isspace()
                and text[s] != "$"
            ):
                c = text.find("$", s + 1)
                while c != -1 and text[c - 1] == "\\":
                    c = text.find("$", c + 1)
                if (
                    c != -1
                    and text.find("\n", s, c) == -1
                    and not text[c - 1].isspace()
                    and not (c + 1 < n and text[c + 1].isdigit())
                ):
                    end, body = c + 1, text[s:c]
        if end is None:
            pos = a + 1
        else:
            spans.append((a, end, body))
            pos = end


def sub_formulas(text: str, repl) -> str:
    """``text`` with every formula (delimiters included) replaced by ``repl(formula)``."""
    spans = formula_spans(text)
    if not spans:
        return text
    out, last = [], 0
    for a, b, _ in spans:
        out.append(text[last:a])
        out.append(repl(text[a:b]))
        last = b
    out.append(text[last:])
    return "".join(out)


def count_formulas(text: str) -> int:
    """Number of formulas in extracted text ($..$, $$..$$, \\(..\\), \\[..\\], environments)."""
    return len(formula_spans(text))


def iter_formulas(text: str) -> list[str]:
    """The TeX of every formula in ``text`` (delimiters stripped), in order."""
    return [body for _, _, body in formula_spans(text)]


# "48/2 = 24", "2 + 5 = <<2+5=7>>7", "80 * 45 / 100 = $36", "Y + 0.20Y = the height": a
# number equated to a number, or an equals sign (spaced, unlike a URL query) next to a sum or
# product, is a worked step written without TeX delimiters (word problems, homework help)
_WORKED_STEP = re.compile(
    r"\d\)?\s*[=≈≠≤≥]\s*[-($<]*\s*\d"
    r"|[\w.)%]\s*[-+*/×÷]\s*[\w.(]+\s+=\s"
    r"|\s=\s+[\w.(]+\s*[-+*/×÷]\s*[\w.(]"
)


def is_worked_step(prose: str) -> bool:
    """Whether a line's prose (formulas masked) is a step of worked arithmetic."""
    return bool(_WORKED_STEP.search(prose))


_ARITHMETIC = re.compile(r"\d\s*[-+*/×÷^]?\s*[=<>≤≥≠≈]\s*[-(]?\s*\d|\d\s*[+*/×÷^]\s*\d")
# "1, 1, 2, 3, 5, 8": a sequence of terms (OEIS-style) is math, a table row is not comma-separated
_NUMBER_SEQUENCE = re.compile(r"-?\d+(?:\s*,\s*-?\d+){3,}")
_TEX_CONTROL_WORD = re.compile(r"\\[A-Za-z]{2,}")


def has_arithmetic(text: str) -> bool:
    """A number related to a number by an operator or a comparison ("2 + 3", "x1 = 5")."""
    return bool(_ARITHMETIC.search(text))


def has_number_sequence(text: str) -> bool:
    """Four or more comma-separated integers ("1, 1, 2, 3, 5")."""
    return bool(_NUMBER_SEQUENCE.search(text))


def has_tex_command(text: str) -> bool:
    """A TeX control word (``\\begin``, ``\\ref``, ``\\frac``)."""
    return bool(_TEX_CONTROL_WORD.search(text))


_TEX_WORD = re.compile(r"\\?[A-Za-z]+|\d+(?:\.\d+)?")
# layout commands carry no words when a formula is read aloud
_TEX_LAYOUT = frozenset(
    "left right displaystyle textstyle scriptstyle mathrm mathbf mathcal mathbb mathit mathsf "
    "mathfrak operatorname text textrm textbf it rm bf quad qquad begin end label tag nonumber "
    "limits big Big bigg Bigg bigl bigr Bigl Bigr hspace vspace mbox hbox".split()
)


def count_formula_words(formula: str) -> int:
    """How many words a formula is worth: identifiers, numbers and named operators (>= 1).

    ``$x^2+17x+29=0$`` is six words read aloud; Gopher's word-count and list rules would
    otherwise see a formula-dense definition as a near-empty page.
    """
    n = 0
    for m in _TEX_WORD.finditer(formula):
        w = m.group(0)
        if w.startswith("\\") and w[1:] in _TEX_LAYOUT:
            continue
        n += 1
    return max(1, n)
