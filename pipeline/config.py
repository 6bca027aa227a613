"""The run configuration and its schema: one frozen dataclass per section, loaded from YAML.

This file is the one place a setting is defined. Each field is declared with :func:`setting`:
its type (the annotation), its default, the values it accepts (``range``: an interval such as
``"[0, 1]"`` or ``">= 1"``, for a tuple each item's; ``choices``; ``max_items``) and ``why``,
the reason for the default. ``load_config`` checks every value against it and refuses a bad one
with a :class:`ConfigError` (a :class:`~pipeline.errors.UserError`: one line, exit code 2)
that names the key, what it accepts and the value given.

``pipeline/defaults.yaml`` is generated from these fields (``make defaults-yaml``, i.e.
``python -m pipeline.defaults_yaml --write``; see that module for why it is generated rather
than hand-kept) and a test fails when the file differs from what the schema renders. Code
reads a setting as ``cfg.key``: never ``getattr(cfg, "key", default)``, which would be a
second default that can drift (tests/test_config.py scans for it).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import UserError

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")


class ConfigError(UserError, ValueError):
    """A bad config value or key; the message says which and what to do."""


_RANGE = re.compile(
    r"^\s*(?:(?P<op>>=|>)\s*(?P<min>\S+)|(?P<lb>[\[(])\s*(?P<lo>[^,]+),\s*(?P<hi>[^\])]+)"
    r"(?P<rb>[\])]))\s*$"
)


@dataclass(frozen=True)
class Range:
    """The numbers a setting accepts, written as in the schema: ``">= 0"``, ``"> 0"``,
    ``"[0, 1]"``, ``"(0, 1)"``, ``"[0, 1)"``, ``"[-1, inf)"``."""

    text: str

    def bounds(self) -> tuple[float, float, bool, bool]:
        """(low, high, low included, high included)."""
        m = _RANGE.match(self.text)
        if not m:
            raise ValueError(f"bad range {self.text!r}")
        if m["op"]:
            return float(m["min"]), math.inf, m["op"] == ">=", False
        return float(m["lo"]), float(m["hi"]), m["lb"] == "[", m["rb"] == "]"

    def __contains__(self, v: float) -> bool:
        lo, hi, lo_in, hi_in = self.bounds()
        return (lo <= v if lo_in else lo < v) and (v <= hi if hi_in else v < hi)

    def phrase(self) -> str:
        """``">= 1"`` as is, an interval as ``"in [0, 1]"``."""
        text = self.text.strip()
        return text if text.startswith(">") else f"in {text}"


def setting(
    default: Any,
    why: str,
    *,
    range: str | None = None,
    choices: tuple[str, ...] | None = None,
    max_items: int | None = None,
) -> Any:
    """A config field: its default, the reason for it (``why``, the comment in defaults.yaml)
    and the values it accepts (checked by :func:`load_config`)."""
    rng = Range(range) if range else None
    meta = {"why": why, "range": rng, "choices": choices, "max_items": max_items}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ExtractConfig:
    """WARC records to text documents (mathmine extract)."""

    max_page_bytes: int = setting(
        5_000_000,
        "HTTP body cap after Content-Encoding is undone; larger -> too_large",
        range=">= 1",
    )
    max_dom_depth: int = setting(1_000, "deeper DOMs (hostile nesting) -> too_deep", range=">= 1")
    page_timeout_s: float = setting(
        5.0, "wall time per page for extraction -> timeout; 0 = no limit", range=">= 0"
    )
    min_text_chars: int = setting(200, "less extracted text than this -> empty_text", range=">= 0")
    langs: tuple[str, ...] = setting(("en",), "languages kept (lid.176 labels); [] keeps all")
    min_lang_score: float = setting(0.5, "lid.176 confidence below this -> lang", range="[0, 1]")
    max_warc_record_bytes: int = setting(
        50_000_000,
        "a WARC record larger than this (compressed or not) is skipped -> too_large",
        range=">= 1",
    )
    forum_threads: bool = setting(
        True,
        "careful path reads forum/Q&A threads post by post (engine markup table, "
        "pipeline/threads.py): on real threads trafilatura kept 32% of gold posts "
        "(tests/data/forum dev), this 99%",
    )
    fast_forum_threads: bool = setting(
        True,
        "fast path too, gated by a thread-like URL (~1 us a page): resiliparse kept 76% of gold "
        "posts with every post's chrome (some XenForo themes: nothing), this 98%",
    )
    forum_post_min_words: int = setting(
        5,
        "careful path on a thread-like URL with no known engine: fast-text lines of this many "
        "words that trafilatura dropped are put back (posts; user blocks and Reply/Quote lines "
        "are shorter)",
        range=">= 0",
    )
    careful_max_bytes: int = setting(
        2_000_000,
        "careful path: a non-thread page larger than this (chars of HTML) gets the fast text as "
        'its careful text (Extraction.source "fast_large_page", counted in export '
        "text_source): trafilatura cannot be interrupted by page_timeout_s; the article "
        "benchmark's real pages reach 1.5 MB (careful 0.05-0.25 s each), 15 of its 181 pages "
        "pass 400 KB (a 400 KB bound cost 0.006 careful F1)",
        range=">= 0",
    )
    careful_max_inline_tags: int = setting(
        10_000,
        "careful path: a non-thread page with more inline formatting tags than this (<b>, <i>, "
        "<em>, <strong>, <u>, <sub>, <sup>, <code>, ...) gets the fast text too (same source): "
        "trafilatura merges adjacent formatting runs in quadratic time (benchmarks/adversarial.py "
        '"adjacent <b>": 1.1 s at 12,500 tags, 5.6 s at 50,000, > 290 s at 200,000); the most '
        "on any real page we have is 1,626 (a Reddit thread), 156 on the article benchmark",
        range=">= 0",
    )
    first_pass: bool = setting(
        True,
        "the first pass (pipeline/prefilter.py): pages whose raw HTML shows no math evidence "
        "(markup, TeX, a math word in URL/title, worked arithmetic, math symbols or words) are "
        "dropped as `prefilter` before parsing, langid and MinHash. Measured by `make bench`: 0 "
        "of 236 dev and 0 of 321 test held-out math pages ruled out, 0 formulas of the "
        "sample/thread/fixture math pages lost; 6% of the sample's non-math pages pass. false "
        "extracts every page",
    )
    first_pass_sample_rate: float = setting(
        0.01,
        "share of ruled-out pages (by URL hash: the same in every run) still extracted and kept "
        "with first_pass=sampled: negatives for later recall iterations and the measure of what "
        "the first pass loses on a real crawl (1% of a 3 B-page snapshot is 30 M pages, plenty)",
        range="[0, 1]",
    )
    first_pass_min_math_words: int = setting(
        1,
        "distinct math words (pipeline/prefilter.py's list) that pass a page with no other "
        "evidence: at 2, 3 of 236 dev held-out math pages (OpenStax chapter openers, a GSM8K "
        "problem) are ruled out; 1 keeps them all (0 of 236 dev, 0 of 321 test)",
        range=">= 1",
    )


@dataclass(frozen=True)
class CleanConfig:
    """Math-safe quality rules (mathmine clean; the rule list is pipeline/clean_rules.py)."""

    enabled: bool = setting(True, "false skips the clean stage: later stages read docs/ as is")
    min_words: int = setting(
        50,
        "Gopher: 50..100000 words; a formula counts as its identifiers/numbers/operators",
        range=">= 0",
    )
    min_words_with_math: int = setting(
        20,
        "pages with math: a one-sentence definition is content (PlanetMath stubs have 25-40 words)",
        range=">= 0",
    )
    math_min_formulas: int = setting(
        2,
        'a page is "with math" at this many formulas + lines of worked arithmetic ("48/2 = 24")',
        range=">= 1",
    )
    max_words: int = setting(100_000, "Gopher: at most 100,000 words (see min_words)", range=">= 1")
    min_mean_word_length: float = setting(
        3.0,
        "Gopher: mean word length 3..10, over prose words (math excluded: $x$ is not a 1-letter "
        "word)",
        range=">= 0",
    )
    max_mean_word_length: float = setting(
        10.0, "Gopher: mean word length at most 10 (see min_mean_word_length)", range=">= 0"
    )
    max_symbol_word_ratio: float = setting(
        0.1,
        "Gopher: '#' and '...' per word; text inside $..$ is not counted, nor Markdown heading "
        "marks",
        range=">= 0",
    )
    max_bullet_lines_ratio: float = setting(
        0.9, "Gopher: share of lines starting with a bullet", range="[0, 1]"
    )
    max_ellipsis_lines_ratio: float = setting(
        0.3, "Gopher: share of lines ending in an ellipsis", range="[0, 1]"
    )
    min_alpha_words_ratio: float = setting(
        0.8,
        "Gopher: share of words with a letter; each formula counts as one word with letters",
        range="[0, 1]",
    )
    min_stop_words: int = setting(
        2,
        "Gopher: at least 2 English stop words (the, be, to, of, and, that, have, with)",
        range=">= 0",
    )
    min_stop_words_with_math: int = setting(
        1,
        "pages with math: a worked solution says most of itself in sums and formulas (GSM8K "
        "answers)",
        range=">= 0",
    )
    max_dup_line_frac: float = setting(
        0.3,
        "Gopher repetition: duplicate lines (formula-only lines never count as duplicates)",
        range="[0, 1]",
    )
    max_dup_para_frac: float = setting(
        0.3,
        "Gopher repetition: duplicate paragraphs (formula-only paragraphs excluded)",
        range="[0, 1]",
    )
    max_dup_line_char_frac: float = setting(
        0.2, "Gopher repetition: chars in duplicate lines", range="[0, 1]"
    )
    max_dup_para_char_frac: float = setting(
        0.2, "Gopher repetition: chars in duplicate paragraphs", range="[0, 1]"
    )
    top_ngram_fracs: tuple[float, ...] = setting(
        (0.2, 0.18, 0.16),
        "Gopher: top 2/3/4-gram char share; a formula is one token (fewer entries check fewer n)",
        range="[0, 1]",
        max_items=3,
    )
    dup_ngram_fracs: tuple[float, ...] = setting(
        (0.15, 0.14, 0.13, 0.12, 0.11, 0.10),
        "Gopher: duplicated 5..10-gram char share (fewer entries check fewer n)",
        range="[0, 1]",
        max_items=6,
    )
    math_rich_formulas: int = setting(
        10,
        'a page is "rich in math" at this many formulas + worked-arithmetic lines',
        range=">= 1",
    )
    ngram_scale_math_rich: float = setting(
        1.5,
        "on such pages Gopher's n-gram thresholds x 1.5: textbooks restate a method's steps in "
        "every worked example (OpenStax sections reach 0.16-0.18 duplicated 5-grams)",
        range="> 0",
    )
    c4_curly_brace: bool = setting(
        False,
        "OFF: C4 drops any page with '{', i.e. every page with LaTeX (when on, only '{' outside "
        "formulas counts)",
    )
    c4_javascript_lines: bool = setting(
        True, "math-aware: drops lines mentioning javascript outside formulas"
    )
    c4_terminal_punct: bool = setting(
        False, "OFF: display formulas and theorem labels end without punctuation"
    )
    c4_policy_lines: bool = setting(True, "C4: lines about cookies / terms of use / privacy policy")
    c4_lorem_ipsum: bool = setting(True, 'C4: a page with "lorem ipsum" is a template')
    c4_min_words_per_line: int = setting(
        0,
        'OFF (C4 uses 3): drops headings, "Proof.", "Theorem 2." and list items; formula lines '
        "would be exempt",
        range=">= 0",
    )
    c4_max_word_length: int = setting(
        1000,
        "C4: lines with a 1000+ char word outside formulas (minified code, base64)",
        range=">= 1",
    )
    fineweb_lines: bool = setting(
        True,
        "FineWeb line rules, math-aware (formula lines never 'short', count as punctuated)",
    )
    fineweb_line_punct_ratio: float = setting(
        0.12,
        "FineWeb: drop if fewer lines than this end in terminal punctuation (or a formula)",
        range="[0, 1]",
    )
    fineweb_short_line_chars: int = setting(
        30,
        "FineWeb: a line this short or shorter is short (formula lines never are)",
        range=">= 0",
    )
    fineweb_short_line_ratio: float = setting(
        0.67, "FineWeb: drop if more lines than this are short", range="[0, 1]"
    )
    fineweb_char_dup_ratio: float = setting(
        0.03,
        "FineWeb uses 0.01; chars in repeated prose lines / all chars (lines with math, code, "
        "list items and lines <= 30 chars excluded). Textbooks repeat exercise instructions: "
        "Levin's Discrete Mathematics pages reach 1.7% (fixtures) and 2.1% (sample WARC, "
        "sec_logic-prop); on the 91 real non-math fixture pages 0.03 instead of 0.01 spares 5 "
        "(docs, recipe, Q&A) and the rule still fires on 10",
        range="[0, 1]",
    )
    fineweb_char_dup_ratio_math_rich: float = setting(
        0.15,
        "pages rich in math (see math_rich_formulas): exercise sets restate instructions and "
        "worked examples their method's steps; OpenStax sections reach 0.04-0.13. Gopher's "
        "duplicate-line rules still apply",
        range="[0, 1]",
    )
    fineweb_list_ratio: float = setting(
        0.3, "FineWeb: newlines per word; a formula counts as one word", range=">= 0"
    )
    fineweb_line_ratios_with_math: bool = setting(
        False,
        "OFF on pages with math (2+ formulas or worked steps): the short-line and punctuated-"
        'line ratios ask "prose or menu?", and math pages mix display lines, tables and their '
        "site's metadata table (PlanetMath's short definitions: 2 sentences among 17 metadata "
        "lines). Measured alone (bench-clean corpora): PlanetMath HTML pages dropped 77 -> 39, "
        "Levin's book 5 -> 2; 0 of 1,560 non-math pages change",
    )
    math_tables: bool = setting(
        True,
        "on a page with math, rows of numbers are math: not 1-letter words, not non-alphabetic "
        'words, not repeated n-grams ("0 0" in a table of prime exponents). Tables of '
        "invariants, factorizations, sequences (PlanetMath, OEIS/LMFDB-like pages) are short "
        "tokens by nature: PlanetMath HTML 77 -> 73 dropped alone "
        "(tests/data/clean/math_tables.jsonl); rows of numbers on pages without math (sports "
        "tables) still count; 0 of 1,560 non-math pages change",
    )
    boilerplate_lines: bool = setting(
        True, "cc_net-style: lines recurring across pages of one domain"
    )
    boilerplate_min_pages: int = setting(
        5,
        "a line (normalised) on this many pages of one registered domain is boilerplate; "
        "formula lines never are",
        range=">= 2",
    )
    url_blocklist: str = setting(
        "",
        'file of domains / word: / substr: entries; "" = bundled pipeline/data/url_blocklist.txt',
    )
    url_allowlist: str = setting("", "file of domains that bypass the quality rules")
    normalize_unicode: bool = setting(
        True, "NFC + whitespace cleanup outside formulas; TeX is copied byte for byte"
    )
    pii: bool = setting(
        True,
        "e-mails and public IPs replaced by placeholders (datatrove's), outside formulas",
    )
    thread_chrome_lines: bool = setting(
        True,
        "forum/Q&A threads: lines recurring once per post (user blocks, Reply/Quote/Report, "
        'vote counts, "X wrote:") and later copies of quoted lines are removed before the page '
        "rules judge the page; lines with math, structure labels, worked steps or code never "
        "are. English threads of tests/data/forum dropped: dev 21 -> 7, test 16 -> 8; non-math "
        "pages: 1 of 1,560 changes (a shop's Q&A section) (pipeline/clean_thread_chrome.py)",
    )
    thread_chrome_min_repeats: int = setting(
        3,
        "a chrome line recurs this often in one page (2 keeps no more dev threads and 2 more "
        "non-math pages in each non-math set)",
        range=">= 2",
    )
    thread_chrome_max_chars: int = setting(
        60,
        "chrome lines are short: names, ranks, labels, buttons, counters; labelled lines with a "
        'forum label ("Re: <title> by X: 9:05am") up to 200 (dev threads: 40 keeps one fewer, '
        "80 the same)",
        range=">= 1",
    )
    thread_chrome_post_words: int = setting(
        5,
        "a run of this many words between two chrome lines is a post, so the line recurs once "
        "per post, not as a list, menu or chorus (dev threads: 3 and 5 measure the same, 10 "
        "keeps one fewer; Reddit comments are often one short line)",
        range=">= 0",
    )
    thread_quote_min_chars: int = setting(
        20,
        "on a thread, a later copy of a prose line this long is a quote or signature (shorter "
        'repeats, "Thanks!", are posts)',
        range=">= 1",
    )
    thread_chrome_max_share: float = setting(
        0.5,
        "if the rule would remove more than this share of a page's characters it removes "
        "nothing: real dev threads lose at most 38%; a page repeating one message is junk for "
        "Gopher to judge",
        range="[0, 1]",
    )


@dataclass(frozen=True)
class DedupConfig:
    """URL, exact-text and MinHash-LSH near-duplicate removal (mathmine dedup)."""

    url_dedup: bool = setting(True, "exact URL dedup after normalisation; newest capture wins")
    exact_text: bool = setting(True, "exact dedup of normalised text")
    near_dup: bool = setting(True, "MinHash-LSH")
    shingle_size: int = setting(5, "word 5-grams", range=">= 1")
    num_perm: int = setting(
        128,
        "MinHash signature length (datasketch's default): 15 x 7 bands at threshold 0.8 (see "
        "recall_at_threshold)",
        range=">= 1",
    )
    threshold: float = setting(0.8, "target Jaccard", range="(0, 1)")
    bands: int = setting(
        0, "0 = chosen from threshold and num_perm (mathmine dedup --plan)", range=">= 0"
    )
    rows: int = setting(0, "rows per band, set with bands; 0 = chosen with them", range=">= 0")
    seed: int = setting(
        1,
        "seed of the MinHash hash functions; signatures made with another seed are recomputed",
        range=">= 0",
    )
    verify_jaccard: bool = setting(
        True, "exact Jaccard of candidate pairs before linking (bench: precision 1.0)"
    )
    recall_at_threshold: float = setting(
        0.97,
        "with verify_jaccard: the cheapest bands x rows with P(candidate) >= this at J = "
        "threshold (128 perms, 0.8: 15 x 7, P = 0.971; the old 14 x 9 had 0.87 and found 28 of "
        "41 pairs at J 0.80-0.85 on a real-text set, issue 15). Verification keeps precision, "
        "so only candidate pairs are paid: make bench-dedup prints both",
        range="(0, 1)",
    )
    fn_weight: float = setting(
        0.0,
        "> 0: bands x rows by datasketch's weighted error instead (0.9 gave 14 x 9); 0 = 0.5 "
        "without verify_jaccard, where every candidate is a link",
        range="[0, 1)",
    )
    bucket_window: int = setting(
        50,
        "verification round 2: bucket members still in different components after round 1 "
        "(each member against the bucket's smallest) are verified when at most 50 places apart "
        "(id order): exact for buckets of up to 51 members, at most 100 pairs per member "
        "beyond; the report counts larger buckets (buckets_over_window)",
        range=">= 1",
    )
    checkpoint_dir: str = setting(
        "",
        'connected components: "" = localCheckpoint in local mode (one JVM: losing an executor '
        "loses the job anyway), else reliable checkpoints in <out>/_checkpoints (storage every "
        "executor reaches; deleted after the stage); set e.g. hdfs:///tmp/mathmine for faster "
        "scratch on a cluster",
    )
    max_cc_iterations: int = setting(
        30, "connected components: large-star/small-star rounds cap", range=">= 1"
    )
    previous_runs: tuple[str, ...] = setting((), "run folders whose docs are deduplicated against")


@dataclass(frozen=True)
class RecallConfig:
    """The iterative fastText math classifier (mathmine recall, score)."""

    iterations: int = setting(
        2,
        "DeepSeekMath ran 4; the loop also stops on < stop_new_fraction",
        range=">= 1",
    )
    dim: int = setting(
        256,
        "DeepSeekMath's fastText settings: dim 256, word n-grams 3, min count 3, 3 epochs "
        "(lr differs, see lr)",
        range=">= 1",
    )
    lr: float = setting(
        0.3,
        "DeepSeekMath used 0.1 on 1M docs x 3 epochs; on the ~5K-doc bundled training set 0.1 "
        "underfits (measured on the earlier held-out set, whose documents are now the dev set: "
        "recall 0.938 at 0.5 vs 0.964 with 0.3, precision 1.0 both). Use 0.1 for 500K+500K",
        range="> 0",
    )
    word_ngrams: int = setting(3, "DeepSeekMath (see dim)", range=">= 1")
    min_count: int = setting(3, "DeepSeekMath (see dim)", range=">= 1")
    epoch: int = setting(3, "DeepSeekMath (see dim)", range=">= 1")
    threads: int = setting(0, "0 = all cores", range=">= 0")
    max_positives: int = setting(
        500_000, "DeepSeekMath: 500K positives, 500K negatives", range=">= 1"
    )
    max_negatives: int = setting(500_000, "DeepSeekMath (see max_positives)", range=">= 1")
    seeds: tuple[str, ...] = setting(
        (), "[] = bundled seeds; or OpenWebMath-shaped JSONL/Parquet URIs"
    )
    threshold: float = setting(
        0.5, "select docs scoring above this (unless token_budget > 0)", range="[0, 1]"
    )
    token_budget: int = setting(0, "> 0: select the top docs up to this many tokens", range=">= 0")
    domain_share: float = setting(
        0.1, "a domain with > 10% of its pages selected is math-related", range="[0, 1]"
    )
    path_accept_share: float = setting(
        0.5, "accept a URL path prefix whose selected share is above this", range="[0, 1]"
    )
    path_min_pages: int = setting(
        10,
        "a path needs this many crawled pages before its share means anything (3 accepted "
        "en.wikipedia.org/ from 2 of 3 pages of the sample and pulled in a film article)",
        range=">= 1",
    )
    accept_paths: str = setting("", "a reviewed url_paths.tsv; overrides path_accept_share")
    stop_new_fraction: float = setting(
        0.02, "stop when an iteration adds < 2% new pages", range="[0, 1]"
    )
    seed: int = setting(
        1,
        "one seed for the training-line shuffle, fastText's own seed and the crawl-negative "
        "sample (seed + iteration): a rerun trains the same model",
        range=">= 0",
    )
    bucket: int = setting(
        100_000,
        "fastText hash buckets for word n-grams: model ~ 4*dim*(vocab+bucket) bytes. On the "
        "bundled training set 100K gives a 136 MB model, dev recall 0.953 / precision 1.0, test "
        "0.956 / 0.997; fastText's 2M default a 2,082 MB model per executor, 2.7x the "
        "training time, dev the same, test 0.960 / 0.997 (one more of 321 positives): python -m "
        "benchmarks.bench_recall --set recall.bucket=2000000. Raise it for 500K-doc training "
        "sets, whose n-grams collide more",
        range=">= 1",
    )
    path_depth: int = setting(
        2,
        "propose URL prefixes host/, host/a, host/a/b (DeepSeekMath: mathoverflow.net/questions)",
        range=">= 1",
    )
    bundled_negatives: bool = setting(
        True,
        "add bundled real non-math pages (docs, shops, recipes, courts, tables, news) to the "
        "crawl's random negatives: a small crawl alone is not diverse enough",
    )
    negatives_skip_math: bool = setting(
        True,
        "crawl negatives skip docs with formulas or math markup: a random sample of a "
        'math-heavy crawl would otherwise teach "math = not math"',
    )
    max_words: int = setting(
        500,
        "words of a doc the classifier reads (training and scoring), as 4 evenly spaced runs so "
        "page navigation cannot fill them: scoring cost is linear in it (measured 6.9-8.6% of "
        "extraction time per doc at 500; ~4x more at 2,000) and recall/precision on the "
        "earlier held-out set (now dev) is the same (0.964/1.0)",
        range=">= 1",
    )
    balance_classes: bool = setting(
        True,
        "repeat the smaller class to the larger one's size (DeepSeekMath: 500K + 500K); unequal "
        "classes shift fastText's probabilities and a 0.5 threshold loses its meaning",
    )
    select_path_pages: bool = setting(
        True,
        "pages under accepted URL paths (reviewed or by rule) are selected whatever their "
        "score: the path is the evidence (sample: 7 of 48 textbook pages score < 0.5 even "
        "after being trained on: three chapter openers of 60-140 words and no formula, four "
        "sections of 15-115 formulas among 1,400-4,200 words)",
    )


@dataclass(frozen=True)
class ExportConfig:
    """Decontaminated, token-counted Parquet shards (mathmine export)."""

    careful: bool = setting(True, "careful (trafilatura-grade) extraction for exported pages")
    decontaminate: bool = setting(
        True, "drop pages sharing an n-gram with a benchmark text (DeepSeekMath)"
    )
    benchmarks: tuple[str, ...] = setting(
        (), "[] = bundled GSM8K test; JSONL/Parquet URIs (or NAME=URI)"
    )
    benchmark_fields: tuple[str, ...] = setting(
        ("question", "answer", "problem", "solution", "text"),
        "each present field is a text (DeepSeekMath matched questions and answers)",
    )
    ngram: int = setting(10, "DeepSeekMath 10-gram rule; FineMath uses 13", range=">= 1")
    min_exact_tokens: int = setting(
        3, "benchmark texts of 3..ngram-1 tokens are matched exactly", range=">= 1"
    )
    decontam_lowercase: bool = setting(True, "normalisation before matching: case-insensitive")
    decontam_strip_punctuation: bool = setting(
        True, 'punctuation/symbols -> space, so "16-3-4=9" matches "16 - 3 - 4 = 9"'
    )
    tokenizer: str = setting("", 'path to a tokenizer.json; "" = word count (labelled so)')
    shard_bytes: int = setting(
        128_000_000,
        "target bytes per shard (not measured: a common Parquet file size, one file per "
        "worker's read)",
        range=">= 0",
    )
    shard_rows: int = setting(0, "> 0: rows per shard instead of bytes", range=">= 0")
    shuffle_seed: int = setting(-1, "-1 = keep order; >= 0 = deterministic shuffle", range=">= -1")
    compression: str = setting(
        "zstd",
        "Parquet codec of the shards (none = uncompressed); zstd: small files that every "
        "common reader opens",
        choices=("zstd", "snappy", "gzip", "brotli", "lz4", "none"),
    )


@dataclass(frozen=True)
class ExpandConfig:
    """mathmine expand: pages under accepted paths from Common Crawl's index."""

    index: str = setting(
        "s3://commoncrawl/cc-index/table/cc-main/warc/",
        "the columnar index's table root; outside AWS: "
        "https://data.commoncrawl.org/cc-index/table/cc-main/warc/",
    )
    warc_root: str = setting(
        "",
        "where the index's warc_filename paths are; \"\" = the index's root (s3://commoncrawl/, "
        "https://data.commoncrawl.org/)",
    )
    max_pages: int = setting(
        1_000_000,
        "hits fetched per expansion at most (a deterministic hash sample beyond); the driver "
        "holds the hits, ~0.5 KB each",
        range=">= 1",
    )
    mimes: tuple[str, ...] = setting(
        ("text/html", "application/xhtml+xml"),
        "content_mime_detected (Tika) values that are pages extract can read",
    )
    languages: bool = setting(
        True,
        "skip captures whose content_languages (CLD2) miss every extract.langs language: "
        "extract would drop them (lang); captures with none recorded pass",
    )
    merge_gap_bytes: int = setting(
        65_536,
        "records of one WARC this close share one ranged GET: ~2 average HTML records (~25 KB "
        "gzipped), less than a request's round trip costs in time",
        range=">= 0",
    )
    records_per_task: int = setting(
        500,
        "hits per Spark fetch task: ~15 s of GETs in us-east-1 at ~30 ms each, and one docs "
        "part file",
        range=">= 1",
    )


@dataclass(frozen=True)
class SparkConfig:
    """The Spark session of every stage."""

    master: str = setting(
        "local[*,4]",
        'all cores; up to 4 attempts per task (a killed worker is retried); "" = left to '
        "spark-submit (EMR, Dataproc)",
    )
    app_name: str = setting("mathmine", "the application name Spark and the cluster show")
    driver_memory: str = setting(
        "2g",
        "local runs only (a cluster keeps its own): Spark's default is 1g; 2g was not measured, "
        "raise it when a local run runs out of memory",
    )
    executor_memory: str = setting("2g", "local runs only, as driver_memory")
    conf: dict[str, str] = setting({}, "extra spark.* settings")


@dataclass(frozen=True)
class IOConfig:
    """Reading inputs and writing the run folder (infra/storage.py)."""

    s3_endpoint_url: str = setting("", "e.g. a local moto server; AWS_ENDPOINT_URL also works")
    s3_region: str = setting(
        "",
        '"" = AWS_REGION, else the bucket\'s own region (EMR executors often have none)',
    )
    s3_max_attempts: int = setting(
        10,
        "attempts per request inside the SDK (botocore adaptive, pyarrow standard) and of plain "
        "HTTPS reads; 10 rides out Common Crawl's 503 SlowDown bursts",
        range=">= 1",
    )
    https_prefix: str = setting(
        "https://data.commoncrawl.org/",
        "Common Crawl over HTTPS: what s3://commoncrawl/ paths become outside AWS",
    )
    # Explicit credentials are optional (the SDKs' own chain is preferred); when set, both S3
    # clients of infra.storage (boto3 and pyarrow.fs) use them. Never printed or written:
    # run.json and --dry-run show '***', and `mathmine submit` refuses to upload them.
    aws_access_key_id: str = setting(
        "",
        "optional; prefer the SDK's credential chain (env, profile, role). Used by both S3 "
        "clients; never printed",
    )
    aws_secret_access_key: str = setting("", "set with aws_access_key_id, or neither")
    aws_session_token: str = setting("", "temporary credentials only")


@dataclass(frozen=True)
class Config:
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    recall: RecallConfig = field(default_factory=RecallConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    expand: ExpandConfig = field(default_factory=ExpandConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)
    io: IOConfig = field(default_factory=IOConfig)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


# Keys older config files may still set. Refused, naming the key to use instead: silently
# ignored, the run would go on with the default the user meant to change.
RETIRED_KEYS = {
    "extract.threads": "renamed extract.forum_threads",
    "extract.fast_threads": "renamed extract.fast_forum_threads",
    "extract.thread_post_min_words": "renamed extract.forum_post_min_words",
}


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def sections() -> list[tuple[str, type]]:
    """``[(section name, its dataclass)]`` in the order of :class:`Config`."""
    hints = typing.get_type_hints(Config)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(Config)]


def accepted(f: dataclasses.Field) -> str:
    """What field ``f`` accepts, in words (``"in (0, 1)"``, ``">= 1"``, ``"one of a, b"``,
    ``"at most 3 items, each in [0, 1]"``); ``""`` when its type says it all."""
    rng, choices, max_items = f.metadata["range"], f.metadata["choices"], f.metadata["max_items"]
    rule = rng.phrase() if rng is not None else ""
    if choices is not None:
        rule = "one of " + ", ".join(choices)
    if not isinstance(f.default, tuple) or not (rule or max_items):
        return rule
    many = f"at most {max_items} items" if max_items is not None else "a list"
    return f"{many}, each {rule}" if rule else many


def _coerce(value: Any, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                pass
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if isinstance(value, (list, tuple)):
            return tuple(_coerce(v, typing.get_args(typ)[0], key) for v in value)
    elif origin is dict:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    elif isinstance(typ, types.UnionType):
        return value
    raise ConfigError(
        f"config key {key!r}: expected {getattr(typ, '__name__', str(typ))}, got {value!r}; "
        f"fix the value in your config file or --set option"
    )


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if full in RETIRED_KEYS:
            raise ConfigError(
                f"config key {full!r} was {RETIRED_KEYS[full]}; change it in your config file "
                "or --set option"
            )
        if key not in names:
            known = ", ".join(sorted(names))
            raise ConfigError(f"unknown config key {full!r}; known keys here: {known}")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {full!r} must be a mapping of its settings")
            kwargs[key] = _build(typ, value, f"{full}.")
        else:
            kwargs[key] = _coerce(value, typ, full)
    obj = cls(**kwargs)
    if cls is not Config:
        check_values(obj, prefix)
    return obj


def check_values(section: Any, prefix: str) -> None:
    """Every field of ``section`` against its ``range``, ``choices`` and ``max_items``: a
    :class:`ConfigError` naming the first key out of them, what it accepts and the value."""
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        items = value if isinstance(value, tuple) else (value,)
        rng, choices, max_items = (
            f.metadata["range"],
            f.metadata["choices"],
            f.metadata["max_items"],
        )
        if (
            (rng is not None and any(v not in rng for v in items))
            or (choices is not None and any(v not in choices for v in items))
            or (max_items is not None and len(items) > max_items)
        ):
            shown = list(value) if isinstance(value, tuple) else value
            raise ConfigError(
                f"config key '{prefix}{f.name}' must be {accepted(f)}, got {shown!r}; fix the "
                "value in your config file or --set option"
            )


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"dedup.threshold=0.7"`` -> (["dedup", "threshold"], 0.7 as YAML would read it)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set dedup.threshold=0.7")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the YAML file at ``path``, then ``--set KEY=VALUE`` overrides."""
    merged: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist; pass an existing YAML file")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            msg = f"config file {str(p)!r} is not valid YAML: {e}".splitlines()[0]
            raise ConfigError(msg) from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {str(p)!r} must be a mapping of sections")
        merged = data
    for ov in overrides or []:
        keys, value = parse_override(ov)
        d = merged
        for k in keys[:-1]:
            d = d.setdefault(k, {})
            if not isinstance(d, dict):
                raise ConfigError(f"--set {ov!r}: {k!r} is not a section")
        d[keys[-1]] = value
    return _build(Config, merged, "")


# Keys whose values are secrets. Whole-word 'token' only: token_budget and tokenizer are not.
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|credential|access[._-]?key|private[._-]?key|signature"
    r"|(^|[._-])token$)",
    re.I,
)


_SIGNED_QUERY = re.compile(
    r"(?i)([?&](?:x-amz-[a-z-]+|x-goog-[a-z-]+|signature|sig|token|awsaccesskeyid|expires)=)[^&\s]*"
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def redact_text(text: str) -> str:
    """Signed-URL query parameters and user:password@ parts of URIs replaced by '***'."""
    return _USERINFO.sub(r"\1***@", _SIGNED_QUERY.sub(r"\1***", text))


def redact(d: Any, key: str = "") -> Any:
    """A copy of ``d`` with values under secret-looking keys replaced by '***'."""
    if isinstance(d, dict):
        return {k: redact(v, k) for k, v in d.items()}
    if isinstance(d, list):
        return [redact(v, key) for v in d]
    if _SECRET_KEY.search(key) and d not in ("", None):
        return "***"
    if isinstance(d, str):
        return redact_text(d)
    return d
