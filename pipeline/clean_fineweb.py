"""FineWeb's line-statistics rules (Penedo et al. 2024, as implemented in datatrove),
math-aware: a formula line counts as punctuated and is never short; repeated lines with math,
code, list items, short labels and exercise prompts are not duplicates.
"""

from __future__ import annotations

from pipeline.clean_analysis import (
    Analysed,
    analyse,
    count_duplicates,
    ends_punctuated,
    is_code_line,
    is_exercise_prompt,
    is_list_item,
    is_markup_line,
)
from pipeline.config import CleanConfig


def fineweb_quality(text: str, url: str, cfg: CleanConfig, a: Analysed | None = None) -> str | None:
    """FineWeb's line-statistics rules; formula lines are punctuated and never short."""
    if not cfg.fineweb_lines:
        return None
    a = a or analyse(text)
    lines = a.nonempty
    if not lines:
        return "fineweb_empty"
    # whether the page is prose or a menu is a question about pages without math: a page with
    # formulas mixes display lines, tables, labels and its site's metadata table (PlanetMath's
    # short definitions: 17 metadata lines around two sentences), and Gopher still judges it
    line_ratios = cfg.fineweb_line_ratios_with_math or a.math_evidence < cfg.math_min_formulas
    if cfg.fineweb_line_punct_ratio and line_ratios:
        ratio = sum(ends_punctuated(ln) for ln in lines) / len(lines)
        if ratio < cfg.fineweb_line_punct_ratio:
            return "fineweb_line_punct_ratio"
    if cfg.fineweb_short_line_ratio and line_ratios:
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
            or is_exercise_prompt(lines, i)
            for i, ln in enumerate(lines)
        ]
        _, chars = count_duplicates([ln.text for ln in lines], exempt)
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
