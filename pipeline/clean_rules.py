"""The cleaning chain as data: every rule in the order it runs, what it reads, its config keys,
why it does not hurt math, and the counters it adds to.

``clean_document`` (pipeline/clean_chain.py), ``mathmine clean`` and ``mathmine explain``
(jobs/) and ``make bench-clean`` walk :data:`RULES`; adding a rule is one entry here. A rule's
kind says how it is called and when it runs:

- ``gate``  ``apply(url, cfg) -> None | bool``: None = no list configured, True = the page
  bypasses every line and page rule (edits still apply);
- ``edit``  ``apply(text, cfg, dec) -> text``: rewrites the text before any rule reads it;
- ``line``  ``apply(lines, cfg, doc) -> (kept, removed)``: removes lines; runs on a page that
  is already dropped too, so ``explain`` and the line counters show what it would remove;
- ``page``  ``apply(text, url, cfg, analysed) -> None | reason``: keeps or drops the page;
  reads the URL only, or the text left after the line rules (:class:`Analysed` once per page);
  after a drop, the later page rules run only for ``explain`` (``all_rules``);
- ``output`` ``apply(text, cfg, dec) -> text``: rewrites the text of kept pages only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.clean_boilerplate import boilerplate_lines
from pipeline.clean_c4 import c4_document, c4_lines
from pipeline.clean_fineweb import fineweb_quality
from pipeline.clean_gopher import gopher_quality, gopher_repetition
from pipeline.clean_thread_chrome import thread_chrome_lines
from pipeline.clean_url_lists import allowlist_for, url_blocklist
from pipeline.config import CleanConfig
from pipeline.pii import PIICounts, replace_pii
from pipeline.text_norm import Line, normalize_text

GATE, EDIT, LINE, PAGE, OUTPUT = "gate", "edit", "line", "page", "output"
KINDS = (GATE, EDIT, LINE, PAGE, OUTPUT)
READS_URL = "url"
READS_TEXT = "analysed text"  # the text left after the line rules, analysed once


def _always(cfg: CleanConfig) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    name: str  # the verdict's name in explain and clean decisions
    kind: str  # one of KINDS: how it is called and when it runs (module docstring)
    family: str  # the rule family bench-clean reports it under
    reads: str  # what it looks at
    config_keys: tuple[str, ...]  # the clean.* keys that set it
    math_safety: str  # one sentence: why it does not hurt math
    apply: Callable[..., Any]
    reasons: tuple[str, ...] = ()  # page rules: every drop reason it can return
    counts: tuple[str, ...] = ()  # other stats.json counters it adds to
    enabled: Callable[[CleanConfig], bool] = _always  # False: verdict "off", not applied

    @property
    def counters(self) -> tuple[str, ...]:
        """The stats.json keys of this rule: its drop reasons (under ``dropped``), its
        lines-removed counter, its other counts."""
        lines = (lines_removed_counter(self.name),) if self.kind == LINE else ()
        return self.reasons + lines + self.counts


def lines_removed_counter(rule_name: str) -> str:
    """The stats.json key counting the lines a line rule removed."""
    return f"lines_removed_{rule_name}"


# --- adapters from the rule functions to their kind's call -------------------------------------


def _allowlisted(url: str, cfg: CleanConfig) -> bool | None:
    allow = allowlist_for(cfg)
    return None if allow is None else bool(allow.match(url))


def _normalize(text: str, cfg: CleanConfig, dec: Any) -> str:
    return normalize_text(text)


def _domain_boilerplate(
    lines: list[Line], cfg: CleanConfig, doc: dict
) -> tuple[list[Line], list[Line]]:
    hashes = doc.get("boilerplate_hashes")
    if not hashes:
        return lines, []
    return boilerplate_lines(lines, frozenset(int(h) for h in hashes))


def _lines_and_url(rule: Callable[..., Any]) -> Callable[..., Any]:
    """A line rule that reads the page's lines and its URL."""

    def apply(lines: list[Line], cfg: CleanConfig, doc: dict) -> tuple[list[Line], list[Line]]:
        return rule(lines, cfg, doc.get("url") or "")

    return apply


def _page_lines_only(rule: Callable[..., Any]) -> Callable[..., Any]:
    """A line rule that reads the page's lines and no other field of the document."""

    def apply(lines: list[Line], cfg: CleanConfig, doc: dict) -> tuple[list[Line], list[Line]]:
        return rule(lines, cfg)

    return apply


def _pii(text: str, cfg: CleanConfig, dec: Any) -> str:
    counts = PIICounts()
    text = replace_pii(text, counts=counts)
    dec.pii_emails, dec.pii_ips = counts.emails, counts.ips
    return text


_GOPHER_QUALITY_KEYS = (
    "min_words",
    "min_words_with_math",
    "math_min_formulas",
    "max_words",
    "min_mean_word_length",
    "max_mean_word_length",
    "max_symbol_word_ratio",
    "max_bullet_lines_ratio",
    "max_ellipsis_lines_ratio",
    "min_alpha_words_ratio",
    "min_stop_words",
    "min_stop_words_with_math",
    "math_tables",
)

RULES: tuple[Rule, ...] = (
    Rule(
        "url_allowlist",
        GATE,
        "url",
        READS_URL,
        ("url_allowlist",),
        "Drops nothing: pages on the list skip every line and page rule.",
        _allowlisted,
    ),
    Rule(
        "url_blocklist",
        PAGE,
        "url",
        READS_URL,
        ("url_blocklist",),
        "Reads only the URL; the bundled list's words and substrings spare math URLs "
        "(tests/test_quality.py checks real math URLs).",
        url_blocklist,
        reasons=("url_blocklist_domain", "url_blocklist_word", "url_blocklist_substr"),
    ),
    Rule(
        "normalize",
        EDIT,
        "normalize",
        "text",
        ("normalize_unicode",),
        "Formulas are copied byte for byte; only prose outside them is NFC-normalised and "
        "its whitespace collapsed.",
        _normalize,
        enabled=lambda cfg: cfg.normalize_unicode,
    ),
    Rule(
        "boilerplate_lines",
        LINE,
        "boilerplate",
        "lines + the domain's common line hashes (doc['boilerplate_hashes'])",
        ("boilerplate_lines", "boilerplate_min_pages"),
        "Lines with a formula, TeX control words, a math structure label or arithmetic are "
        "never hashed nor removed.",
        _domain_boilerplate,
        enabled=lambda cfg: cfg.boilerplate_lines,
    ),
    Rule(
        "c4_lines",
        LINE,
        "c4",
        "lines",
        (
            "c4_javascript_lines",
            "c4_policy_lines",
            "c4_max_word_length",
            "c4_terminal_punct",
            "c4_min_words_per_line",
        ),
        "A line with a formula is never removed; javascript, policy words and long words are "
        "looked for outside formulas.",
        _page_lines_only(c4_lines),
    ),
    Rule(
        "thread_chrome",
        LINE,
        "thread",
        "lines, url",
        (
            "thread_chrome_lines",
            "thread_chrome_min_repeats",
            "thread_chrome_max_chars",
            "thread_chrome_post_words",
            "thread_quote_min_chars",
            "thread_chrome_max_share",
        ),
        "Lines with a formula, TeX, a structure label, a worked step or arithmetic are never "
        "chrome nor quote copies, and only pages that speak forum or have a thread's URL are "
        "touched.",
        _lines_and_url(thread_chrome_lines),
        enabled=lambda cfg: cfg.thread_chrome_lines,
    ),
    Rule(
        "gopher_repetition",
        PAGE,
        "gopher_repetition",
        READS_TEXT,
        (
            "max_dup_line_frac",
            "max_dup_para_frac",
            "max_dup_line_char_frac",
            "max_dup_para_char_frac",
            "top_ngram_fracs",
            "dup_ngram_fracs",
            "math_rich_formulas",
            "ngram_scale_math_rich",
            "math_tables",
            "math_min_formulas",
        ),
        "Formula and TeX lines, structure labels and worked steps are never duplicates, "
        "n-grams through a formula are skipped, and n-gram limits are x1.5 on math-rich pages.",
        gopher_repetition,
        reasons=(
            "gopher_dup_para_frac",
            "gopher_dup_para_char_frac",
            "gopher_dup_line_frac",
            "gopher_dup_line_char_frac",
            *(f"gopher_top_{n}_gram" for n in (2, 3, 4)),
            *(f"gopher_dup_{n}_gram" for n in range(5, 11)),
        ),
    ),
    Rule(
        "gopher_quality",
        PAGE,
        "gopher_quality",
        READS_TEXT,
        _GOPHER_QUALITY_KEYS,
        "A formula counts as the words it reads as, never as a symbol or a short word; a page "
        "with math needs 20 words and one stop word, and its rows of numbers are math.",
        gopher_quality,
        reasons=(
            "gopher_short_doc",
            "gopher_long_doc",
            "gopher_below_avg_word_length",
            "gopher_above_avg_word_length",
            "gopher_too_many_hashes",
            "gopher_too_many_ellipsis",
            "gopher_too_many_bullets",
            "gopher_too_many_end_ellipsis",
            "gopher_below_alpha_threshold",
            "gopher_few_stop_words",
        ),
    ),
    Rule(
        "c4_document",
        PAGE,
        "c4",
        READS_TEXT,
        ("c4_lorem_ipsum", "c4_curly_brace"),
        "'{' is looked for outside formulas only, and that rule is off by default (TeX syntax).",
        c4_document,
        reasons=("c4_lorem_ipsum", "c4_curly_brace"),
    ),
    Rule(
        "fineweb_quality",
        PAGE,
        "fineweb",
        READS_TEXT,
        (
            "fineweb_lines",
            "fineweb_line_punct_ratio",
            "fineweb_short_line_chars",
            "fineweb_short_line_ratio",
            "fineweb_char_dup_ratio",
            "fineweb_char_dup_ratio_math_rich",
            "fineweb_list_ratio",
            "fineweb_line_ratios_with_math",
            "math_min_formulas",
            "math_rich_formulas",
        ),
        "A formula line counts as punctuated and is never short, pages with math skip the "
        "short/punctuated line ratios; repeated math, code, list, label and prompt lines are "
        "not duplicates.",
        fineweb_quality,
        reasons=(
            "fineweb_empty",
            "fineweb_line_punct_ratio",
            "fineweb_short_line_ratio",
            "fineweb_char_dup_ratio",
            "fineweb_list_ratio",
            "fineweb_line_ratios_with_math",
            "math_min_formulas",
            "math_rich_formulas",
        ),
    ),
    Rule(
        "pii",
        OUTPUT,
        "pii",
        "text",
        ("pii",),
        "E-mail addresses and IPs are replaced outside formulas only.",
        _pii,
        counts=("pii_emails", "pii_ips"),
        enabled=lambda cfg: cfg.pii,
    ),
)

RULE_NAMES = tuple(r.name for r in RULES)
LINE_RULES = tuple(r.name for r in RULES if r.kind == LINE)  # the rules that remove lines
PAGE_RULES = tuple(r for r in RULES if r.kind == PAGE)
FAMILIES = tuple(dict.fromkeys(r.family for r in RULES))


def rule_named(name: str) -> Rule:
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(name)
