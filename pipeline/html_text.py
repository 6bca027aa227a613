"""HTML -> text with math kept as LaTeX: a fast path for every page, a careful one for export.

Both paths parse with lexbor (resiliparse), rewrite math markup to LaTeX text in the DOM
(:mod:`pipeline.math_markup`), then extract:

- ``fast``: resiliparse ``extract_plain_text(main_content=True)`` (C, ~1-2 ms a page); on a
  page whose URL looks like a thread and whose markup is a known forum engine's, the posts
  (:mod:`pipeline.threads`) instead.
- ``careful``: the posts of a thread page (:mod:`pipeline.threads`), else trafilatura
  ``favor_precision`` on the rewritten DOM, Markdown-like output (paragraphs, lists, tables,
  code), formulas untouched. Then every formula the fast text has and this text lacks is put
  back in place (:func:`merge_missing`): careful text never has fewer formulas.

:attr:`Extraction.source` names how the text was made (:data:`SOURCES`).

Per-page limits come from :class:`pipeline.config.ExtractConfig` and are checked *before*
the work they bound: size before parsing, DOM depth before anything that walks the tree
(resiliparse's main-content pass is quadratic in depth: a 100,000-deep page takes minutes),
wall time between phases. A page past a limit comes back as :class:`Dropped` with a reason.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from pipeline.config import ExtractConfig
from pipeline.math_markup import (
    MATH_GUARD_SELECTOR,
    MathResult,
    count_asciimath,
    placeholder_spacing,
    protect_raw_tex,
    respace_placeholders,
    restore_placeholders,
    rewrite_math,
)
from pipeline.math_text import count_formulas, formula_spans, iter_formulas
from pipeline.records import EMPTY_TEXT, TIMEOUT, TOO_DEEP, TOO_LARGE, Dropped
from pipeline.threads import find_thread, looks_like_thread_url, thread_text

MODES = ("fast", "careful")

SOURCE_FAST = "fast"
SOURCE_CAREFUL = "careful"
SOURCE_THREAD = "thread"
SOURCE_FAST_LARGE = "fast_large_page"
# How Extraction.text was made. "+fast": blocks of the fast text were put back into the careful
# text: formulas it lacked, and on a thread URL no engine's markup matched, posts (a careful
# text that needed none has no suffix).
SOURCES = {
    SOURCE_FAST: "resiliparse main content (the fast path)",
    SOURCE_CAREFUL: "trafilatura favor_precision (the careful path on a non-thread page)",
    SOURCE_THREAD: "the posts of a forum / Q&A thread, read by its engine's markup (both paths)",
    f"{SOURCE_CAREFUL}+fast": "trafilatura text plus the fast text's blocks it lacked",
    f"{SOURCE_THREAD}+fast": "thread posts plus formula blocks only the fast text had",
    SOURCE_FAST_LARGE: "careful path on a non-thread page past extract.careful_max_bytes or "
    "careful_max_inline_tags: the fast text (trafilatura's time is not linear in the page)",
}


@dataclass
class Extraction:
    text: str  # math as $...$ / $$...$$ (raw TeX of the page kept exactly as written)
    title: str
    formulas: int  # formulas in ``text`` (TeX delimiters, plus `...` on AsciiMath pages)
    # kinds seen: mathjax, mathjax_config, katex, mathml, tex_img, math_container,
    # asciimath, raw_tex
    math_markup: list[str] = field(default_factory=list)
    source: str = SOURCE_FAST  # how ``text`` was made: a key of SOURCES


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


def _trafilatura(html: str, url: str) -> str:
    """trafilatura ``favor_precision`` (0.957 token F1 on the article benchmark; recall mode
    scores less)."""
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


# LaTeXML lays out every displayed equation as a table (padding cell, formula cells, equation
# number); trafilatura writes it as a Markdown row "|  | $$..$$ |  | (1) |", which reads as a
# table of symbols, not as a displayed formula (PlanetMath, arXiv-style pages)
EQUATION_TABLES = "table.ltx_eqn_table"


def flatten_equation_tables(tree: HTMLTree) -> int:
    """Replace each LaTeXML equation table by one ``<p>`` per row holding the row's cells
    (formulas, the words between them, the equation number) joined by spaces, as the fast
    path's text reads them; returns how many tables were replaced."""
    n = 0
    for table in _nodes(tree, EQUATION_TABLES):
        parent = table.parent
        if parent is None:  # inside an equation table already replaced
            continue
        block = tree.create_element("div")
        for row in table.query_selector_all("tr"):
            cells = [" ".join(c.text.split()) for c in row.query_selector_all("td, th")]
            line = " ".join(c for c in cells if c)
            if line:
                p = tree.create_element("p")
                p.append_child(tree.create_text_node(line))
                block.append_child(p)
        parent.replace_child(block, table)
        n += 1
    return n


# Inline-hidden elements with no text: PlanetMath's NNexus concept links end in
# <sup style="display: none"> of icon links, which trafilatura writes as "<sup>" wrapped around
# the rest of the paragraph. Only textless ones: a hidden element with words may be a solution
# a page reveals on click.
_HIDDEN = '[style*="display: none"], [style*="display:none"]'
# LaTeXML's bullet of an itemize item ("•" in its own span): Markdown's "- " already marks the
# item, and trafilatura puts the bullet on lines of its own ("- •")
_ITEM_BULLETS = "span.ltx_tag_itemize"
# A link that runs a script is not a link: trafilatura drops it with its words (NNexus concept
# links: "generalized mean", "power mean" vanish from a list of means)
_SCRIPT_LINKS = 'a[href^="javascript:"]'


def _nodes(tree: HTMLTree, selector: str) -> tuple:
    found = tree.document.query_selector_all(selector)
    return found[0 : len(found)]  # one tuple: iterating the collection itself is quadratic


def prepare_careful_dom(tree: HTMLTree) -> None:
    """Layout that trafilatura's Markdown misreads, rewritten before it runs (careful path,
    non-thread pages): equation tables as lines, textless hidden elements and item bullets
    removed, script links as their words."""
    flatten_equation_tables(tree)
    for node in _nodes(tree, _HIDDEN):
        if node.parent is not None and not node.text.strip():
            node.parent.remove_child(node)
    for node in _nodes(tree, _ITEM_BULLETS):
        if node.parent is not None:
            node.parent.remove_child(node)
    for node in _nodes(tree, _SCRIPT_LINKS):
        if node.parent is not None:
            node.parent.replace_child(tree.create_text_node(node.text), node)


# the inline formatting tags trafilatura turns into <hi> runs (and merges pairwise)
_INLINE_TAG = re.compile(r"<(?:b|strong|i|em|u|s|del|strike|sup|sub|code|tt|kbd|mark)[\s>]", re.I)


def too_large_for_careful(html: str, config: ExtractConfig) -> bool:
    """Whether trafilatura's time on this page is unbounded: more HTML than
    ``careful_max_bytes`` or more inline formatting tags than ``careful_max_inline_tags`` (it
    merges adjacent runs in quadratic time). One linear scan, stopped at the bound."""
    if config.careful_max_bytes and len(html) > config.careful_max_bytes:
        return True
    limit = config.careful_max_inline_tags
    if not limit:
        return False
    for n, _ in enumerate(_INLINE_TAG.finditer(html), 1):
        if n > limit:
            return True
    return False


def _careful_text(
    tree: HTMLTree, html: str, url: str, res: MathResult, config: ExtractConfig
) -> tuple[str, str]:
    """(text, source) of the careful path before the formula merge: the thread's posts when
    an engine's markup says the page is a thread, else trafilatura ``favor_precision``; on a
    non-thread page :func:`too_large_for_careful`, ("", SOURCE_FAST_LARGE): the caller uses
    the fast text."""
    thread = find_thread(tree, url) if config.forum_threads else None
    if thread is not None:
        text, source = thread_text(thread, heading="# "), SOURCE_THREAD
    elif too_large_for_careful(html, config):
        return "", SOURCE_FAST_LARGE
    else:
        prepare_careful_dom(tree)
        # after the markup pass: its placeholders carry no '$', so only the page's own raw TeX
        # (StackExchange, pandoc, hand-written $..$) is matched here
        serialized = protect_raw_tex(tree.document.html, res)
        text, source = _trafilatura(serialized, url), SOURCE_CAREFUL
        # every backslash in trafilatura's Markdown is its own (the page's are hidden): its
        # escaped brackets would read as a display formula (Wikipedia's "Heading\[edit\]")
        text = text.replace("\\[", "[").replace("\\]", "]")
        text = respace_placeholders(text, placeholder_spacing(serialized))
    # inline formulas as the fast path writes them: its DOM text has whitespace collapsed, so a
    # TeX annotation's line break ("...%\n\frac") is a space there; a newline would also end
    # an inline $..$ for the formula scanner (pipeline.math_text), hiding the formula
    placeholders = {
        k: v if v.startswith("$$") else " ".join(v.split()) for k, v in res.placeholders.items()
    }
    return restore_placeholders(text, placeholders), source


def _fast_text(tree: HTMLTree, url: str, config: ExtractConfig) -> tuple[str, str]:
    """(text, source) of the fast path: a thread's posts on a thread URL with an engine's
    markup, else resiliparse's main content."""
    if config.fast_forum_threads and looks_like_thread_url(url):
        thread = find_thread(tree, url)
        if thread is not None:
            return thread_text(thread), SOURCE_THREAD
    return extract_plain_text(tree, main_content=True, alt_texts=False), SOURCE_FAST


def _parse(
    html: str, url: str, config: ExtractConfig, deadline: float, protect: bool
) -> tuple[HTMLTree, MathResult] | Dropped:
    """The page's DOM with its math rewritten to LaTeX (placeholder words with ``protect``),
    or Dropped when a per-page limit applies."""
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
        res = rewrite_math(tree, html, deadline, protect=protect, prechecked=True)
    else:
        res = MathResult(protect=protect)
    if res.timed_out or (deadline and time.monotonic() > deadline):
        return Dropped(TIMEOUT, url, detail="math rewrite")
    return tree, res


_WORD = re.compile(r"\w+")
_NEWLINE = re.compile("\n")


def _key(line: str) -> str:
    """A line reduced to its words: Markdown marks, bullets and spacing differ between the
    trafilatura and resiliparse renderings of one block."""
    return " ".join(_WORD.findall(line.lower()))


def _formula_blocks(text: str) -> list[tuple[int, int, list[str]]]:
    """(first line, last line + 1, TeX bodies) of each run of lines carrying formulas; a
    formula spanning lines keeps them together."""
    starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
    blocks: list[tuple[int, int, list[str]]] = []
    for a, b, body in formula_spans(text):
        first = bisect.bisect_right(starts, a) - 1
        last = bisect.bisect_right(starts, b - 1)
        if blocks and first < blocks[-1][1]:
            f0, _, fs = blocks[-1]
            blocks[-1] = (f0, max(last, blocks[-1][1]), [*fs, body])
        else:
            blocks.append((first, last, [body]))
    return blocks


def _squash(s: str) -> str:
    return "".join(s.split())


# difflib's alignment is quadratic when many items are equal (a page of 8,332 `$x$`: 54 s at
# 100 KB); above this many pairs an in-order greedy match, O(n log n), aligns instead. Real pages
# stay far below it (a 500-formula page against its careful text is 250,000 pairs).
_DIFFLIB_MAX_PAIRS = 250_000
# the greedy match pairs a formula with its next copy at most this many formulas ahead, so one
# formula moved far away (a table trafilatura moves) does not swallow the ones in between
_GREEDY_WINDOW = 64


def _aligned(want: list[str], have: list[str]) -> list[bool]:
    """Per item of ``want``: whether the in-order alignment of the two sequences pairs it with
    an item of ``have``: common head and tail as they are, the part between by difflib when it
    is of ordinary size, else by a windowed greedy match (an approximation: a copy it fails to
    pair is put back once more, never lost)."""
    matched = [False] * len(want)
    # the common head and tail pair up as they are (linear): what is left is where they differ
    head = 0
    while head < len(want) and head < len(have) and want[head] == have[head]:
        head += 1
    tail = 0
    while (
        tail < len(want) - head and tail < len(have) - head and want[-1 - tail] == have[-1 - tail]
    ):
        tail += 1
    for i in [*range(head), *range(len(want) - tail, len(want))]:
        matched[i] = True
    mid_want, mid_have = want[head : len(want) - tail], have[head : len(have) - tail]
    if len(mid_want) * len(mid_have) <= _DIFFLIB_MAX_PAIRS:
        sm = difflib.SequenceMatcher(None, mid_want, mid_have, autojunk=False)
        for a, _, size in sm.get_matching_blocks():
            for i in range(a, a + size):
                matched[head + i] = True
        return matched
    positions: dict[str, list[int]] = {}
    for j, h in enumerate(mid_have):
        positions.setdefault(h, []).append(j)
    at = 0
    for i, w in enumerate(mid_want):
        pos = positions.get(w)
        if pos:
            k = bisect.bisect_left(pos, at)
            if k < len(pos) and pos[k] <= at + _GREEDY_WINDOW:
                matched[head + i] = True
                at = pos[k] + 1
    return matched


def _lost_formula_blocks(text: str, fast: str) -> dict[int, tuple[int, int]]:
    """{first line: (last line + 1, formulas lost)} of the formula blocks of ``fast`` holding a
    formula ``text`` lacks.

    The two formula sequences are aligned (difflib, whitespace-insensitive): a formula of
    ``fast`` is lost when the alignment pairs it with none of ``text``. Counting copies alone
    would blame the wrong block when a page repeats a formula ($p$, $b^2-4ac$) and the lost
    copy is an early one.
    """
    blocks = _formula_blocks(fast)
    if not blocks:
        return {}
    want = [_squash(f) for _, _, fs in blocks for f in fs]
    have = [_squash(f) for f in iter_formulas(text)]
    matched = _aligned(want, have)
    lost_blocks = {}
    i = 0
    for first, last, fs in blocks:
        lost = sum(1 for k in range(i, i + len(fs)) if not matched[k])
        i += len(fs)
        if lost:
            lost_blocks[first] = (last, lost)
    return lost_blocks


_TAIL_WORDS = 6  # words that place a paragraph the two renderings split differently
_NEAR = 200  # chars after the last anchor within which a short line may anchor
_CHROME_REPEATS = 3  # a line this often in the fast text is per-post chrome


def merge_missing(text: str, fast: str, prose_words: int = 0) -> tuple[str, int, int]:
    """``text`` with what it lacks of ``fast`` put back: the lines carrying formulas it lacks,
    and with ``prose_words`` > 0 the lines of at least that many words it lacks (posts a
    precise extractor dropped). Each goes after the last line both texts share before it.
    Returns (text, formulas added, prose lines added).

    The careful extractors (trafilatura, the thread reader) drop blocks the fast path kept: a
    display formula alone in a short block, a question above its answer, a post.
    """
    lost = _lost_formula_blocks(text, fast)
    if not lost and not prose_words:
        return text, 0, 0
    lines = text.split("\n")
    # the words of ``text`` as one string, and each line's start offset in it
    keys = [_key(ln) for ln in lines]
    offsets = []
    pos = 0
    for k in keys:
        offsets.append(pos)
        pos += len(k) + 1
    joined = " ".join(keys)
    fast_lines = fast.split("\n")
    # a line the page repeats on every post ("Joined: ... Posts: ...") is chrome, not a post
    repeats = Counter(_key(ln) for ln in fast_lines) if prose_words else Counter()
    inserts: dict[int, list[str]] = {}  # line of ``text`` (-1 = top) -> blocks after it
    anchor, at, formulas_added, prose_added = -1, 0, 0, 0
    i = 0
    while i < len(fast_lines):
        if i in lost:
            last, n = lost[i]
            inserts.setdefault(anchor, []).append(
                "\n".join(x.strip() for x in fast_lines[i:last]).strip()
            )
            formulas_added += n
            i = last
            continue
        k = _key(fast_lines[i])
        i += 1
        if len(k) < 4:  # nothing to place by ("1", a lone formula)
            continue
        # a short line ("Examples", "Proof") places a block only where it comes next
        j = joined.find(k, at, at + _NEAR + len(k) if len(k) < 12 else len(joined))
        if j == -1 and k.count(" ") >= _TAIL_WORDS:
            # the other rendering split or marked up this paragraph: place by its last words
            tail = k.rsplit(" ", _TAIL_WORDS)[-_TAIL_WORDS:]
            j = joined.find(" ".join(tail), at)
            if j != -1:
                j -= len(k) - len(" ".join(tail))  # as if the whole line ended there
        if j != -1:
            anchor = bisect.bisect_right(offsets, max(j + len(k) - 1, 0)) - 1
            at = j + len(k)
        elif (
            prose_words
            and len(k) >= 12
            and k.count(" ") + 1 >= prose_words
            and repeats[k] < _CHROME_REPEATS
            and k not in joined
        ):
            inserts.setdefault(anchor, []).append(fast_lines[i - 1].strip())
            prose_added += 1
    if not inserts:
        return text, 0, 0
    # a block goes after the line it was anchored to, but never inside a formula of ``text``
    # that spans lines (a display formula broken at a TeX comment)
    inside = {}
    for first, last, _ in _formula_blocks(text):
        for n in range(first, last - 1):
            inside[n] = last - 1
    moved: dict[int, list[str]] = {}
    for n, after in inserts.items():
        moved.setdefault(inside.get(n, n), []).extend(after)
    out = list(moved.get(-1, []))
    if out:
        out.append("")
    for n, ln in enumerate(lines):
        out.append(ln)
        for extra in moved.get(n, []):
            out.extend(("", extra) if ln.strip() else (extra,))
    return "\n".join(out), formulas_added, prose_added


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
    parsed = _parse(html, url, config, deadline, protect=(mode == "careful"))
    if isinstance(parsed, Dropped):
        return parsed
    tree, res = parsed
    title = tree.title or ""
    if mode == "fast":
        text, source = _fast_text(tree, url, config)
    else:
        text, source = _careful_text(tree, html, url, res, config)
        # the fast text itself (a second parse: with placeholder words in the DOM, resiliparse
        # judges short blocks differently and would not be the fast text)
        fast = None
        if not (deadline and time.monotonic() > deadline):
            fast = _parse(html, url, config, deadline, protect=False)
        if source == SOURCE_FAST_LARGE:
            if fast is None or isinstance(fast, Dropped):
                return fast or Dropped(TIMEOUT, url, detail=f"{mode} extraction")
            text = _fast_text(fast[0], url, config)[0]
        elif fast is not None and not isinstance(fast, Dropped):
            # on a thread-like URL that no engine's markup matched, trafilatura drops posts:
            # put back the fast text's long lines it lacks (per-post chrome lines are short)
            prose = 0
            if source == SOURCE_CAREFUL and looks_like_thread_url(url):
                prose = config.forum_post_min_words
            text, n_formulas, n_lines = merge_missing(
                text, _fast_text(fast[0], url, config)[0], prose
            )
            source = f"{source}+fast" if n_formulas or n_lines else source
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
    return Extraction(
        text=text,
        title=title.strip(),
        formulas=formulas,
        math_markup=sorted(kinds),
        source=source,
    )
