"""Gopher's quality and repetition rules (Rae et al. 2021, table A1), math-aware.

Page rules ``(text, url, cfg, a) -> None | reason``. A formula counts as the words it reads as,
never as a symbol or a short word; formula lines, TeX source lines, structure labels and worked
steps are never duplicates; n-grams through a formula are skipped. ``pipeline/defaults.yaml``
says which thresholds changed for math and why.
"""

from __future__ import annotations

import re

from pipeline.clean_analysis import (
    TOKEN_RE,
    WORDLIKE,
    Analysed,
    analyse,
    count_duplicates,
    is_number_row,
    numbers_are_math,
    repeats_by_design,
)
from pipeline.config import CleanConfig
from pipeline.math_text import is_worked_step
from pipeline.text_norm import Line

STOP_WORDS = frozenset(("the", "be", "to", "of", "and", "that", "have", "with"))  # Gopher's
BULLETS = ("•", "-", "●", "▪", "◦", "‣", "∙")
# TeX layout outside formulas: \, \; \: \! \\ (and their runs with punctuation: "\,", ".\;")
_TEX_SPACING = re.compile(r"[.,;:]?(?:\\[,;:! ]|\\\\)+[.,;:]?")


def words_with_formulas(a: Analysed, number_rows: bool = False) -> list[str | None]:
    """The whitespace words of lines without math, in order; a line with a formula or with a
    worked step of plain arithmetic ("48/2 = 24") is one ``None`` gap (n-grams across it are
    skipped).

    Exercise sets state one formula per line with the same wording ("Find the first five terms
    of the sequence where the first term is $a_1 = 5$ and the common difference is $d = 3$.",
    22 times in an OpenStax section): that wording repeats by design, so Gopher's n-gram
    shares are measured on the prose lines only. With ``number_rows`` a row of numbers is a
    gap too: a table of invariants repeats "0 0" by nature (exponents of primes in $n!$).
    """
    out: list[str | None] = []
    for ln in a.lines:
        if ln.has_math or is_worked_step(ln.prose) or (number_rows and is_number_row(ln)):
            out.append(None)
        else:
            out.extend(ln.prose.split())  # the text's words, Markdown layout masked
    return out


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
    # numbers in sentences, sums and sequences are math, not 1-letter words; numbers in
    # table rows still count (sports tables fail here), unless the table is a page with
    # math's table of invariants (factorizations, Mersenne primes: short tokens by nature)
    math_tables = cfg.math_tables and has_math
    math_lines = [numbers_are_math(ln) or (math_tables and is_number_row(ln)) for ln in lines]
    mean_words = words
    if any(math_lines):
        mean_words = [
            t
            for ln, ok in zip(lines, math_lines)
            for t in TOKEN_RE.findall(ln.prose)
            if WORDLIKE.search(t) and not (ok and t.isdigit())
        ]
    if mean_words:
        mean = sum(len(w) for w in mean_words) / len(mean_words)
        if cfg.min_mean_word_length and mean < cfg.min_mean_word_length:
            return "gopher_below_avg_word_length"
        if cfg.max_mean_word_length and mean > cfg.max_mean_word_length:
            return "gopher_above_avg_word_length"
    prose = "\n".join(ln.prose for ln in a.lines)
    if cfg.max_symbol_word_ratio:
        # Markdown heading marks are structure, not hashtags: Line.prose has them masked
        hashes = prose.count("#")
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


def _paragraphs(a: Analysed) -> tuple[list[str], list[bool]]:
    paras: list[str] = []
    formula_only: list[bool] = []
    cur: list[Line] = []
    for ln in a.lines + [Line("", False, False, "")]:
        if ln.text.strip():
            cur.append(ln)
        elif cur:
            paras.append("\n".join(x.text for x in cur))
            formula_only.append(any(repeats_by_design(x) for x in cur))
            cur = []
    return paras, formula_only


class WordNgrams:
    """A page's words as integer ids, with the hashes of their n-grams (numpy), for the Gopher
    n-gram rules.

    A formula is a gap: n-grams through it are not counted. Hashes are the project's 64-bit
    polynomial n-gram hashes (``pipeline/ngram_hash.py``) of word ids; a collision would need
    two different n-grams of one page to agree on 64 bits. They live only while one page is
    judged (nothing stores them).
    """

    def __init__(self, tokens: list[str | None]):
        import numpy as np

        from pipeline.ngram_hash import prefix_sums

        vocab: dict[str, int] = {}
        ids = [vocab.setdefault(t, len(vocab)) if t is not None else -1 for t in tokens]
        self.ids = np.asarray(ids, dtype=np.int64)
        self.lens = np.asarray([len(t) if t is not None else 0 for t in tokens], dtype=np.int64)
        self.gap = np.concatenate(([0], np.cumsum(self.ids < 0)))
        self.clen = np.concatenate(([0], np.cumsum(self.lens)))
        self.prefix = prefix_sums(self.ids)  # one prefix sum serves every n

    def grams(self, n: int):
        """(hashes, valid, chars) for every n-gram start: chars = sum of its word lengths."""
        import numpy as np

        from pipeline.ngram_hash import ngram_hashes

        m = len(self.ids) - n + 1
        if m <= 0:
            e = np.zeros(0, dtype=np.int64)
            return e.astype(np.uint64), e.astype(bool), e
        h = ngram_hashes(self.ids, n, self.prefix)
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
        n, chars = count_duplicates(paras, p_exempt)
        if cfg.max_dup_para_frac and n / len(paras) > cfg.max_dup_para_frac:
            return "gopher_dup_para_frac"
        if cfg.max_dup_para_char_frac and chars / total > cfg.max_dup_para_char_frac:
            return "gopher_dup_para_char_frac"
    lines = a.nonempty
    if lines:
        n, chars = count_duplicates(
            [ln.text for ln in lines], [repeats_by_design(x) for x in lines]
        )
        if cfg.max_dup_line_frac and n / len(lines) > cfg.max_dup_line_frac:
            return "gopher_dup_line_frac"
        if cfg.max_dup_line_char_frac and chars / total > cfg.max_dup_line_char_frac:
            return "gopher_dup_line_char_frac"
    # Gopher's n-grams are over whitespace words (datatrove uses spaCy tokens, which makes
    # every "$x$, $y$" a run of punctuation n-grams); n-grams through a formula are skipped
    math_tables = cfg.math_tables and a.math_evidence >= cfg.math_min_formulas
    idx = WordNgrams(words_with_formulas(a, number_rows=math_tables))
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
