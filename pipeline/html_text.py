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

import re
import time
from dataclasses import dataclass, field

from pipeline.config import ExtractConfig
from pipeline.math_markup import count_formulas, rewrite_math
from pipeline.records import EMPTY_TEXT, TIMEOUT, TOO_DEEP, TOO_LARGE, Dropped

MODES = ("fast", "careful")


@dataclass
class Extraction:
    text: str
    title: str
    formulas: int
    math_markup: list[str] = field(default_factory=list)


# Elements that never hold children: they do not add depth.
_VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr keygen command "
    "basefont frame isindex".split()
)
# Elements the HTML tree builder closes implicitly when a sibling of the same kind opens.
_AUTOCLOSE = frozenset("p li dt dd option optgroup tr td th thead tbody tfoot rb rt rp".split())
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)|<!--.*?-->", re.S)


def dom_depth(html: str, limit: int) -> int:
    """Nesting depth of ``html``'s elements as a tag stack sees it, stopping past ``limit``.

    Cheap and parser-free: it runs before any parser that recurses. Close tags pop to their
    matching open tag (stray ones are ignored, so they cannot hide nesting); implicitly closed
    elements (p, li, td, ...) do not pile up. Returns a value > ``limit`` as soon as one is seen.
    """
    if html.count("<") <= limit:
        return 0  # fewer tags than the limit: cannot be deeper than it
    stack: list[str] = []
    deepest = 0
    for m in _TAG.finditer(html):
        name = m.group(2)
        if name is None:
            continue
        name = name.lower()
        if m.group(1):
            if name in stack:
                while stack and stack.pop() != name:
                    pass
            continue
        if name in _VOID:
            continue
        if name in _AUTOCLOSE and name in stack[-3:]:
            while stack and stack.pop() != name:
                pass
        stack.append(name)
        if len(stack) > deepest:
            deepest = len(stack)
            if deepest > limit:
                return deepest
    return deepest


def _careful_text(html: str, url: str) -> str:
    import trafilatura

    text = trafilatura.extract(
        html,
        url=url or None,
        favor_precision=True,
        include_tables=True,
        include_formatting=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        output_format="markdown",
        deduplicate=False,
    )
    return text or ""


def extract_text(
    html: str,
    *,
    url: str = "",
    mode: str = "fast",
    config: ExtractConfig = ExtractConfig(),  # noqa: B008 - frozen dataclass, safe default
) -> Extraction | Dropped:
    """Text of one page with math as ``$...$`` / ``$$...$$``, or Dropped with a reason."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    start = time.monotonic()
    deadline = start + config.page_timeout_s if config.page_timeout_s > 0 else 0.0
    if config.max_page_bytes and len(html) > config.max_page_bytes:
        return Dropped(TOO_LARGE, url, detail=f"{len(html)} chars > {config.max_page_bytes}")
    if config.max_dom_depth:
        depth = dom_depth(html, config.max_dom_depth)
        if depth > config.max_dom_depth:
            return Dropped(TOO_DEEP, url, detail=f"depth > {config.max_dom_depth}")
    tree = HTMLTree.parse(html)
    title = tree.title or ""
    res = rewrite_math(tree, html, deadline)
    if res.timed_out or (deadline and time.monotonic() > deadline):
        return Dropped(TIMEOUT, url, detail="math rewrite")
    if mode == "fast":
        text = extract_plain_text(tree, main_content=True, alt_texts=False)
    else:
        text = _careful_text(tree.document.html, url)
    if deadline and time.monotonic() > deadline:
        return Dropped(TIMEOUT, url, detail=f"{mode} extraction")
    text = text.strip()
    if not text:
        return Dropped(EMPTY_TEXT, url)
    formulas = count_formulas(text)
    kinds = set(res.kinds)
    if formulas > res.formulas:
        kinds.add("raw_tex")
    return Extraction(text=text, title=title.strip(), formulas=formulas, math_markup=sorted(kinds))
