"""C4's rules (Raffel et al. 2020), math-aware: a page rule (lorem ipsum, curly braces outside
formulas) and a line rule (javascript, policy and over-long-word lines; the terminal-punctuation
and words-per-line rules are off by default because display formulas and theorem labels end
without a period). A line with a formula is never removed.
"""

from __future__ import annotations

import re

from pipeline.clean_analysis import Analysed, analyse
from pipeline.config import CleanConfig
from pipeline.text_norm import Line

C4_END_PUNCT = (".", "?", "!", '"', "'")
# C4's policy phrases: cookie banners and legal footers
POLICY_SUBSTRINGS = tuple(
    "terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies".split("|")
)
_CITATION_RE = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")


def c4_document(text: str, url: str, cfg: CleanConfig, a: Analysed | None = None) -> str | None:
    """C4's page-level rules: 'lorem ipsum' anywhere; '{' outside formulas (off by default)."""
    a = a or analyse(text)
    if cfg.c4_lorem_ipsum and "lorem ipsum" in text.lower():
        return "c4_lorem_ipsum"
    if cfg.c4_curly_brace and any("{" in ln.prose for ln in a.lines):
        return "c4_curly_brace"
    return None


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
