"""What the cleaning rules read: one document analysed once, and what a line of it is.

:func:`analyse` splits a text into logical lines around its formulas (``pipeline.math_text``
says what a formula is) and counts its words, tokens and math evidence once; every page rule of
``pipeline/clean_rules.py`` reads the same :class:`Analysed`. The line predicates below say which
lines repeat by design on a math page (formulas, TeX source, "Solution.", worked steps, code),
so that repetition and line-statistics rules do not count them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.math_text import (
    count_formula_words,
    has_arithmetic,
    has_number_sequence,
    has_tex_command,
    is_math_label,
    is_worked_step,
    math_spans,
)
from pipeline.text_norm import Line, split_lines

# FineWeb's terminal punctuation, the common part of datatrove's set, plus closing quotes
TERMINAL_PUNCT = (".", "!", "?", "…", '"', "'", "”", "’", "。", "！", "？", "؟", "।", "‼", "‽")

# words and punctuation tokens, close to datatrove's spaCy tokenisation for English
TOKEN_RE = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
WORDLIKE = re.compile(r"[^\W_]")


@dataclass
class Analysed:
    text: str
    spans: list[tuple[int, int]]
    lines: list[Line]
    prose_tokens: list[str]  # tokens (words and punctuation marks) outside formulas
    prose_words: list[str]  # whitespace-separated words outside formulas (Gopher's words)
    n_formulas: int
    formula_words: int  # words read inside formulas (identifiers, numbers, operators by name)
    words: list[str]  # prose tokens that are words (have a letter or digit)
    nonempty: list[Line]  # the non-blank lines
    math_evidence: int  # formulas plus lines of undelimited worked arithmetic ("48/2 = 24")


def analyse(text: str, spans: list[tuple[int, int]] | None = None) -> Analysed:
    if spans is None:
        spans = math_spans(text)
    lines = split_lines(text, spans)
    prose_tokens: list[str] = []
    prose_words: list[str] = []
    for ln in lines:
        prose_tokens.extend(TOKEN_RE.findall(ln.prose))
        prose_words.extend(ln.prose.split())
    fw = sum(count_formula_words(text[s:e]) for s, e in spans)
    words = [t for t in prose_tokens if WORDLIKE.search(t)]
    nonempty = [ln for ln in lines if ln.text.strip()]
    evidence = len(spans) + sum(
        1 for ln in nonempty if not ln.has_math and is_worked_step(ln.prose)
    )
    return Analysed(
        text, spans, lines, prose_tokens, prose_words, len(spans), fw, words, nonempty, evidence
    )


# ---------------------------------------------------------------------------------------------
# what a line is


_CODE_END = (";", "{", "}", "};", "*/")


def is_code_line(ln: Line) -> bool:
    """A line of program code (C-like statement or block edge, or indented 4+ spaces).

    Math pages carry algorithms (cp-algorithms, Rosetta-style pages); code repeats lines and
    does not end in sentence punctuation, by design.
    """
    t = ln.text
    return (not ln.has_math) and (t.rstrip().endswith(_CODE_END) or t.startswith(("    ", "\t")))


def is_markup_line(ln: Line) -> bool:
    """A line with a formula or with TeX control words (``\\begin{proof}``, ``Lemma \\ref{..}.``).

    Such lines repeat by design (every lemma has ``\\begin{proof}``, every exercise a
    "Simplify: $..$", TeX sources cite the same lemma twice), so repetition rules do not count
    them as duplicates.
    """
    return ln.has_math or has_tex_command(ln.prose)


_LIST_ITEM = re.compile(r"^\s*(?:[•●▪◦‣∙*-]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)])\s")


def is_list_item(ln: Line) -> bool:
    return bool(_LIST_ITEM.match(ln.text))


def is_exercise_prompt(lines: list[Line], i: int) -> bool:
    """ "Translate each word phrase into an algebraic expression:" followed by a line with a
    formula: the instruction of an exercise set, repeated before every group of exercises."""
    t = lines[i].text.rstrip()
    return t.endswith(":") and i + 1 < len(lines) and lines[i + 1].has_math


# Markdown emphasis and the <sub>/<sup> tags the careful text closes a sentence with
_CLOSING_MARKUP = ("*", "_", ">")
_CLOSING_TAGS = ("</sup>", "</sub>")


def strip_closing_markup(t: str) -> str:
    """``t`` without the spaces, emphasis marks and </sub>, </sup> tags that end it (one scan
    from the end: a regex like ``(?:_+|\\s)+$`` backtracks exponentially on a run of "_")."""
    i = len(t)
    while i:
        if t[i - 1].isspace() or t[i - 1] in "*_":
            i -= 1
        elif t.endswith(_CLOSING_TAGS, 0, i):
            i -= len(_CLOSING_TAGS[0])
        else:
            break
    return t[:i]


def ends_punctuated(ln: Line) -> bool:
    """A line ends a sentence if it ends in terminal punctuation or in a formula (or is code)."""
    if ln.is_formula or is_code_line(ln):
        return True
    t = ln.text.rstrip()
    if t.endswith(_CLOSING_MARKUP):  # "... a valid solution.</sup>", "**Proof.**"
        t = strip_closing_markup(t)
    if t.endswith(TERMINAL_PUNCT):
        return True
    # "... for all $x > 0$" ends with a formula: the sentence ends in math, not in junk
    return ln.ends_with_math


def repeats_by_design(ln: Line) -> bool:
    """Formulas, TeX source lines and structure labels ("Solution.", "Hint.", "2.") recur in
    every worked example of a math page; they are not the repetition Gopher looks for."""
    return is_markup_line(ln) or is_math_label(ln.text) or is_worked_step(ln.prose)


def numbers_are_math(ln: Line) -> bool:
    """Numbers on this line are math: it is a sentence, a sum ("48/2 = 24") or a sequence."""
    return ends_punctuated(ln) or has_arithmetic(ln.prose) or has_number_sequence(ln.prose)


def is_number_row(ln: Line) -> bool:
    """A row of numbers: two or more words, at least half of them with a digit (a table row,
    a list of values; the extractor's cell tabs are one space after normalisation)."""
    words = ln.prose.split()
    return len(words) >= 2 and 2 * sum(any(c.isdigit() for c in w) for w in words) >= len(words)


def count_duplicates(items: list[str], exempt: list[bool]) -> tuple[int, int]:
    """(how many, how many chars): items equal to an earlier item, exempt ones not counted."""
    seen: set[str] = set()
    n = chars = 0
    for it, ex in zip(items, exempt):
        if it in seen:
            if not ex:
                n += 1
                chars += len(it)
        else:
            seen.add(it)
    return n, chars
