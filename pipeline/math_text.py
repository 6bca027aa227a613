"""Math in text: what a formula is, where it sits, and what a line of math looks like.

One module owns these definitions, and one scanner (:func:`math_spans`) finds formulas for
every use, so that the extractor's ``formulas`` column, the cleaning rules' "page with math",
language-id masking, PII and the classifier's formula token count the same things:

- a formula is ``$..$``, ``$$..$$``, ``\\(..\\)``, ``\\[..\\]`` or a math environment
  (``\\begin{align}..\\end{align}``); prices ("$5 and $10", "$20 an hour ... 20*.2=$4") are
  prose (the rules are on :func:`math_spans`);
- :func:`count_formulas`, :func:`formulas`, :func:`iter_formulas`, :func:`formula_spans`,
  :func:`sub_formulas`, :func:`mask_math` and
  :func:`split_segments` are views of those spans;
- plain-text math without delimiters: worked steps ("48/2 = 24"), arithmetic, sequences of
  numbers, TeX control words, structure labels ("Theorem 2.1."), and how many words a formula
  is worth when read aloud.

Cost: every function here is linear in its input. The scanner is one left-to-right pass whose
closers are found with :func:`pipeline.text_scan.memo_next` (never a rescan per opener); the
regular expressions have no two quantifiers that can take the same characters, so none
backtracks more than a bounded amount per start (tests/test_linear_time.py checks each on
adversarial text at two sizes).
"""

from __future__ import annotations

import re

from pipeline.text_scan import Find, escaped, next_unescaped

# Longest formula we accept per delimiter kind: an unclosed ``$`` in prose (a price) must not
# swallow the rest of the page. Display math can be long (aligned derivations), inline rarely is.
MAX_INLINE_CHARS = 2_000
MAX_DISPLAY_CHARS = 20_000

# Environments that hold math even without dollars (raw TeX pages, MathJax sources: MathJax
# typesets a bare \begin{..}..\end{..} by default): the display environments of LaTeX and
# amsmath, and amsmath's inner ones (matrices, cases, aligned), which are math-mode only.
MATH_ENVS = frozenset(
    [
        *(
            f"{name}{star}"
            for name in (
                "equation",
                "align",
                "alignat",
                "flalign",
                "gather",
                "multline",
                "eqnarray",
                "displaymath",
                "math",
            )
            for star in ("", "*")
        ),
        "aligned",
        "alignedat",
        "gathered",
        "split",
        "cases",
        "dcases",
        "array",
        "matrix",
        "pmatrix",
        "bmatrix",
        "Bmatrix",
        "vmatrix",
        "Vmatrix",
        "smallmatrix",
        "CD",
    ]
)
_BEGIN_RE = re.compile(r"\\begin\{([a-zA-Z]{1,20}\*?)\}")
_CANDIDATE = re.compile(r"[\\$]")
# a TeX character in a spaced $ .. $ (see _inline_end)
_TEXISH = re.compile(r"[\\^_{}=]")
# three words in a row (of 2+ letters): prose, not a formula. The lookbehind lets a run of
# letters start a match only at its first letter (linear: one attempt per run).
_PROSE_RUN = re.compile(
    r"(?<![A-Za-z])[A-Za-z]{2,}[,.;:]?\s+[A-Za-z]{2,}[,.;:]?\s+[A-Za-z]{2,}(?![A-Za-z])"
)


def math_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ``(start, end)`` spans of the formulas in ``text``, delimiters
    included: the one definition of "a formula" in this project.

    - ``\\(..\\)`` (inline, at most MAX_INLINE_CHARS), ``\\[..\\]`` and ``\\begin{env}..
      \\end{env}`` for env in :data:`MATH_ENVS` (display, at most MAX_DISPLAY_CHARS);
    - ``$$..$$`` (display) with something inside and no ``$`` outside braces ("has $$5$ and
      $$10$ bills" is money); a ``$$`` pairs with the next ``$$`` either way; a run of three or more ``$`` is money or emphasis ("Earn $$$ now") or an empty
      formula, never a delimiter;
    - ``$..$`` by pandoc's rule: the opener followed and the closer preceded by a non-space, the
      closer not followed by a digit, no blank line inside, so "$5 and $10" is prose; also a
      spaced ``$ q = 1 $`` (Q&A sites: MathJax renders it) on one line when it holds TeX syntax
      (see :func:`_inline_end`); never three plain words in a row without a backslash
      ("$20 an hour and 20*.2=$4": TeX writes words in math as ``\\text{..}``).

    A backslash escapes the next character: ``\\$`` is a dollar sign, ``\\\\(`` a line break and
    a parenthesis; neither opens a formula, and a closer preceded by an odd run of backslashes
    does not close one.
    """
    spans: list[tuple[int, int]] = []
    n = len(text)
    finders: dict[str, Find] = {}

    def closer_at(needle: str, start: int, cap: int) -> int:
        """End of the first unescaped ``needle`` at or after ``start`` within ``cap`` chars."""
        find = finders.get(needle)
        if find is None:
            find = finders[needle] = next_unescaped(text, needle)
        hit = find(start)
        return hit[1] if hit is not None and hit[0] <= start + cap else -1

    i = 0
    while i < n:
        m = _CANDIDATE.search(text, i)
        if m is None:
            break
        i = m.start()
        if text[i] == "\\":
            nxt = text[i + 1 : i + 2]
            end = -1
            if nxt == "(":
                end = closer_at("\\)", i + 2, MAX_INLINE_CHARS)
            elif nxt == "[":
                end = closer_at("\\]", i + 2, MAX_DISPLAY_CHARS)
            elif nxt == "b":
                b = _BEGIN_RE.match(text, i)
                if b and b.group(1) in MATH_ENVS:
                    end = closer_at("\\end{" + b.group(1) + "}", b.end(), MAX_DISPLAY_CHARS)
            if end != -1:
                spans.append((i, end))
                i = end
            else:
                i += 2  # an escaped character (\$, \\, \{ ...) is never a delimiter
            continue
        run = 1
        while run < 3 and text.startswith("$", i + run):
            run += 1
        if run == 1:
            end = _inline_end(text, i)
        elif run == 2:
            end = closer_at("$$", i + 2, MAX_DISPLAY_CHARS)
            if end != -1 and not _is_display_body(text[i + 2 : end - 2]):
                i = end  # a pair of $$, but around nothing or around money: neither opens
                continue
        else:
            while text.startswith("$", i + run):
                run += 1
            i += run
            continue
        if end != -1:
            spans.append((i, end))
            i = end
        else:
            i += run
    return spans


def _is_display_body(body: str) -> bool:
    """Something, and no ``$`` outside braces: TeX allows a dollar in display math only in a
    group (``$$\\text{$C_n$ is odd}$$``); "has $$5$ and $$10$ bills" is money."""
    if not body.strip():
        return False
    if "$" not in body:
        return True
    depth = 0
    j, n = 0, len(body)
    while j < n:
        c = body[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
        elif c == "$" and depth == 0:
            return False
        j += 1
    return True


def looks_like_prose(tex: str) -> bool:
    """Three plain words in a row and no backslash: prose between dollars, not a formula
    (TeX writes words in math as ``\\text{..}``)."""
    return "\\" not in tex and _PROSE_RUN.search(tex) is not None


def _inline_end(text: str, i: int) -> int:
    """End (exclusive) of the ``$..$`` opened at ``i``, or -1 if this ``$`` opens nothing.

    The closer is the next unescaped ``$`` (as in TeX, pandoc and MathJax), within
    MAX_INLINE_CHARS and before a blank line. Pandoc's rule (no space just inside the
    dollars, closer not followed by a digit) keeps prices out. Q&A sites also write
    ``$ q_{1} = \\frac{1}{11}$``, which MathJax renders: a span with a space just inside is
    accepted when it stays on one line and holds TeX syntax: a backslash, ``^``, ``_`` or a
    brace, or, with a space inside both dollars (``$ x = 1 $``), an equals sign. Code is the
    reason for that last condition: ``$a = $b`` in PHP or shell has a space on one side only.
    """
    if i + 1 >= len(text) or text[i + 1] == "\n":
        return -1
    limit = i + 1 + MAX_INLINE_CHARS
    j = text.find("$", i + 1, limit)
    while j != -1 and escaped(text, j):
        j = text.find("$", j + 1, limit)
    if j == -1:
        return -1
    if text[j + 1 : j + 2].isdigit():
        return -1
    content = text[i + 1 : j]
    if "\n\n" in content or looks_like_prose(content):
        return -1
    open_spaced, close_spaced = content[:1].isspace(), content[-1:].isspace()
    if not open_spaced and not close_spaced:
        return j + 1
    if "\n" in content or not content.strip():
        return -1
    tex = _TEXISH.findall(content)
    if any(t != "=" for t in tex) or (tex and open_spaced and close_spaced):
        return j + 1
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


def formula_body(formula: str) -> str:
    """A formula's TeX without its delimiters (an environment is kept whole: its name is part
    of the TeX)."""
    for op, cl in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if formula.startswith(op) and formula.endswith(cl) and len(formula) >= len(op + cl):
            return formula[len(op) : len(formula) - len(cl)]
    return formula


def formula_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, TeX body) of every formula of ``text``, in order: :func:`math_spans` with
    each formula's body."""
    return [(s, e, formula_body(text[s:e])) for s, e in math_spans(text)]


def iter_formulas(text: str) -> list[str]:
    """The TeX of every formula in ``text`` (delimiters stripped), in order."""
    return [formula_body(text[s:e]) for s, e in math_spans(text)]


def count_formulas(text: str) -> int:
    """How many formulas ``text`` holds: the ``formulas`` column of extracted docs, the
    classifier's formula token and the cleaning rules' formula count are this number."""
    return len(math_spans(text))


def sub_formulas(text: str, repl) -> str:
    """``text`` with every formula (delimiters included) replaced by ``repl(formula)``."""
    spans = math_spans(text)
    if not spans:
        return text
    out, last = [], 0
    for a, b in spans:
        out.append(text[last:a])
        out.append(repl(text[a:b]))
        last = b
    out.append(text[last:])
    return "".join(out)


# "48/2 = 24", "2 + 5 = <<2+5=7>>7", "80 * 45 / 100 = $36", "Y + 0.20Y = the height": a
# number equated to a number, or an equals sign (spaced, unlike a URL query) next to a sum or
# product, is a worked step written without TeX delimiters (word problems, homework help).
# Optional parts are written X(?:Y\s*)? rather than X\s*Y?\s*: two \s* around an optional item
# can split one run of spaces in as many ways as it is long (quadratic on "1 =" + spaces).
_WORKED_STEP = re.compile(
    r"\d\)?\s*[=≈≠≤≥]\s*(?:[-($<]+\s*)?\d"
    r"|[\w.)%]\s*[-+*/×÷]\s*[\w.(]+\s+=\s"
    r"|\s=\s+[\w.(]+\s*[-+*/×÷]\s*[\w.(]"
)


def is_worked_step(prose: str) -> bool:
    """Whether a line's prose (formulas masked) is a step of worked arithmetic."""
    return bool(_WORKED_STEP.search(prose))


_ARITHMETIC = re.compile(r"\d\s*(?:[-+*/×÷^]\s*)?[=<>≤≥≠≈]\s*(?:[-(]\s*)?\d|\d\s*[+*/×÷^]\s*\d")
# "1, 1, 2, 3, 5, 8": a sequence of terms (OEIS-style) is math, a table row is not comma-separated.
# Starts only at the first digit of a number: from every digit of a long one, the scan would
# be quadratic in its length.
_NUMBER_SEQUENCE = re.compile(r"(?<!\d)-?\d+(?:\s*,\s*-?\d+){3,}")
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


# Structure labels of mathematical text: they recur on every page of a textbook site (and
# normalise to one key, numbers being 0), but "Proof." or "Example 1.2.3." carries meaning for
# the text that follows, unlike a menu; so cross-page boilerplate removal keeps them.
_MATH_LABEL = re.compile(
    r"(?:\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]|"
    r"(?:Proof|Solution|Hint|Answer|Example|Exercise|Theorem|Lemma|Definition|Corollary|"
    r"Proposition|Remark|Note|Problem|Claim|Conjecture|Checkpoint|Activity|Investigate)s?"
    r"(?:\s+[\dA-Z]+(?:\.\d+)*)?\s*(?:\(.{0,60}\))?\s*[.:!]?)"
)
# The longest label the pattern above can match, whitespace collapsed: "Propositions", an
# identifier and a 60-character parenthetical. A longer line is not a label; checking the
# length first keeps the match bounded (the pattern's adjacent \s* took seconds on a line of
# "Proof" and 1,000 spaces, cubic in the spaces).
MAX_LABEL_CHARS = 120


def is_math_label(text: str) -> bool:
    """Whether a line is a structure label: "Proof.", "Theorem 2.1 (Bolzano).", "(iv)", "3."."""
    t = text.strip()
    if len(t) > 4 * MAX_LABEL_CHARS:
        return False
    t = " ".join(t.split())
    return len(t) <= MAX_LABEL_CHARS and _MATH_LABEL.fullmatch(t) is not None


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
