"""Find every kind of math markup in a parsed page and rewrite it, in the DOM, to LaTeX text.

Both extraction paths (fast: resiliparse; careful: trafilatura) run on the DOM after this
rewrite, so they see formulas as plain text ``$...$`` (inline) or ``$$...$$`` (display, in a
block of its own) and cannot drop, escape or duplicate them. What is recognised, and why:

- MathJax v2 ``<script type="math/tex">`` (``; mode=display``): the TeX source itself. The
  rendered siblings (``.MathJax``, ``.MathJax_Preview``, ...) are glyph soup and are removed.
- MathJax v3/v4 ``<mjx-container>``: v3 drops the TeX from the DOM, so we use ``data-latex``
  when present, else the assistive MathML (alttext / TeX annotation / converted).
- KaTeX ``.katex``: the ``annotation encoding="application/x-tex"``; ``.katex-html`` dropped.
- MathML ``<math>``: TeX annotation, then ``alttext``, then :func:`pipeline.mathml.mathml_to_latex`.
- Wikipedia ``.mwe-math-element``: the MathML alttext once (the fallback <img> repeats it).
- Images whose URL or alt carries TeX: WordPress ``latex.php``, codecogs, mimetex/``tex.cgi``.
- ``.wp-katex-eq`` (WordPress KaTeX plugin) spans: their text is TeX.
- StackExchange ``.math-container``, raw ``$..$``/``\\(..\\)``/``\\[..\\]`` in text: already
  TeX text; left exactly as written (never escaped), and counted.
- AsciiMath scripts: kept as written between backticks (it is not TeX; converting would guess).
- The page's own MathJax/KaTeX delimiter config: non-standard pairs (``[math]..[/math]``) are
  rewritten to ``$..$``; standard ones are already what we emit.
"""

from __future__ import annotations

import html as htmllib
import re
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, unquote_plus

from resiliparse.parse.html import HTMLTree, NodeType

from pipeline.math_text import looks_like_prose, sub_formulas
from pipeline.mathml import iter_children, mathml_to_latex
from pipeline.text_scan import next_pattern, next_substring

# One combined selector: lexbor walks the DOM once in C for all kinds.
MATH_SELECTOR = ", ".join(
    [
        'script[type^="math/" i]',
        ".MathJax_Preview",
        ".MathJax",
        ".MathJax_Display",
        ".MathJax_SVG",
        ".MathJax_SVG_Display",
        ".MathJax_CHTML",
        ".MathJax_MathML",
        ".MathJax_PHTML",
        ".MJX_Assistive_MathML",
        "mjx-container",
        ".katex-display",
        ".katex",
        ".mwe-math-element",
        "math",
        ".wp-katex-eq",
        ".math-container",
        'img[src*="latex" i]',
        'img[src*="tex.cgi" i]',
        'img[src*="mimetex" i]',
        'img[src*="codecogs" i]',
        "img.latex",
        "img.tex",
    ]
)

# Cheap pre-check (plain substring scans, the fastest thing CPython does to a string): a page
# containing none of these has no math markup we could recover, and skips the selector walk
# (most of the crawl). "math" covers math/tex scripts, <math>, katex-mathml, mwe-math,
# math-container, data-mathml, mathtex.cgi; "atex" covers latex.php, codecogs .latex, katex,
# wp-katex-eq; "tex.cgi" covers mimetex. A regex alternation (even case-sensitive) is 5-10x
# slower than these three scans on 150 KB pages.
_MARKERS = ("math", "atex", "tex.cgi")


def has_math_markup(html: str) -> bool:
    """Whether ``html`` may contain math markup worth a DOM walk."""
    return any(m in html for m in _MARKERS)


_RENDERED_CLASSES = frozenset(
    [
        "MathJax_Preview",
        "MathJax",
        "MathJax_Display",
        "MathJax_SVG",
        "MathJax_SVG_Display",
        "MathJax_CHTML",
        "MathJax_MathML",
        "MathJax_PHTML",
        "MJX_Assistive_MathML",
    ]
)

TEX_ENCODINGS = ("application/x-tex", "application/x-latex", "tex", "latex", "text/x-tex")

_STD_DELIMS = {("$", "$"), ("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]")}
# A delimiter config is a few short pairs ([['$','$'], ['\\(','\\)']] is 25 characters): each
# block is read from a bounded slice and only the first few blocks are read, so a page repeating
# "inlineMath:[[" 100,000 times costs one pass (a lazy .*? to the closing ]] from every
# repetition took 9 s on 104 KB, quadratic).
_CONFIG_KEY = re.compile(r"(inlineMath|displayMath)\s*:\s*(\[)\s*\[")
_CONFIG_END = re.compile(r"\]\s*\]")
MAX_CONFIG_CHARS = 500
MAX_CONFIG_BLOCKS = 16
# At most this many non-standard pairs are rewritten (each costs a pass over the page's text);
# real pages configure one or two.
MAX_CUSTOM_PAIRS = 8
# A JavaScript string literal of at most 40 characters, single- or double-quoted, with
# escapes. Each alternative starts with its own character, so no input can be split two ways
# (``(?:\\.|(?!\1).)*`` could, exponentially, on a run of backslashes).
_JS_STR = r"""(?:'((?:\\.|[^'\\\n]){0,40})'|"((?:\\.|[^"\\\n]){0,40})")"""
_JS_PAIR = re.compile(r"\[\s*" + _JS_STR + r"\s*,\s*" + _JS_STR + r"\s*\]")
_KATEX_DELIM = re.compile(
    r"\{\s*left\s*:\s*" + _JS_STR + r"\s*,\s*right\s*:\s*" + _JS_STR
    + r"\s*,\s*display\s*:\s*(true|false)"
)  # fmt: skip


@dataclass
class MathResult:
    formulas: int = 0  # formulas rewritten from markup (raw TeX is counted on the text)
    kinds: set[str] = field(default_factory=set)
    timed_out: bool = False
    # protect mode: placeholder word -> the LaTeX it stands for (see restore_placeholders)
    placeholders: dict[str, str] = field(default_factory=dict)
    protect: bool = False
    block_tag: str = "div"
    asciimath: bool = False  # the page loads AsciiMath: `...` in its text is math

    def emit(self, tex: str, display: bool) -> str:
        """The text that goes into the DOM for one formula (itself, or a placeholder)."""
        wrapped = _wrap(tex, display)
        if not self.protect:
            return wrapped
        return self.placeholder(wrapped)

    def placeholder(self, text: str) -> str:
        key = f"xmathmine{len(self.placeholders)}x"
        self.placeholders[key] = text
        return key


def restore_placeholders(text: str, placeholders: dict[str, str]) -> str:
    """Put the LaTeX back where :func:`rewrite_math` (protect=True) left placeholder words,
    and the backslashes :func:`protect_raw_tex` hid."""
    if _ESC in text:
        text = _DECODE.sub(lambda m: "\\" if m.group(1) == "b" else _ESC, text)
    if not placeholders:
        return text
    return PLACEHOLDER.sub(lambda m: placeholders.get(m.group(0), m.group(0)), text)


PLACEHOLDER = re.compile(r"xmathmine\d+x")
_ENDS_PLACEHOLDER = re.compile(r"xmathmine\d+x$")
# how far around a placeholder the tags that wrap it are skipped (``</span></mjx-container>``)
_SPACING_WINDOW = 400


def placeholder_spacing(serialized: str) -> dict[str, tuple[bool, bool]]:
    """Placeholder word -> (whitespace before it, whitespace after it) in the page's serialized
    HTML, past the tags that wrap the formula: ``in <span>x</span> <em>and</em>`` is spaced on
    both sides, ``<span>n</span>th`` is not. One pass; each look is bounded."""
    out: dict[str, tuple[bool, bool]] = {}
    n = len(serialized)
    for m in PLACEHOLDER.finditer(serialized):
        i, stop = m.start(), max(0, m.start() - _SPACING_WINDOW)
        while i > stop and serialized[i - 1] == ">":
            lt = serialized.rfind("<", stop, i - 1)
            if lt < 0:
                break
            i = lt
        j, stop = m.end(), min(n, m.end() + _SPACING_WINDOW)
        while j < stop and serialized[j] == "<":
            gt = serialized.find(">", j, stop)
            if gt < 0:
                break
            j = gt + 1
        before = i > 0 and serialized[i - 1].isspace()
        after = j < n and serialized[j].isspace()
        out[m.group(0)] = (before, after)
    return out


def respace_placeholders(text: str, spacing: dict[str, tuple[bool, bool]]) -> str:
    """Put back the space an extractor dropped between an inline formula's placeholder and a
    word next to it (trafilatura joins ``<span>$A$</span> <em>and</em>`` into ``$A$and``), where
    the page has whitespace there (:func:`placeholder_spacing`); ``$n$th`` stays as written."""
    if not spacing:
        return text

    def fix(m: re.Match) -> str:
        before, after = spacing.get(m.group(0), (False, False))
        s, e = m.start(), m.end()
        pre = " " if before and s > 0 and text[s - 1].isalnum() else ""
        post = " " if after and e < len(text) and text[e].isalnum() else ""
        return pre + m.group(0) + post if pre or post else m.group(0)

    return PLACEHOLDER.sub(fix, text)


def _js_unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def _js_pair(m: re.Match, first: int) -> tuple[str, str]:
    """The two string literals of a pair matched by _JS_PAIR/_KATEX_DELIM, unescaped."""
    left = m.group(first) if m.group(first) is not None else m.group(first + 1)
    right = m.group(first + 2) if m.group(first + 2) is not None else m.group(first + 3)
    return _js_unescape(left), _js_unescape(right)


def page_delimiters(html: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(inline, display) delimiter pairs a page configures for MathJax or KaTeX auto-render."""
    inline: list[tuple[str, str]] = []
    display: list[tuple[str, str]] = []
    if "inlineMath" not in html and "displayMath" not in html and "delimiters" not in html:
        return inline, display
    pos = 0
    for _ in range(MAX_CONFIG_BLOCKS):
        m = _CONFIG_KEY.search(html, pos)
        if m is None:
            break
        pos = m.end()
        end = _CONFIG_END.search(html, m.end(), m.end() + MAX_CONFIG_CHARS)
        if end is None:
            continue
        target = inline if m.group(1) == "inlineMath" else display
        block = html[m.start(2) : end.end()]
        target.extend(_js_pair(p, 1) for p in _JS_PAIR.finditer(block))
        pos = end.end()
    for k, m in enumerate(_KATEX_DELIM.finditer(html)):
        if k == MAX_CONFIG_BLOCKS * 4:
            break
        (display if m.group(5) == "true" else inline).append(_js_pair(m, 1))
    return inline, display


def _classes(node) -> set[str]:
    c = node.getattr("class") if node.hasattr("class") else ""
    return set((c or "").split())


def _attached(node, root, known: set) -> bool:
    """Whether ``node`` is still in the document (an ancestor may have been replaced).

    ``known`` holds nodes found attached by earlier calls of this rewrite. They stay attached:
    the nodes are visited in document order and only a visited node is replaced, and an
    ancestor comes before its descendants, so a later replacement is never an ancestor of an
    earlier node. Each walk stops at the first known node: the walks cost the size of the DOM
    in total, not (math nodes) x (depth), which was 13 s for 4,000 formulas 900 levels deep.
    """
    path = []
    n = node
    for _ in range(100_000):
        if n in known:
            break
        path.append(n)
        p = n.parent
        if p is None:
            if n != root:
                return False
            break
        n = p
    else:
        return False
    known.update(path)
    return True


def _strip_displaystyle(tex: str) -> str:
    """``{\\displaystyle x}`` or ``\\displaystyle x`` (Wikipedia's alttext) -> ``x``.

    String tests, not a regex: ``^\\{\\displaystyle\\s*(.*)\\}$`` backtracks over every split
    of a run of spaces when the closing brace is missing (quadratic).
    """
    tex = tex.strip()
    if tex.startswith("{\\displaystyle") and tex.endswith("}"):
        tex = tex[len("{\\displaystyle") : -1]
    elif tex.startswith("\\displaystyle"):
        tex = tex[len("\\displaystyle") :]
    return tex.strip()


def _math_tex(math) -> tuple[str, bool]:
    """(TeX, is_display) for a <math> node: TeX annotation, alttext, else converted MathML."""
    display = (math.getattr("display") or "").lower() == "block" or (
        math.getattr("mode") or ""
    ).lower() == "display"
    anns = math.query_selector_all("annotation")
    for ann in anns[0 : len(anns)]:  # slicing: iterating the collection is quadratic
        enc = (ann.getattr("encoding") or "").lower()
        if enc in TEX_ENCODINGS:
            return _strip_displaystyle(ann.text), display
    alt = math.getattr("alttext")
    if alt and alt.strip():
        return _strip_displaystyle(alt), display
    return mathml_to_latex(math), display


def _img_tex(img) -> str:
    """TeX carried by a formula image's URL (latex.php, codecogs, mimetex, tex.cgi) or alt."""
    src = img.getattr("src") or img.getattr("data-src") or ""
    tex = ""
    low = src.lower()
    if "latex.php" in low or "wp-latex" in low:
        m = re.search(r"[?&]latex=([^&]*)", src)
        if m:
            tex = unquote_plus(m.group(1))
    elif "?" in src and (
        "codecogs" in low or "tex.cgi" in low or "mimetex" in low or ".latex?" in low
    ):
        q = src.split("?", 1)[1]
        tex = unquote(q.replace("&space;", " ").replace("&plus;", "+"))
        # codecogs/mimetex rendering options are not part of the formula
        tex = re.sub(
            r"^(\s*\\(dpi\{\d+\}|bg_\w+|bg\{\w+\}|fg_\w+|large|small|huge|normal|inline|png|gif|svg|200dpi)\s*)+",
            "",
            tex,
        )
    alt = (img.getattr("alt") or "").strip()
    if not tex and not looks_like_prose(alt):
        # the alt of a figure drawn with LaTeX (PreTeXt's generated/latex-image/*.svg) is a
        # description, not the TeX of a formula
        tex = alt
    tex = tex.strip()
    if len(tex) >= 2 and tex[0] == tex[-1] == "$":
        tex = tex.strip("$")
    return tex


def _wrap(tex: str, display: bool) -> str:
    tex = tex.strip()
    return f"$${tex}$$" if display else f"${tex}$"


def _replace(tree: HTMLTree, node, tex: str, display: bool, res: MathResult) -> None:
    parent = node.parent
    if parent is None:
        return
    if not tex.strip():
        parent.remove_child(node)
        return
    out = res.emit(tex, display)
    if not display:
        # two inline formulas with nothing between them would read "$a$$b$", which every TeX
        # reader parses as a display delimiter; a space keeps them apart
        prev = node.previous_sibling
        if prev is not None and prev.type == NodeType.TEXT:
            ptxt = prev.text
            if ptxt.endswith("$") or (res.protect and _ENDS_PLACEHOLDER.search(ptxt)):
                out = " " + out
    text = tree.create_text_node(out)
    if display:
        # A block of its own, so both extractors put display math on its own line
        # (trafilatura drops a short <div> but keeps a <p>: the careful path uses <p>).
        div = tree.create_element(res.block_tag)
        div.append_child(text)
        parent.replace_child(div, node)
    else:
        parent.replace_child(text, node)


def _next_element(node):
    n = node.next_sibling
    while n is not None and n.type != NodeType.ELEMENT:
        n = n.next_sibling
    return n


def sub_delimited(text: str, left: str, right: str, repl) -> tuple[str, int]:
    """``text`` with each ``left..right`` (shortest, non-empty body) replaced by
    ``repl(body)``, and how many were replaced.

    What ``re.escape(left) + "(.+?)" + re.escape(right)`` with DOTALL finds, in one pass: that
    regex rescans the rest of the text from every opener when the closer is missing (a page
    repeating its own opener ``[m]`` over 60 KB took 17 s). Here, once no closer follows an
    opener, none follows a later one either, and the scan stops.
    """
    out: list[str] = []
    last = k = 0
    while True:
        a = text.find(left, last)
        if a == -1:
            break
        c = text.find(right, a + len(left) + 1)
        if c == -1:
            break
        out.append(text[last:a])
        out.append(repl(text[a + len(left) : c]))
        k += 1
        last = c + len(right)
    if not k:
        return text, 0
    out.append(text[last:])
    return "".join(out), k


def _rewrite_custom_delims(
    tree: HTMLTree, pairs: list[tuple[str, str, bool]], res: MathResult, deadline: float = 0.0
) -> int:
    """Rewrite text written with a page's non-standard delimiters to $..$ / $$..$$."""
    n_found = 0
    body = tree.body
    if body is None:
        return 0
    # iterative walk over text nodes (no recursion: DOM depth is attacker-controlled)
    stack = [body]
    visited = 0
    while stack:
        visited += 1
        if deadline and visited % 256 == 0 and time.monotonic() > deadline:
            res.timed_out = True
            return n_found
        node = stack.pop()
        if node.type == NodeType.TEXT:
            t = node.text
            new = t
            for lft, rgt, disp in pairs:
                new, k = sub_delimited(new, lft, rgt, lambda body, d=disp: res.emit(body, d))
                n_found += k
            if new != t:
                node.parent.replace_child(tree.create_text_node(new), node)
            continue
        if node.type == NodeType.ELEMENT and node.tag in ("script", "style", "textarea"):
            continue
        stack.extend(reversed(list(iter_children(node))))
    return n_found


def uses_asciimath(html: str) -> bool:
    """Whether the page loads MathJax's AsciiMath input (then `...` in its text is math)."""
    return "AM_" in html or "sciimath" in html or "sciiMath" in html


_ASCIIMATH_SPAN = re.compile(r"`[^`\n]{1,500}`")


def count_asciimath(text: str) -> int:
    """Backtick-delimited AsciiMath formulas in text (only meaningful on AsciiMath pages)."""
    return len(_ASCIIMATH_SPAN.findall(text))


# Elements whose content is raw text (no tags inside, and no TeX of the page's prose).
_RAW_TEXT_TAGS = ("script", "style", "textarea")
_RAW_TEXT_END = {t: re.compile(rf"</{t}\s*>", re.I) for t in _RAW_TEXT_TAGS}
_SPECIAL_FIRST = frozenset("sStT!")


def split_markup(html: str) -> list[str]:
    """``[text, markup, text, markup, ..., text]`` of serialized HTML: markup is a tag, a
    comment, or a whole script/style/textarea element.

    The same pieces as ``re.split`` on ``(<script\\b.*?</script\\s*>|...|<!--.*?-->|<[^>]*>)``
    with IGNORECASE and DOTALL, in one pass: the regex rescans to the end of the page from every
    ``<`` whose closer is missing (``<`` repeated inside an attribute value), quadratic.
    """
    pieces: list[str] = []
    raw_end = {t: next_pattern(html, p) for t, p in _RAW_TEXT_END.items()}
    comment_end = next_substring(html, "-->")
    last = pos = 0
    # a tag ends at the next ">": found, it ends the piece (no rescan); missing after one "<",
    # it is missing after every later "<" too
    gt_left = True
    while True:
        lt = html.find("<", pos)
        if lt == -1:
            break
        hit = None
        if html[lt + 1 : lt + 2] in _SPECIAL_FIRST:  # most tags skip the checks below
            head = html[lt + 1 : lt + 10].lower()
            for tag in _RAW_TEXT_TAGS:
                after = head[len(tag) : len(tag) + 1]
                if head.startswith(tag) and not (after.isalnum() or after == "_"):
                    hit = raw_end[tag](lt + 1 + len(tag))
                    break
            if hit is None and head.startswith("!--"):
                hit = comment_end(lt + 4)
        if hit is not None:
            end = hit[1]
        else:
            gt = html.find(">", lt + 1) if gt_left else -1
            if gt == -1:
                gt_left = False
                pos = lt + 1
                continue
            end = gt + 1
        pieces.append(html[last:lt])
        pieces.append(html[lt:end])
        last = pos = end
    pieces.append(html[last:])
    return pieces


# Backslashes of the page's prose (TeX is in placeholders by then) are hidden from trafilatura
# as two characters: its Markdown output rescans with lazy regexes of its own, quadratic on
# backslash text: ``\\(..\\)`` with ``.+?`` from every ``\\(`` without a closer (100 KB: 27 s), and
# ``\\*`` before each special character from every backslash of a long run (100 KB: 7 s).
# A private-use character is the escape: "\ue000b" is a backslash, "\ue000s" the character itself
# (a page may contain it), decoded by restore_placeholders.
_ESC = "\ue000"
_DECODE = re.compile(_ESC + "([bs])")


def _hide_backslashes(text: str) -> str:
    if _ESC in text:
        text = text.replace(_ESC, _ESC + "s")
    return text.replace("\\", _ESC + "b")


def protect_raw_tex(serialized: str, res: MathResult) -> str:
    """Replace TeX already written in the text ($..$, \\(..\\), ...) of serialized HTML by
    placeholders (restored verbatim by :func:`restore_placeholders`), and hide the backslashes
    of the rest from trafilatura.

    Works on the serialized DOM, text between tags only (scripts, styles, comments and tags
    are skipped: jQuery's ``$(...)`` is not math). Splitting the string is ~100x cheaper than
    walking resiliparse text nodes from Python.
    """
    pieces = split_markup(serialized)
    changed = False
    for i in range(0, len(pieces), 2):
        t = pieces[i]
        if not t or ("$" not in t and "\\" not in t and "`" not in t and _ESC not in t):
            continue
        new = t
        if "$" in t or "\\" in t:
            new = sub_formulas(new, lambda f: res.placeholder(htmllib.unescape(f)))
        if res.asciimath and "`" in new:
            new = _ASCIIMATH_SPAN.sub(lambda m: res.placeholder(htmllib.unescape(m.group(0))), new)
        if "\\" in new or _ESC in new:
            new = _hide_backslashes(new)
        if new is not t:
            pieces[i] = new
            changed = True
    return "".join(pieces) if changed else serialized


# Elements that announce math on a page: the markup itself, or the MathJax/KaTeX loaders and
# configs (a page's custom delimiters and AsciiMath live in plain text, found only via these).
# Matched by lexbor in C during the same walk as the depth check (see html_text), this costs
# less than one substring scan of a 150 KB non-ASCII page, and has no false positives from
# words like "mathematics".
MATH_GUARD_SELECTOR = ", ".join(
    [
        "math",
        "mjx-container",
        # two substring tests instead of a dozen class selectors (measured: half the cost):
        # "math" (any case) covers MathJax*, MJX_Assistive_MathML, katex-mathml,
        # math-container, mwe-math-element; "atex" covers katex*, wp-katex-eq, img.latex
        '[class*="math" i]',
        '[class*="atex"]',
        'script[type^="math/"]',
        'script[type*="mathjax" i]',
        'script[src*="mathjax" i]',
        'script[src*="katex"]',
        'script[src*="asciimath" i]',
        'link[href*="katex"]',
        'img[src*="latex" i]',
        'img[src*="tex.cgi"]',
        'img[src*="codecogs"]',
        "img.tex",
    ]
)


def rewrite_math(
    tree: HTMLTree,
    html: str,
    deadline: float = 0.0,
    protect: bool = False,
    prechecked: bool = False,
) -> MathResult:
    """Rewrite all math markup of ``tree`` to LaTeX text nodes, in place.

    ``html`` is the page source (for the cheap pre-check and the delimiter config);
    ``prechecked``: the caller already matched :data:`MATH_GUARD_SELECTOR` on ``tree``;
    ``deadline`` is a ``time.monotonic()`` value after which we stop (result.timed_out).
    ``protect``: put placeholder words in the DOM instead of the LaTeX, for extractors that
    escape Markdown (trafilatura turns ``a_1`` into ``a\\_1``); then run
    :func:`protect_raw_tex` on the serialized DOM for TeX the page wrote as text, and
    :func:`restore_placeholders` on the extractor's output.
    """
    res = MathResult(protect=protect, block_tag="p" if protect else "div")
    if prechecked or has_math_markup(html):
        res.asciimath = uses_asciimath(html)
        _rewrite_markup(tree, html, deadline, res)
    return res


def _rewrite_markup(tree: HTMLTree, html: str, deadline: float, res: MathResult) -> None:
    protect = res.protect
    doc = tree.document
    inline, display = page_delimiters(html)
    if inline or display:
        res.kinds.add("mathjax_config")
        custom = [(a, b, False) for a, b in inline if (a, b) not in _STD_DELIMS]
        custom += [(a, b, True) for a, b in display if (a, b) not in _STD_DELIMS]
        custom = list(dict.fromkeys(c for c in custom if c[0] and c[1]))[:MAX_CUSTOM_PAIRS]
        if custom:
            res.formulas += _rewrite_custom_delims(tree, custom, res, deadline)
            if res.timed_out:
                return
    found = doc.query_selector_all(MATH_SELECTOR)
    nodes = found[0 : len(found)]  # one tuple: iterating the collection itself is quadratic
    attached: set = set()
    for i, node in enumerate(nodes):
        if deadline and i % 64 == 0 and time.monotonic() > deadline:
            res.timed_out = True
            return
        if not _attached(node, doc, attached):
            continue
        tag = node.tag.lower()
        cls = _classes(node)
        if tag == "script":
            typ = (node.getattr("type") or "").lower()
            src = node.text
            if typ.startswith("math/tex"):
                res.kinds.add("mathjax")
                _replace(tree, node, src, "mode=display" in typ.replace(" ", ""), res)
                res.formulas += 1
            elif typ.startswith("math/asciimath"):
                res.kinds.add("asciimath")
                parent = node.parent
                txt = f"`{src.strip()}`"
                parent.replace_child(
                    tree.create_text_node(res.placeholder(txt) if protect else txt), node
                )
                # counted on the output text (count_asciimath), like AsciiMath written inline
            elif typ.startswith("math/mml"):
                res.kinds.add("mathml")
                frag = HTMLTree.parse(src)
                m = frag.document.query_selector("math")
                if m is not None:
                    tex, disp = _math_tex(m)
                    _replace(tree, node, tex, disp, res)
                    res.formulas += 1
            continue
        # before the v2 class check: v3 containers carry class="MathJax" too
        if tag == "mjx-container":
            res.kinds.add("mathjax")
            disp = (node.getattr("display") or "").lower() == "true"
            tex = node.getattr("data-latex") or ""
            if not tex:
                m = node.query_selector("math")
                tex = _math_tex(m)[0] if m is not None else ""
            _replace(tree, node, tex, disp, res)
            res.formulas += 1
            continue
        if cls & _RENDERED_CLASSES:
            nxt = _next_element(node)
            has_source = (
                nxt is not None
                and nxt.tag == "script"
                and ((nxt.getattr("type") or "").lower().startswith("math/"))
            )
            if has_source or "MathJax_Preview" in cls:
                node.parent.remove_child(node)
                continue
            # A saved page without the script: the assistive MathML or data-mathml is the source.
            m = node.query_selector("math")
            if m is None and node.hasattr("data-mathml"):
                m = HTMLTree.parse(node.getattr("data-mathml")).document.query_selector("math")
            if m is not None:
                res.kinds.add("mathjax")
                tex, disp = _math_tex(m)
                _replace(tree, node, tex, disp or "MathJax_Display" in cls, res)
                res.formulas += 1
            else:
                node.parent.remove_child(node)
            continue
        # before .katex: the plugin's display spans also carry the katex-display class
        if "wp-katex-eq" in cls:
            res.kinds.add("katex")
            disp = (node.getattr("data-display") or "").lower() == "true"
            _replace(tree, node, node.text, disp, res)
            res.formulas += 1
            continue
        if "katex-display" in cls or "katex" in cls:
            ann = node.query_selector('annotation[encoding="application/x-tex"]')
            if ann is None:
                m = node.query_selector("math")
                tex = _math_tex(m)[0] if m is not None else ""
            else:
                tex = ann.text
            res.kinds.add("katex")
            _replace(tree, node, tex, "katex-display" in cls, res)
            res.formulas += 1
            continue
        if "mwe-math-element" in cls:
            res.kinds.add("mathml")
            m = node.query_selector("math")
            img = node.query_selector("img")
            disp = (
                node.query_selector(".mwe-math-mathml-display, .mwe-math-fallback-image-display")
                is not None
            )
            if m is not None:
                tex = _math_tex(m)[0]
            elif img is not None:
                tex = _strip_displaystyle(img.getattr("alt") or "")
            else:
                tex = ""
            _replace(tree, node, tex, disp, res)
            res.formulas += 1
            continue
        if tag == "math":
            res.kinds.add("mathml")
            tex, disp = _math_tex(node)
            _replace(tree, node, tex, disp, res)
            res.formulas += 1
            continue
        if "math-container" in cls:
            res.kinds.add("math_container")  # raw TeX text with its own delimiters: keep
            continue
        if tag == "img":
            tex = _img_tex(node)
            if tex:
                res.kinds.add("tex_img")
                cl = node.getattr("class") or ""
                disp = "display" in cl or "latex-display" in cl
                _replace(tree, node, tex, disp, res)
                res.formulas += 1
            continue
