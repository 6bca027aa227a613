"""Per-post chrome of forum and Q&A threads, and the copies their quotes make.

Every post of a thread carries the same user block and buttons ("Joined:", "Posts: 1,234",
"Reply", "Quote", "Report", a rank, a share line), and replies quote earlier posts, so on a
real thread repeated lines are a third or more of the page and Gopher's repetition rules drop
it. This line rule removes them before the page rules judge the page; the page rules then judge
the posts. Measured on the real threads of tests/data/forum's dev split:

- a chrome line is short, carries no math (formula, TeX, structure label like "Solution.",
  worked step, arithmetic), no code (code examples repeat imports and braces by design) and is
  not a sentence; its key (the line, its label when it reads "Label: value", its verb when it
  is a quote header "Villeroy wrote:") recurs ``thread_chrome_min_repeats`` times or more;
- its occurrences are separated by posts (runs of other lines with
  ``thread_chrome_post_words`` words or more): a chorus, a menu, a table or a list repeats its
  lines next to each other, not once per post;
- the page is a thread: one recurring line speaks forum ("Reply", "Quote", "Joined:",
  "wrote:", "Likes", "improve this answer"), or two use common chrome words ("Member",
  "votes", "comments"). Docs repeat "Parameters:" and "Returns:" once per function in the same
  way and are not threads; on the shared non-math pages this leaves docs, shops, recipes and
  court listings alone;
- on a thread, a later copy of a prose line of ``thread_quote_min_chars`` or more is a quote
  (or a signature) and goes; its first occurrence, the post, stays;
- if the rule would remove more than ``thread_chrome_max_share`` of the page's characters, it
  removes nothing: real threads lose at most 38% (dev), a page that repeats one message is
  junk, and Gopher's rules judge it as it is.
"""

from __future__ import annotations

import re

from pipeline.clean_analysis import repeats_by_design
from pipeline.config import CleanConfig
from pipeline.math_text import has_arithmetic
from pipeline.text_norm import Line
from pipeline.threads import looks_like_thread_url

# Words of per-post chrome (buttons, user-block labels, quote headers, counters) in the forum
# engines of tests/data/forum's dev split (XenForo, phpBB, vBulletin, SMF, Discourse, Invision,
# Vanilla, Stack Exchange, Reddit) and their German/French/Spanish/Italian/Portuguese skins.
# A recurring line with a forum word makes a page a thread; with only a common one ("Member",
# "votes", "comments", "signature", which docs and shops use too) it takes two such lines.
FORUM_WORDS = frozenset(
    """
    reply replies replied quote quoted permalink joined posts posted wrote said originally re
    reputation upvote upvotes upvoted downvote downvotes registered likes liked thanks thanked
    reactions improve moderator administrator admin logged karma newbie merit
    antworten antwort zitieren zitat beiträge registriert schrieb themenstarter
    anmeldungsdatum zustimmungen gefällt
    répondre réponse citer inscrit écrit
    responder citar mensajes registrado escribió
    rispondi cita messaggi iscritto scritto
    respostas mensagens escreveu
    """.split()
)
COMMON_CHROME_WORDS = frozenset(
    """
    member members vote votes answer answers answered asked comment comments ago deleted level
    activity helpful messages report reported edited guest online offline share shares
    subscribe bookmark signature mitglied melden membre signaler miembro
    """.split()
)
CHROME_WORDS = FORUM_WORDS | COMMON_CHROME_WORDS
# "Villeroy wrote:", "DMW said:", "Pendoo wrote: »", "andrew said:"
_ATTRIBUTION = re.compile(r"^.{1,40}?\b(\w+)\s*:\s*[»«>.…]*$")
# labelled lines longer than thread_chrome_max_chars are chrome only with a forum label
# ("Re: <the thread's title> by <user>: 9:05am On Apr 24")
_MAX_LABELLED = 200
_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*k?")
_ALNUM = re.compile(r"[^\W_]")
_BRACKETS = re.compile(r"[{}\[\]();]")
# "Posts: 1,234", "Joined: Sat Jan 31, 2009", "Location: Ireland": the label is the chrome
_LABEL = re.compile(r"^([^\W\d_][\w .'’-]{0,30}?)\s*:\s*\S")
# code repeats its imports, braces and keywords in every example
_CODE_CHARS = re.compile(r"[=<>{}\[\]();@\\`]|__|\"\"\"|^\s*(?:#|//|\$|>>>|\.\.\.\s)")
_CODE_END = (";", "{", "}", "};", "*/", ")", ":")
# prose has a few symbols per sentence; code, logs and timestamps ("00:00:02,067 -->") more
_MAX_SYMBOL_SHARE = 0.15
_CODE_WORDS = re.compile(
    r"^\s*(?:class|def|import|from|return|pass|else|elif|try|except|finally|raise|public|"
    r"private|static|var|let|const|function|end|endif|endfor|fi|done|break|continue)\b"
)


def _is_code(t: str) -> bool:
    return bool(_CODE_CHARS.search(t) or _CODE_WORDS.match(t))


def _chrome_key(ln: Line, max_chars: int) -> str | None:
    """The line's chrome key, or None if it cannot be chrome: a quote header ("Villeroy
    wrote:", "DMW said:") keys as its verb, a "Label: value" line as its label, a rule or
    separator ("-----", "|") and any other short line as itself."""
    t = ln.text.strip()
    if not t or len(t) > _MAX_LABELLED:
        return None
    label = _LABEL.match(t)
    if len(t) > max_chars and not (label and _speaks_forum(label.group(1))):
        return None  # long lines are posts' text (checked first: most lines of a page)
    if repeats_by_design(ln) or has_arithmetic(ln.prose):
        return None
    if not _ALNUM.search(t):
        return None if _BRACKETS.search(t) or _is_code(t) else t
    m = _ATTRIBUTION.match(t)
    if m and m.group(1).lower() in CHROME_WORDS:
        return m.group(1).lower() + ":"
    if label and not _is_code(t):
        return label.group(1) + ":"
    if len(t) > max_chars or _is_code(t) or t.endswith(_SENTENCE_END):
        return None  # code and sentences are posts' text, not chrome
    # "2 likes", "1 answer", "506 Likes 41 Shares": a counter of the post, whatever its value
    return _DIGITS.sub("0", t) if _chrome_words(t) else t


def _chrome_words(key: str) -> set[str]:
    return {w for w in _WORD.findall(key.lower()) if w in CHROME_WORDS}


def _speaks_forum(key: str) -> bool:
    return bool(_chrome_words(key) & FORUM_WORDS)


def _is_thread(periodic: set[str]) -> bool:
    """One recurring line with a forum word, or two with common chrome words."""
    common = 0
    for k in periodic:
        words = _chrome_words(k)
        if words & FORUM_WORDS:
            return True
        common += bool(words)
    return common >= 2


def chrome_keys(lines: list[Line], cfg: CleanConfig) -> tuple[list[str | None], set[str]]:
    """Each line's chrome key, and the keys of the page's per-post chrome (empty if it is not
    a thread)."""
    keys = [_chrome_key(ln, cfg.thread_chrome_max_chars) for ln in lines]
    counts: dict[str, int] = {}
    for k in keys:
        if k is not None:
            counts[k] = counts.get(k, 0) + 1
    repeated = {k for k, n in counts.items() if n >= cfg.thread_chrome_min_repeats}
    if not repeated:
        return keys, set()
    posts = 0  # posts seen so far: runs of thread_chrome_post_words+ words between chrome
    run_words = 0
    last_at: dict[str, int] = {}  # key -> posts seen when it last occurred
    gaps_with_post: dict[str, int] = {}
    for ln, k in zip(lines, keys):
        if k in repeated:
            if run_words >= cfg.thread_chrome_post_words:
                posts += 1
            run_words = 0
            if k in last_at and posts > last_at[k]:
                gaps_with_post[k] = gaps_with_post.get(k, 0) + 1
            last_at[k] = posts
        else:
            run_words += len(ln.text.split())
    # once per post: most gaps between two occurrences of the line hold a post
    periodic = {k for k in repeated if gaps_with_post.get(k, 0) * 2 >= counts[k] - 1}
    return keys, periodic if _is_thread(periodic) else set()


def _is_quotable(ln: Line, min_chars: int) -> bool:
    """A prose line that a later post may quote (code and math repeat by design)."""
    t = ln.text.strip()
    if len(t) < min_chars or repeats_by_design(ln) or has_arithmetic(ln.prose):
        return False
    if _CODE_WORDS.match(t) or t.endswith(_CODE_END):
        return False
    symbols = sum(1 for c in t if not (c.isalnum() or c.isspace()))
    return symbols <= len(t) * _MAX_SYMBOL_SHARE


def thread_chrome_lines(
    lines: list[Line], cfg: CleanConfig, url: str = ""
) -> tuple[list[Line], list[Line]]:
    """(kept, removed): a thread's per-post chrome lines and the later copies of its quoted
    lines removed; lines with math or code are never removed; other pages unchanged.

    A page is a thread when its recurring lines speak forum, or when its URL has a thread's
    shape (:func:`pipeline.threads.looks_like_thread_url`): the extractor's thread reader
    returns a known engine's posts without their chrome, so nothing speaks forum any more, but
    replies still quote earlier posts, and the copies fail the repetition rules (an SMF and a
    phpBB thread of tests/data/forum's dev split)."""
    keys, chrome = chrome_keys(lines, cfg)
    if not chrome and not looks_like_thread_url(url):
        return lines, []
    kept, removed = [], []
    seen: set[str] = set()
    for ln, key in zip(lines, keys):
        t = ln.text.strip()
        if key in chrome:
            removed.append(ln)
        elif t in seen and _is_quotable(ln, cfg.thread_quote_min_chars):
            removed.append(ln)  # a quote of an earlier post, or a signature
        else:
            seen.add(t)
            kept.append(ln)
    # a thread quotes itself, a junk page repeats itself: if more than this share of the page
    # would go, the repetition is the page, and Gopher's rules judge it as it is
    size = sum(len(ln.text.strip()) for ln in lines)
    if sum(len(ln.text.strip()) for ln in removed) > cfg.thread_chrome_max_share * size:
        return lines, []
    return kept, removed
