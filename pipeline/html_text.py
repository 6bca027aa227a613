"""HTML -> text with math kept as LaTeX: a fast path for every page, a careful one for export.

Both paths parse with lexbor (resiliparse), rewrite math markup to LaTeX text in the DOM
(:mod:`pipeline.math_markup`), then extract:

- ``fast``: resiliparse ``extract_plain_text(main_content=True)`` (C, ~1-2 ms a page).
- ``careful``: trafilatura ``favor_precision`` on the rewritten DOM, Markdown-like output
  (paragraphs, lists, tables, code), formulas untouched.

Per-page limits come from :class:`pipeline.config.ExtractConfig` and are checked *before*
the work they bound: size before parsing, DOM depth before anything that walks the tree
(resiliparse's main-content pass is quadratic in depth: a 100,000-deep page takes minutes),
wall time between phases. A page past a limit comes back as :class:`Dropped` with a reason.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from pipeline.config import ExtractConfig
from pipeline.math_markup import (
    MATH_GUARD_SELECTOR,
    PLACEHOLDER,
    MathResult,
    count_asciimath,
    protect_raw_tex,
    restore_placeholders,
    rewrite_math,
)
from pipeline.math_text import count_formulas
from pipeline.records import EMPTY_TEXT, TIMEOUT, TOO_DEEP, TOO_LARGE, Dropped

MODES = ("fast", "careful")


@dataclass
class Extraction:
    text: str  # math as $...$ / $$...$$ (raw TeX of the page kept exactly as written)
    title: str
    formulas: int  # formulas in ``text`` (TeX delimiters, plus `...` on AsciiMath pages)
    # kinds seen: mathjax, mathjax_config, katex, mathml, tex_img, math_container,
    # asciimath, raw_tex
    math_markup: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=8)
def _depth_selector(limit: int) -> str:
    # matches any element with >= limit element ancestors; lexbor matches right to left, so
    # the walk costs sum(min(depth, limit)) over elements, in C, and stops at the first hit
    return " > ".join(["*"] * (limit + 1))


# Depth at which the cheap probe fires. lexbor parses a selector on every call and a chain of
# 1,000 compounds costs more to parse than the walk itself; real pages nest < 48 deep (none of
# the first 700 benchmark-WARC pages does), so probing at 64 and confirming with the full chain
# only when the probe fires keeps the check exact and cheap.
_DEPTH_PROBE = 64


@functools.lru_cache(maxsize=8)
def _guard_selector(limit: int) -> str:
    if limit <= 0:
        return MATH_GUARD_SELECTOR
    return f"{_depth_selector(min(limit, _DEPTH_PROBE))}, {MATH_GUARD_SELECTOR}"


def exceeds_depth(tree: HTMLTree, html: str, limit: int) -> bool:
    """Whether the parsed DOM nests deeper than ``limit`` elements.

    Runs on lexbor's tree (lexbor builds it iteratively: a 100,000-deep page parses in tens
    of ms) and before anything that walks it recursively or per ancestor: resiliparse's
    main-content pass is quadratic in depth (100,000 levels: 4 minutes), lxml/trafilatura
    recurse. A page with fewer tags than the limit cannot exceed it (no walk at all).
    """
    if limit <= 0 or html.count("<") <= limit:
        return False
    return tree.document.query_selector(_depth_selector(limit)) is not None


def _trafilatura(html: str, url: str, precision: bool) -> str:
    import trafilatura

    text = trafilatura.extract(
        html,
        url=url or None,
        favor_precision=precision,
        favor_recall=not precision,
        include_tables=True,
        include_formatting=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        output_format="markdown",
        deduplicate=False,
    )
    return text or ""


def _careful_text(html: str, url: str, placeholders: dict[str, str], deadline: float = 0.0) -> str:
    """trafilatura ``favor_precision`` text, with formulas it dropped put back in place.

    Precision mode scores 0.957 F1 on the article benchmark (recall mode less) but drops
    short blocks, and a display formula alone in its block is short: on the fixtures it lost
    up to 10% of formulas. When a placeholder is missing we run recall mode too and insert
    its lines that carry a missing formula after the last line both runs share.
    """
    text = _trafilatura(html, url, precision=True)
    present = set(_placeholders_in(text))  # one pass: `k in text` per formula was quadratic
    missing = [k for k in placeholders if k not in present]
    if not missing or (deadline and time.monotonic() > deadline):
        return text
    wide = _trafilatura(html, url, precision=False)
    missing_set = set(missing)
    lines = text.split("\n")
    index = {ln: i for i, ln in enumerate(lines) if ln.strip()}
    inserts: dict[int, list[str]] = {}  # precise line index (-1 = top) -> lines to add after
    anchor = -1
    for ln in wide.split("\n"):
        if ln in index:
            anchor = index[ln]
        elif any(k in missing_set for k in _placeholders_in(ln)):
            inserts.setdefault(anchor, []).append(ln.strip())
    out = list(inserts.get(-1, []))
    for i, ln in enumerate(lines):
        out.append(ln)
        for extra in inserts.get(i, []):
            out.extend(("", extra) if ln.strip() else (extra,))
    return "\n".join(out)


def _placeholders_in(line: str) -> list[str]:
    return PLACEHOLDER.findall(line) if "xmathmine" in line else []


def extract_text(
    html: str,
    *,
    url: str = "",
    mode: str = "fast",
    config: ExtractConfig = ExtractConfig(),  # noqa: B008 - frozen dataclass, safe default
) -> Extraction | Dropped:
    """Text of one page with math as ``$...$`` / ``$$...$$``, or Dropped with a reason."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    start = time.monotonic()
    deadline = start + config.page_timeout_s if config.page_timeout_s > 0 else 0.0
    if config.max_page_bytes and len(html) > config.max_page_bytes:
        return Dropped(TOO_LARGE, url, detail=f"{len(html)} chars > {config.max_page_bytes}")
    tree = HTMLTree.parse(html)
    limit = config.max_dom_depth
    # One lexbor walk answers "too deep?" and "any math markup?" for the ~90% of pages where
    # both are no; only a hit pays for telling them apart.
    if tree.document.query_selector(_guard_selector(limit)) is not None:
        doc = tree.document
        if (
            limit
            and doc.query_selector(_depth_selector(min(limit, _DEPTH_PROBE))) is not None
            and (limit <= _DEPTH_PROBE or doc.query_selector(_depth_selector(limit)) is not None)
        ):
            return Dropped(TOO_DEEP, url, detail=f"DOM depth > {limit}")
        res = rewrite_math(tree, html, deadline, protect=(mode == "careful"), prechecked=True)
    else:
        res = MathResult(protect=(mode == "careful"))
    title = tree.title or ""
    if res.timed_out or (deadline and time.monotonic() > deadline):
        return Dropped(TIMEOUT, url, detail="math rewrite")
    if mode == "fast":
        text = extract_plain_text(tree, main_content=True, alt_texts=False)
    else:
        # after the markup pass: its placeholders carry no '$', so only the page's own raw TeX
        # (StackExchange, pandoc, hand-written $..$) is matched here
        serialized = protect_raw_tex(tree.document.html, res)
        text = _careful_text(serialized, url, res.placeholders, deadline)
        text = restore_placeholders(text, res.placeholders)
    if deadline and time.monotonic() > deadline:
        return Dropped(TIMEOUT, url, detail=f"{mode} extraction")
    text = text.strip()
    if not text:
        return Dropped(EMPTY_TEXT, url)
    formulas = count_formulas(text) if ("$" in text or "\\" in text) else 0
    if res.asciimath:
        formulas += count_asciimath(text)
    kinds = set(res.kinds)
    if formulas > res.formulas:
        kinds.add("raw_tex")
    return Extraction(text=text, title=title.strip(), formulas=formulas, math_markup=sorted(kinds))
