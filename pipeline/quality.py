"""Math-aware quality rules: Gopher quality and repetition, C4 and FineWeb rules, URL lists,
cross-page boilerplate lines, PII, normalisation; and the clean stage that applies them.

Every rule is a small pure function. Document rules are ``(text, url, cfg) -> None | reason``
(None keeps the page, a string names why it is dropped). Line rules are
``(lines, cfg) -> (kept lines, removed lines)``. All of them read the text through
:mod:`pipeline.text_norm`: formulas (``$..$``, ``$$..$$``, ``\\(..\\)``, ``\\[..\\]``) are one
word each, are not symbols, do not split lines, and a formula line is never short, never
unpunctuated, never boilerplate and never a duplicate.

Thresholds are the published ones (Gopher: Rae et al. 2021, table A1; C4: Raffel et al. 2020;
FineWeb: Penedo et al. 2024, as implemented in datatrove); ``pipeline/defaults.yaml`` says
which rules are off or changed for math and why. ``benchmarks/bench_clean.py`` measures each
rule against datatrove's implementation on real pages.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.config import CleanConfig
from pipeline.math_text import (
    count_formula_words,
    has_arithmetic,
    has_number_sequence,
    has_tex_command,
    is_math_label,
    is_worked_step,
    math_spans,
)
from pipeline.pii import PIICounts, replace_pii
from pipeline.records import EMPTY_TEXT, StageStats
from pipeline.text_norm import Line, normalize_text, split_lines

DEFAULT_BLOCKLIST = Path(__file__).with_name("data") / "url_blocklist.txt"

STOP_WORDS = frozenset(("the", "be", "to", "of", "and", "that", "have", "with"))  # Gopher's
# FineWeb's terminal punctuation, the common part of datatrove's set, plus closing quotes
TERMINAL_PUNCT = (".", "!", "?", "…", '"', "'", "”", "’", "。", "！", "？", "؟", "।", "‼", "‽")
C4_END_PUNCT = (".", "?", "!", '"', "'")
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
BULLETS = ("•", "-", "●", "▪", "◦", "‣", "∙")

# words and punctuation tokens, close to datatrove's spaCy tokenisation for English
_TOKEN_RE = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
_MD_HEADING = re.compile(r"^#{1,6}\s", re.M)
_CITATION_RE = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")


# ---------------------------------------------------------------------------------------------
# the analysed text: computed once per document, shared by all rules


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


def _is_wordlike(tok: str) -> bool:
    return any(ch.isalnum() for ch in tok)


def analyse(text: str, spans: list[tuple[int, int]] | None = None) -> Analysed:
    if spans is None:
        spans = math_spans(text)
    lines = split_lines(text, spans)
    prose_tokens: list[str] = []
    prose_words: list[str] = []
    for ln in lines:
        prose_tokens.extend(_TOKEN_RE.findall(ln.prose))
        prose_words.extend(ln.prose.split())
    fw = sum(count_formula_words(text[s:e]) for s, e in spans)
    words = [t for t in prose_tokens if _WORDLIKE.search(t)]
    nonempty = [ln for ln in lines if ln.text.strip()]
    evidence = len(spans) + sum(
        1 for ln in nonempty if not ln.has_math and is_worked_step(ln.prose)
    )
    return Analysed(
        text, spans, lines, prose_tokens, prose_words, len(spans), fw, words, nonempty, evidence
    )


_WORDLIKE = re.compile(r"[^\W_]")


def _words_with_formulas(a: Analysed) -> list[str | None]:
    """The whitespace words of lines without math, in order; a line with a formula or with a
    worked step of plain arithmetic ("48/2 = 24") is one ``None`` gap (n-grams across it are
    skipped).

    Exercise sets state one formula per line with the same wording ("Find the first five terms
    of the sequence where the first term is $a_1 = 5$ and the common difference is $d = 3$.",
    22 times in an OpenStax section): that wording repeats by design, so Gopher's n-gram
    shares are measured on the prose lines only.
    """
    out: list[str | None] = []
    for ln in a.lines:
        if ln.has_math or is_worked_step(ln.prose):
            out.append(None)
        else:
            out.extend(ln.text.split())
    return out


# ---------------------------------------------------------------------------------------------
# document rules: (text, url, cfg) -> None | reason


def gopher_quality(text: str, url: str, cfg: CleanConfig, a: Analysed | None = None) -> str | None:
    """Gopher quality rules; formulas are words, never symbols, never short words."""
    a = a or analyse(text)
    words = a.words
    n_words = len(words) + a.formula_words
    # a definition or theorem with a few formulas is content even when short (PlanetMath
    # stubs run 25-40 words); Gopher's 50 words is meant for prose
    has_math = a.math_evidence >= cfg.math_min_formulas
    min_words = cfg.min_words_with_math if has_math else cfg.min_words
    if min_words and n_words < min_words:
        return "gopher_short_doc"
    if cfg.max_words and n_words > cfg.max_words:
        return "gopher_long_doc"
    lines = a.nonempty
    math_lines = [_numbers_are_math(ln) for ln in lines]
    # numbers in sentences, sums and sequences are math, not 1-letter words; numbers in
    # table rows still count (sports tables fail here)
    mean_words = words
    if any(math_lines):
        mean_words = [
            t
            for ln, ok in zip(lines, math_lines)
            for t in _TOKEN_RE.findall(ln.prose)
            if _WORDLIKE.search(t) and not (ok and t.isdigit())
        ]
    if mean_words:
        mean = sum(len(w) for w in mean_words) / len(mean_words)
        if cfg.min_mean_word_length and mean < cfg.min_mean_word_length:
            return "gopher_below_avg_word_length"
        if cfg.max_mean_word_length and mean > cfg.max_mean_word_length:
            return "gopher_above_avg_word_length"
    prose = "\n".join(ln.prose for ln in a.lines)
    if cfg.max_symbol_word_ratio:
        # Markdown heading marks are structure, not hashtags
        hashes = prose.count("#") - sum(len(m.group(0)) - 1 for m in _MD_HEADING.finditer(prose))
        if hashes / max(1, n_words) > cfg.max_symbol_word_ratio:
            return "gopher_too_many_hashes"
        if (prose.count("...") + prose.count("…")) / max(1, n_words) > cfg.max_symbol_word_ratio:
            return "gopher_too_many_ellipsis"
    if lines:
        if cfg.max_bullet_lines_ratio:
            bullets = sum(ln.text.lstrip().startswith(BULLETS) for ln in lines)
            if bullets / len(lines) > cfg.max_bullet_lines_ratio:
                return "gopher_too_many_bullets"
        if cfg.max_ellipsis_lines_ratio:
            ell = sum(ln.prose.rstrip().endswith(("...", "…")) for ln in lines)
            if ell / len(lines) > cfg.max_ellipsis_lines_ratio:
                return "gopher_too_many_end_ellipsis"
    if cfg.min_alpha_words_ratio:
        # Gopher's words are whitespace-separated (datatrove counts spaCy punctuation tokens
        # as words, so "$a$, $b$ and $c$." is mostly non-alphabetic once math is masked)
        # Numbers inside sentences ("the abundant numbers below 100 are 1, 2, 3, ..."), on
        # lines of plain-text arithmetic ("48/2 = 24") and in sequences ("1, 1, 2, 3, 5") are
        # math content and count as words; numbers in table rows and scores do not.
        alpha = a.n_formulas
        total = a.n_formulas
        for ln, numeric_ok in zip(lines, math_lines):
            # TeX spacing and line-break commands (\\, \; \\) are layout, not words
            ws = [w for w in ln.prose.split() if not _TEX_SPACING.fullmatch(w)]
            total += len(ws)
            alpha += sum(any(c.isalpha() or (numeric_ok and c.isdigit()) for c in w) for w in ws)
        if alpha / max(1, total) < cfg.min_alpha_words_ratio:
            return "gopher_below_alpha_threshold"
    # Gopher's stop-word test asks "is this English prose?"; a worked solution or a theorem
    # states most of itself in formulas and sums, with one or two of the eight stop words
    min_stop = cfg.min_stop_words_with_math if has_math else cfg.min_stop_words
    if min_stop:
        found = STOP_WORDS.intersection(w.lower() for w in words)
        if len(found) < min_stop:
            return "gopher_few_stop_words"
    return None


# TeX layout outside formulas: \, \; \: \! \\ (and their runs with punctuation: "\,", ".\;")
_TEX_SPACING = re.compile(r"[.,;:]?(?:\\[,;:! ]|\\\\)+[.,;:]?")


def _repeats_by_design(ln: Line) -> bool:
    """Formulas, TeX source lines and structure labels ("Solution.", "Hint.", "2.") recur in
    every worked example of a math page; they are not the repetition Gopher looks for."""
    return is_markup_line(ln) or is_math_label(ln.text) or is_worked_step(ln.prose)


def _numbers_are_math(ln: Line) -> bool:
    """Numbers on this line are math: it is a sentence, a sum ("48/2 = 24") or a sequence."""
    return _ends_punctuated(ln) or has_arithmetic(ln.prose) or has_number_sequence(ln.prose)


def _dup_count_chars(items: list[str], exempt: list[bool]) -> tuple[int, int]:
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


def _paragraphs(a: Analysed) -> tuple[list[str], list[bool]]:
    paras: list[str] = []
    formula_only: list[bool] = []
    cur: list[Line] = []
    for ln in a.lines + [Line("", False, False, "")]:
        if ln.text.strip():
            cur.append(ln)
        elif cur:
            paras.append("\n".join(x.text for x in cur))
            formula_only.append(any(_repeats_by_design(x) for x in cur))
            cur = []
    return paras, formula_only


class NgramIndex:
    """Words as integer ids with vectorised n-gram hashes (numpy), for the Gopher n-gram rules.

    A formula is a gap: n-grams through it are not counted. Hashes are 64-bit polynomial
    hashes of word ids; a collision would need two different n-grams of one page to agree on
    64 bits.
    """

    def __init__(self, tokens: list[str | None]):
        import numpy as np

        vocab: dict[str, int] = {}
        ids = [vocab.setdefault(t, len(vocab)) if t is not None else -1 for t in tokens]
        self.ids = np.asarray(ids, dtype=np.int64)
        self.lens = np.asarray([len(t) if t is not None else 0 for t in tokens], dtype=np.int64)
        self.gap = np.concatenate(([0], np.cumsum(self.ids < 0)))
        self.clen = np.concatenate(([0], np.cumsum(self.lens)))

    def grams(self, n: int):
        """(hashes, valid, chars) for every n-gram start: chars = sum of its word lengths."""
        import numpy as np

        m = len(self.ids) - n + 1
        if m <= 0:
            e = np.zeros(0, dtype=np.int64)
            return e.astype(np.uint64), e.astype(bool), e
        h = np.zeros(m, dtype=np.uint64)
        mult = np.uint64(0x9E3779B97F4A7C15)
        with np.errstate(over="ignore"):
            for j in range(n):
                h = h * mult + (self.ids[j : j + m].astype(np.uint64) + np.uint64(1))
        valid = (self.gap[n : n + m] - self.gap[:m]) == 0
        chars = self.clen[n : n + m] - self.clen[:m]
        return h, valid, chars

    def top_chars(self, n: int) -> int:
        """Chars covered by the most frequent n-gram (its words joined by spaces) x its count."""
        import numpy as np

        h, valid, chars = self.grams(n)
        if not valid.any():
            return 0
        hv, cv = h[valid], chars[valid]
        uniq, first, counts = np.unique(hv, return_index=True, return_counts=True)
        # ties go to the n-gram seen first, as Counter.most_common does
        top = np.flatnonzero(counts == counts.max())
        k = int(top[np.argmin(first[top])])
        return int((cv[first[k]] + n - 1) * counts[k])

    def dup_chars(self, n: int) -> int:
        """datatrove's find_all_duplicate: chars of n-grams seen before, skipping past each
        repeat (the skipped positions are not remembered)."""
        h, valid, chars = self.grams(n)
        hs, vs, cs = h.tolist(), valid.tolist(), chars.tolist()
        seen: set[int] = set()
        total = 0
        i = 0
        end = len(hs)
        while i < end:
            if not vs[i]:
                i += 1
                continue
            x = hs[i]
            if x in seen:
                total += cs[i]
                i += n
            else:
                seen.add(x)
                i += 1
        return total


def gopher_repetition(
    text: str, url: str, cfg: CleanConfig, a: Analysed | None = None
) -> str | None:
    """Gopher repetition rules; repeated formula-only lines/paragraphs are not duplicates."""
    a = a or analyse(text)
    total = len(text) or 1
    paras, p_exempt = _paragraphs(a)
    if paras:
        n, chars = _dup_count_chars(paras, p_exempt)
        if cfg.max_dup_para_frac and n / len(paras) > cfg.max_dup_para_frac:
            return "gopher_dup_para_frac"
        if cfg.max_dup_para_char_frac and chars / total > cfg.max_dup_para_char_frac:
            return "gopher_dup_para_char_frac"
    lines = a.nonempty
    if lines:
        n, chars = _dup_count_chars(
            [ln.text for ln in lines], [_repeats_by_design(x) for x in lines]
        )
        if cfg.max_dup_line_frac and n / len(lines) > cfg.max_dup_line_frac:
            return "gopher_dup_line_frac"
        if cfg.max_dup_line_char_frac and chars / total > cfg.max_dup_line_char_frac:
            return "gopher_dup_line_char_frac"
    # Gopher's n-grams are over whitespace words (datatrove uses spaCy tokens, which makes
    # every "$x$, $y$" a run of punctuation n-grams); n-grams through a formula are skipped
    idx = NgramIndex(_words_with_formulas(a))
    # a page rich in formulas repeats its method in words in every worked example (the five
    # steps of a problem-solving strategy, restated for each example of an OpenStax section)
    scale = 1.0
    if cfg.math_rich_formulas and a.math_evidence >= cfg.math_rich_formulas:
        scale = cfg.ngram_scale_math_rich
    for n, frac in zip((2, 3, 4), cfg.top_ngram_fracs):
        if frac and idx.top_chars(n) / total > frac * scale:
            return f"gopher_top_{n}_gram"
    for n, frac in zip(range(5, 11), cfg.dup_ngram_fracs):
        if frac and idx.dup_chars(n) / total > frac * scale:
            return f"gopher_dup_{n}_gram"
    return None


def c4_document(text: str, url: str, cfg: CleanConfig, a: Analysed | None = None) -> str | None:
    """C4's page-level rules: 'lorem ipsum' anywhere; '{' outside formulas (off by default)."""
    a = a or analyse(text)
    if cfg.c4_lorem_ipsum and "lorem ipsum" in text.lower():
        return "c4_lorem_ipsum"
    if cfg.c4_curly_brace and any("{" in ln.prose for ln in a.lines):
        return "c4_curly_brace"
    return None


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


def _is_exercise_prompt(lines: list[Line], i: int) -> bool:
    """ "Translate each word phrase into an algebraic expression:" followed by a line with a
    formula: the instruction of an exercise set, repeated before every group of exercises."""
    t = lines[i].text.rstrip()
    return t.endswith(":") and i + 1 < len(lines) and lines[i + 1].has_math


def _ends_punctuated(ln: Line) -> bool:
    """A line ends a sentence if it ends in terminal punctuation or in a formula (or is code)."""
    if ln.is_formula or is_code_line(ln):
        return True
    t = ln.text.rstrip()
    if t.endswith(TERMINAL_PUNCT):
        return True
    # "... for all $x > 0$" ends with a formula: the sentence ends in math, not in junk
    return ln.ends_with_math


def fineweb_quality(text: str, url: str, cfg: CleanConfig, a: Analysed | None = None) -> str | None:
    """FineWeb's line-statistics rules; formula lines are punctuated and never short."""
    if not cfg.fineweb_lines:
        return None
    a = a or analyse(text)
    lines = a.nonempty
    if not lines:
        return "fineweb_empty"
    if cfg.fineweb_line_punct_ratio:
        ratio = sum(_ends_punctuated(ln) for ln in lines) / len(lines)
        if ratio < cfg.fineweb_line_punct_ratio:
            return "fineweb_line_punct_ratio"
    if cfg.fineweb_short_line_ratio:
        short = sum(
            not (ln.is_formula or is_code_line(ln))
            and len(ln.text.strip()) <= cfg.fineweb_short_line_chars
            for ln in lines
        )
        if short / len(lines) > cfg.fineweb_short_line_ratio:
            return "fineweb_short_line_ratio"
    if cfg.fineweb_char_dup_ratio:
        # lines with math, code, list items and short lines (labels like "Solution.", "Hint.",
        # "2.", multiple-choice answers, truth-table rows) repeat by design in textbooks and
        # exercise sets; repeated prose lines are what this rule is after
        short = cfg.fineweb_short_line_chars
        exempt = [
            is_markup_line(ln)
            or len(ln.text.strip()) <= short
            or is_code_line(ln)
            or is_list_item(ln)
            or _is_exercise_prompt(lines, i)
            for i, ln in enumerate(lines)
        ]
        _, chars = _dup_count_chars([ln.text for ln in lines], exempt)
        limit = cfg.fineweb_char_dup_ratio
        # exercise sets restate their instructions ("Find the slope of the line shown.") and
        # worked examples their method's steps; FineWeb's 1% was set on prose
        if cfg.math_rich_formulas and a.math_evidence >= cfg.math_rich_formulas:
            limit = max(limit, cfg.fineweb_char_dup_ratio_math_rich)
        if chars / max(1, len(text.replace("\n", ""))) > limit:
            return "fineweb_char_dup_ratio"
    if cfg.fineweb_list_ratio:
        n_words = len(a.words) + a.formula_words
        # line breaks between non-blank logical lines: a blank line between paragraphs and a
        # formula's own newlines are layout, not list items
        if (len(lines) - 1) / max(1, n_words) > cfg.fineweb_list_ratio:
            return "fineweb_list_ratio"
    return None


# ---------------------------------------------------------------------------------------------
# URL lists


@dataclass(frozen=True)
class UrlList:
    """Domains (match the host or any parent), URL words (tokens) and URL substrings."""

    domains: frozenset[str]
    words: frozenset[str]
    substrings: tuple[str, ...]

    def match(self, url: str) -> str | None:
        """The entry kind that matches ``url`` ('domain', 'word', 'substr'), or None."""
        try:
            host = (urlsplit(url).hostname or "").lower().rstrip(".")
        except ValueError:
            host = ""
        if host and self.domains:
            parts = host.split(".")
            for i in range(len(parts) - 1):
                if ".".join(parts[i:]) in self.domains:
                    return "domain"
        low = url.lower()
        if self.words:
            toks = set(re.split(r"[^a-z0-9]+", low))
            if toks & self.words:
                return "word"
        if self.substrings:
            flat = re.sub(r"[^a-z0-9]+", "", low)
            for s in self.substrings:
                if s in flat:
                    return "substr"
        return None


def parse_url_list(lines: Iterable[str]) -> UrlList:
    """Lines: ``example.com`` (domain), ``word:xxx`` (URL token), ``substr:xxx`` (URL substring,
    compared with non-alphanumerics removed); ``#`` starts a comment."""
    domains, words, subs = set(), set(), []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("word:"):
            words.add(re.sub(r"[^a-z0-9]+", "", line[5:].lower()))
        elif line.startswith("substr:"):
            subs.append(re.sub(r"[^a-z0-9]+", "", line[7:].lower()))
        else:
            domains.add(line.lower().removeprefix("domain:").strip().rstrip("."))
    return UrlList(
        frozenset(domains), frozenset(w for w in words if w), tuple(s for s in subs if s)
    )


@lru_cache(maxsize=8)
def load_url_list(path: str) -> UrlList:
    p = Path(path)
    if not p.is_file():
        from pipeline.errors import UserError

        raise UserError(f"URL list {path!r} does not exist; fix clean.url_blocklist/allowlist")
    return parse_url_list(p.read_text(encoding="utf-8").splitlines())


def blocklist_for(cfg: CleanConfig) -> UrlList:
    return load_url_list(cfg.url_blocklist or str(DEFAULT_BLOCKLIST))


def allowlist_for(cfg: CleanConfig) -> UrlList | None:
    return load_url_list(cfg.url_allowlist) if cfg.url_allowlist else None


def url_blocklist(text: str, url: str, cfg: CleanConfig, a: Analysed | None = None) -> str | None:
    kind = blocklist_for(cfg).match(url)
    return f"url_blocklist_{kind}" if kind else None


# ---------------------------------------------------------------------------------------------
# line rules: (lines, cfg) -> (kept, removed)


def c4_lines(lines: list[Line], cfg: CleanConfig) -> tuple[list[Line], list[Line]]:
    """C4's line removals, math-aware: javascript/policy words and long words are looked for
    outside formulas only; formula lines are never short or unpunctuated."""
    kept, removed = [], []
    for ln in lines:
        if not ln.text.strip() or ln.has_math:
            kept.append(ln)  # a line with a formula is content, whatever words surround it
            continue
        prose = ln.prose.lower()
        drop = False
        if cfg.c4_max_word_length and any(len(w) > cfg.c4_max_word_length for w in prose.split()):
            drop = True
        elif cfg.c4_javascript_lines and "javascript" in prose:
            drop = True
        elif cfg.c4_policy_lines and any(p in prose for p in POLICY_SUBSTRINGS):
            drop = True
        elif cfg.c4_terminal_punct:
            t = _CITATION_RE.sub("", ln.text).rstrip()
            if not ln.has_math and (not t.endswith(C4_END_PUNCT) or t.endswith("...")):
                drop = True
        if not drop and cfg.c4_min_words_per_line and not ln.has_math:
            if len(ln.text.split()) < cfg.c4_min_words_per_line:
                drop = True
        (removed if drop else kept).append(ln)
    return kept, removed


_HASH_STRIP = re.compile(r"[^\w\s]")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def line_key(text: str) -> str:
    """cc_net's line normal form: lower case, numbers as 0, punctuation removed, spaces collapsed."""
    t = _DIGITS.sub("0", text.lower())
    t = _HASH_STRIP.sub("", t)
    return _SPACES.sub(" ", t).strip()


def line_hash(text: str) -> int:
    """Signed 64-bit hash of a line's normal form (a Spark LongType)."""
    d = hashlib.blake2b(line_key(text).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(d, "big", signed=True)


def _may_be_boilerplate(ln: Line) -> bool:
    # plain-text arithmetic ("48/2 = 24") is math too: numbers normalise to 0 in the line key,
    # so two exercises differing only in their numbers would otherwise share a key
    return (
        not is_markup_line(ln)  # formulas and TeX source lines (\\begin{proof}, \\noindent)
        and not is_math_label(ln.text)
        and not has_arithmetic(ln.text)
        and bool(line_key(ln.text))
    )


def hashable_lines(lines: list[Line]) -> list[Line]:
    """Lines that may be boilerplate: no formula, no math structure label, not blank."""
    return [ln for ln in lines if _may_be_boilerplate(ln)]


def page_line_hashes(text: str) -> list[int]:
    """Distinct hashes of the page's candidate boilerplate lines (the Spark counting input)."""
    return sorted({line_hash(ln.text) for ln in hashable_lines(split_lines(text))})


def boilerplate_lines(
    lines: list[Line], hashes: frozenset[int] | set[int]
) -> tuple[list[Line], list[Line]]:
    """Remove lines whose hash is in this domain's boilerplate set; lines with math and math
    structure labels ("Proof.", "Example 2.1.") stay."""
    if not hashes:
        return lines, []
    kept, removed = [], []
    for ln in lines:
        if ln.text.strip() and _may_be_boilerplate(ln):
            if line_hash(ln.text) in hashes:
                removed.append(ln)
                continue
        kept.append(ln)
    return kept, removed


# ---------------------------------------------------------------------------------------------
# the decision record and the per-document composition


@dataclass
class RuleVerdict:
    rule: str  # the rule's name, e.g. "gopher_quality"
    outcome: str  # keep | drop | lines (some removed) | bypass | off | skipped | not_run
    reason: str | None = None  # the named reason when outcome == "drop"
    removed: list[str] = field(default_factory=list)  # lines removed by a line rule

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "reason": self.reason,
            "removed": list(self.removed),
        }


@dataclass
class Decision:
    """What the clean stage did to one document, rule by rule (``mathmine explain`` prints it)."""

    id: str
    url: str
    keep: bool = True
    reason: str | None = None  # the first drop reason
    verdicts: list[RuleVerdict] = field(default_factory=list)
    lines_in: int = 0
    lines_out: int = 0
    pii_emails: int = 0
    pii_ips: int = 0

    def removed_lines(self) -> list[tuple[str, str]]:
        return [(v.rule, line) for v in self.verdicts for line in v.removed]

    def lines_removed_by_rule(self) -> dict[str, int]:
        return {v.rule: len(v.removed) for v in self.verdicts if v.removed}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "keep": self.keep,
            "reason": self.reason,
            "lines_in": self.lines_in,
            "lines_out": self.lines_out,
            "pii_emails": self.pii_emails,
            "pii_ips": self.pii_ips,
            "rules": [v.to_dict() for v in self.verdicts],
        }


DocRule = Callable[..., "str | None"]
# order matters only for which reason a page is counted under: cheapest and most specific first
DOC_RULES: tuple[tuple[str, DocRule], ...] = (
    ("gopher_repetition", gopher_repetition),
    ("gopher_quality", gopher_quality),
    ("c4_document", c4_document),
    ("fineweb_quality", fineweb_quality),
)
LINE_RULES = ("boilerplate_lines", "c4_lines")  # the rules that remove lines (not pages)
RULE_NAMES = (
    "url_allowlist",
    "url_blocklist",
    "normalize",
    "boilerplate_lines",
    "c4_lines",
    *(name for name, _ in DOC_RULES),
    "pii",
)


def clean_document(
    doc: dict, cfg: CleanConfig, all_rules: bool = False
) -> tuple[dict | None, Decision]:
    """Apply every rule to one document (a dict with at least ``text`` and ``url``).

    Returns the cleaned document (a copy with the new ``text``) or None if dropped, and the
    :class:`Decision`. ``doc["boilerplate_hashes"]`` (optional) holds the hashes of lines that
    recur across pages of this document's domain (computed by the Spark job). With
    ``all_rules`` every document rule runs even after one drops the page (for explain);
    otherwise the rules after the first drop are ``not_run``.
    """
    url = doc.get("url") or ""
    text = doc.get("text") or ""
    dec = Decision(id=str(doc.get("id") or ""), url=url)
    v = dec.verdicts

    def drop(reason: str) -> None:
        if dec.keep:
            dec.keep = False
            dec.reason = reason

    if not cfg.enabled:
        v.extend(RuleVerdict(r, "off") for r in RULE_NAMES)
        return dict(doc), dec

    allow = allowlist_for(cfg)
    allowed = bool(allow and allow.match(url))
    # "bypass": on the allowlist, so no quality rule applies (normalisation and PII still do)
    v.append(
        RuleVerdict("url_allowlist", "off" if allow is None else "bypass" if allowed else "keep")
    )

    if allowed:
        v.append(RuleVerdict("url_blocklist", "skipped"))
    else:
        r = url_blocklist(text, url, cfg)
        v.append(RuleVerdict("url_blocklist", "drop" if r else "keep", r))
        if r:
            drop(r)

    if cfg.normalize_unicode:
        text = normalize_text(text)
        v.append(RuleVerdict("normalize", "keep"))
    else:
        v.append(RuleVerdict("normalize", "off"))

    spans = math_spans(text)
    lines = split_lines(text, spans)
    dec.lines_in = sum(1 for ln in lines if ln.text.strip())
    changed = False

    if allowed:
        v.append(RuleVerdict("boilerplate_lines", "skipped"))
        v.append(RuleVerdict("c4_lines", "skipped"))
    else:
        hashes = doc.get("boilerplate_hashes")
        if cfg.boilerplate_lines and hashes:
            lines, removed = boilerplate_lines(lines, frozenset(int(h) for h in hashes))
            v.append(
                RuleVerdict(
                    "boilerplate_lines",
                    "lines" if removed else "keep",
                    None,
                    [ln.text for ln in removed],
                )
            )
        else:
            v.append(RuleVerdict("boilerplate_lines", "keep" if cfg.boilerplate_lines else "off"))
        lines, removed = c4_lines(lines, cfg)
        v.append(
            RuleVerdict(
                "c4_lines", "lines" if removed else "keep", None, [ln.text for ln in removed]
            )
        )
        if any(x.removed for x in v):
            text = _MANY_BLANK.sub("\n\n", "\n".join(ln.text for ln in lines)).strip("\n")
            changed = True
    dec.lines_out = sum(1 for ln in lines if ln.text.strip())

    if dec.keep and not text.strip():
        drop(EMPTY_TEXT)

    a = analyse(text, None if changed else spans) if text.strip() else None
    for name, rule in DOC_RULES:
        if allowed:
            v.append(RuleVerdict(name, "skipped"))
        elif a is None or (not dec.keep and not all_rules):
            v.append(RuleVerdict(name, "not_run"))
        else:
            r = rule(text, url, cfg, a)
            v.append(RuleVerdict(name, "drop" if r else "keep", r))
            if r:
                drop(r)

    if cfg.pii and dec.keep:
        counts = PIICounts()
        text = replace_pii(text, counts=counts)
        dec.pii_emails, dec.pii_ips = counts.emails, counts.ips
        v.append(RuleVerdict("pii", "keep"))
    else:
        v.append(RuleVerdict("pii", "off" if not cfg.pii else "not_run"))

    if not dec.keep:
        return None, dec
    out = dict(doc)
    out.pop("boilerplate_hashes", None)
    out["text"] = text
    return out, dec


_MANY_BLANK = re.compile(r"\n{3,}")


def count_decision(stats: StageStats, dec: Decision) -> None:
    """Add one document's decision to the stage counters (per rule name)."""
    if dec.keep:
        stats.keep()
    else:
        stats.drop(dec.reason or "unknown")
    stats.add("lines_in", dec.lines_in)
    stats.add("lines_out", dec.lines_out)
    removed = dec.lines_removed_by_rule()
    for rule in LINE_RULES:
        stats.add(f"lines_removed_{rule}", removed.get(rule, 0))
    if dec.pii_emails:
        stats.add("pii_emails", dec.pii_emails)
    if dec.pii_ips:
        stats.add("pii_ips", dec.pii_ips)


def clean_records(docs: Iterable[dict], cfg: CleanConfig) -> Iterator[tuple[dict | None, Decision]]:
    for doc in docs:
        yield clean_document(doc, cfg)


def clean_partition(
    docs: Iterable[dict], cfg: CleanConfig, stats: StageStats | None = None
) -> Iterator[dict]:
    """The clean stage: kept documents with cleaned text; drops counted per rule in ``stats``."""
    for doc in docs:
        out, dec = clean_document(doc, cfg)
        if stats is not None:
            count_decision(stats, dec)
        if out is not None:
            yield out
