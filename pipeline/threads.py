"""Forum and Q&A thread pages: find each post's body by the forum engine's markup, in order.

Generic main-content extractors read a thread as one article: trafilatura keeps one post (or
the page title and one line), resiliparse keeps the posts together with every post's chrome
(user block, "Reply", "Quote", vote counts, signature), and on some XenForo themes nothing at
all. Forum software is a few dozen engines, each marking a post body the same way on every
site that runs it, so a table of CSS selectors (:data:`ENGINES`) finds the bodies exactly:

- ``posts``: the element whose text is one post (question, answer, reply, comment), in
  document order. A body nested in another body (a quoted post) is part of the outer one.
- ``chrome``: elements *inside* a body that are not the author's text ("X said:", "Click to
  expand...", "Code: Select all", edit notes, hidden anti-scraping characters). The text of a
  quote stays: the author chose to repeat it.
- ``requires``: a page-level marker, for engines whose body selector alone could match
  non-forum pages (schema.org ``Answer`` is also used on FAQ pages).

Signatures, user blocks, vote counts, share and reply bars sit outside the bodies, so they are
never read. Pages whose math was rewritten to ``$..$`` text before this (see
:mod:`pipeline.math_markup`) keep their formulas inside the posts.

Which pages are threads: the careful path (selected pages only) asks every page; the fast
path (every crawled page) asks only pages whose URL looks like a thread's
(:func:`looks_like_thread_url`, microseconds), because even one combined selector walk over
the DOM costs about as much as the rest of the fast path (``benchmarks/bench_threads.py``).
On such URLs a generic fallback also reads forum software missing from the table.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree


@dataclass(frozen=True)
class Engine:
    name: str
    posts: str  # CSS selector of post bodies
    chrome: str = ""  # CSS selector of chrome inside a body
    requires: str = ""  # CSS selector that must also match somewhere on the page
    excludes: str = ""  # CSS selector that must not match anywhere on the page
    thread_url: bool = False  # only on pages whose URL looks like a thread's


# Quote headers written as text by engines whose markup gives them no element of their own
# (vBulletin 3 "Quote:" / "Originally Posted by X", SMF "Quote from: X on <date>", translated
# variants). Only a line of its own, and only these words: a line "Quote: <text>" is text.
_QUOTE_HEADER = re.compile(
    r"^(?:Quote|Zitat|Cita|Citation|Citazione)\s?:$"
    r"|^(?:Originally Posted by|Quote from:|Zitat von|Cita de|Citazione di)\s.{1,80}$"
    r"|^(?:Click to expand|Klicken zum Erweitern|Klicke zum Erweitern)\.\.\.$"
)

# One row per engine: the markup its templates give every post body (taken from the engines'
# default templates; where a fixture of tests/data/forum dev shows the engine, it was checked
# there). Order matters only when two rows match one page: the first wins.
ENGINES: tuple[Engine, ...] = (
    Engine(
        "stackexchange",
        posts=".question .js-post-body, .question .post-text, .answer .js-post-body, "
        ".answer .post-text, .comment-copy",
        requires=".question[data-questionid], #question[data-questionid], #question-header",
        chrome=".js-post-notice, .post-notice, .question-status",
    ),
    Engine(
        "xenforo",
        # XF2 .message-body .bbWrapper (the signature's .bbWrapper sits outside .message-body);
        # XF1 .messageText
        posts=".message-body .bbWrapper, li.message .messageText, .message .messageText.ugc",
        chrome=".bbCodeBlock-title, .bbCodeBlock-expandLink, "
        ".bbCodeBlock--quote > .bbCodeBlock-title, .attribution, .quoteExpand, "
        ".messageTextEndMarker, .bbCodeBlock--unfurl .contentRow-minor",
    ),
    Engine(
        "discourse",
        # JS view: .topic-post .cooked; crawler view (<noscript>): .crawler-post .post
        posts=".topic-post .cooked, .crawler-post .post, .crawler-post [itemprop='articleBody']",
        chrome="aside.quote > .title, .lightbox-wrapper .meta, .cooked-selection-barrier",
    ),
    Engine(
        "invision",
        # IPS 4: [data-role=commentContent]; IPS 3: .post_body .post.entry-content
        posts="[data-role='commentContent'], .post_body .post.entry-content",
        chrome=".ipsQuote_citation, [data-excludequote], .ipsType_reset.ipsType_light, "
        ".citation, p.edit",
    ),
    Engine(
        "vbulletin",
        # vB3/vB4: div#post_message_N (vB4 wraps blockquote.postcontent);
        # vB5: .js-post__content-text
        posts="div[id^='post_message_'], .js-post__content-text, "
        ".b-post__content .js-post__content",
        chrome=".bbcode_postedby, .bbcode_description, .quote_container .postedby, "
        ".bbcode_container .bbcode_description",
    ),
    Engine(
        "phpbb",
        # phpBB 3 (prosilver and derivatives): .postbody .content; FluxBB/PunBB: .blockpost .postmsg
        posts=".postbody .content, .blockpost .postmsg:not(.postsignature)",
        chrome="blockquote > cite, blockquote > div > cite, .codebox > p, .codebox > dt, "
        ".quotebox > cite, .codebox h4",
    ),
    Engine(
        "smf",
        # SMF 2.x: .post > .inner (id msg_N); SMF 1.x: div.post in a windowbg cell
        posts="div.post > div.inner[id^='msg_'], div.post > div.inner[data-msgid], "
        "td.windowbg div.post, td.windowbg2 div.post, td.windowbg3 div.post",
        chrome=".quoteheader, .codeheader, .quotefooter, blockquote > cite, .smalltext",
    ),
    Engine(
        "vanilla",
        posts=".ItemDiscussion .Message, .ItemComment .Message, .MessageList .Message.userContent",
        chrome=".QuoteAuthor, .Quote .QuoteAuthor, .UserQuote .QuoteAuthor",
    ),
    Engine(
        "woltlab",
        posts=".wbbPost .messageText, article.message .messageText, .messageBody .messageText",
        chrome=".quoteBoxTitle, .quoteHeader, .codeBoxHeader, .messageFooterNote",
    ),
    Engine(
        "mybb",
        posts=".post .post_body, div.post_body[id^='pid_']",
        chrome="blockquote.mycode_quote > cite, .codeblock > .title, .post_edit",
    ),
    Engine("phorum", posts=".message .message-body", chrome=".message-options, .signature"),
    Engine(
        "kunena",
        # Kunena 1.x .kmsgbody .kmsgtext; Kunena 4-6 templates .kmessage .kmsg
        posts=".kmsgbody .kmsgtext, .kmessage .kmsg",
        chrome=".kmsgsignature, .kmsg-signature, .kmsgattach, .kquote-by",
    ),
    Engine(
        "bbpress",
        posts=".bbp-topic-content, .bbp-reply-content",
        chrome=".bbp-reply-revision-log, .bbp-topic-revision-log, .bbp-reply-ip",
    ),
    Engine("nodebb", posts="[component='post/content']"),
    # Flarum's server-rendered view sits in <noscript id="flarum-content">; a bare .Post-body
    # also matches Blogger's post-body in quirks mode (class names match case-insensitively)
    Engine("flarum", posts="#flarum-content .Post-body, .PostStream-item .Post-body"),
    Engine(
        "discuz",
        posts="td[id^='postmessage_'], div[id^='postmessage_'], .t_msgfont",
        chrome=".jammer, .pstatus, span[style*='display:none'], .attach_nopermission",
    ),
    Engine("khoros", posts=".lia-message-body-content"),
    Engine(
        "reddit",
        # old reddit (.content excludes the sidebar's .md), redesign, shreddit
        posts=".content .thing .usertext-body .md, [data-test-id='post-content'] "
        "[data-click-id='text'], [data-testid='comment'], shreddit-post [slot='text-body'], "
        "shreddit-comment [slot='comment']",
    ),
    Engine("nairaland", posts="td[id^='pb'] div.narrow"),
    Engine(
        "schema.org",
        # microdata of forum posts and of Q&A pages
        posts="[itemtype*='DiscussionForumPosting'] [itemprop='text'], "
        "[itemtype*='DiscussionForumPosting'] [itemprop='articleBody'], "
        "[itemtype*='schema.org/Question'] [itemprop='text'], "
        "[itemtype*='schema.org/Answer'] [itemprop='text'], "
        "[itemtype*='schema.org/Comment'] [itemprop='text']",
        requires="[itemtype*='DiscussionForumPosting'], [itemtype*='QAPage']",
        excludes="[itemtype*='FAQPage']",
    ),
    Engine(
        "schema.org",
        # Question/Answer without QAPage: also product pages' customer Q&A, so thread URLs only
        posts="[itemtype*='schema.org/Question'] [itemprop='text'], "
        "[itemtype*='schema.org/Answer'] [itemprop='text'], "
        "[itemtype*='schema.org/Comment'] [itemprop='text']",
        requires="[itemtype*='schema.org/Answer']",
        excludes="[itemtype*='FAQPage']",
        thread_url=True,
    ),
)


# URLs of thread pages in the engines' default routes (XenForo /threads/, Discourse /t/slug/N,
# phpBB viewtopic.php, vBulletin showthread.php, SMF ?topic=, Stack Exchange /questions/N,
# Reddit /comments/, Vanilla /discussion/, Flarum /d/N, Discuz thread-N, ...). The fast path
# reads posts only on such URLs: this costs microseconds a page, a selector walk of the DOM
# milliseconds (as much as the rest of the fast path; measured in benchmarks/bench_threads.py).
_THREAD_URL = re.compile(
    r"/threads?/|/t/[^/?#]+/\d|viewtopic\.php|showthread\.php|/topics?/|[?&;]topic=|/questions/\d"
    r"|/q/\d|/discussions?/|/comments/\w|/d/\d|thread-\d|viewthread|/read\.php|forum"
    r"|/boards?/|/community/|/posts/|/answers?/|/discuss/"
)
# a word every alternative above contains: plain substring tests rule most URLs out ~20x
# faster than the regex (which tries every alternative at every position)
_THREAD_URL_WORDS = (
    "thread", "/t/", "topic", "/questions/", "/q/", "discuss", "/comments/", "/d/", "read.php",
    "forum", "board", "/community/", "/posts/", "/answer",
)  # fmt: skip


def looks_like_thread_url(url: str) -> bool:
    """Whether ``url`` has the shape of a forum or Q&A thread URL (the fast path's gate)."""
    if not url:
        return False
    low = url.lower()
    return any(w in low for w in _THREAD_URL_WORDS) and _THREAD_URL.search(low) is not None


@functools.lru_cache(maxsize=1)
def any_post_selector() -> str:
    """One selector matching any engine's post body: the cheap "is this a thread?" probe."""
    return ", ".join(e.posts for e in ENGINES)


@dataclass
class Thread:
    engine: str
    title: str
    posts: list[str]  # each post's text, in document order


def _outermost(nodes: list) -> list:
    """``nodes`` (document order) without those inside another one of them."""
    out: list = []
    for n in nodes:
        if out and out[-1].contains(n):
            continue  # in document order, an enclosing node comes right before its contents
        out.append(n)
    return out


# A paragraph of its own between posts: one parse and one extraction for the whole thread
# (lexbor's per-parse overhead, ~0.15 ms, times 50 posts was most of the cost)
_SEP = "mmthreadpostbreak"


def _post_texts(bodies: list, chrome: str) -> list[str]:
    doc = f"<p>{_SEP}</p>".join(b.html for b in bodies)
    text = extract_plain_text(
        HTMLTree.parse(f"<html><body>{doc}</body></html>"),
        preserve_formatting=True,
        main_content=False,
        alt_texts=False,
        links=False,
        noscript=True,  # a body's own <noscript> content is what no-JS readers see
        skip_elements=[c.strip() for c in chrome.split(",")] if chrome else None,
    )
    posts = []
    for chunk in text.split(_SEP):
        lines = [ln for ln in chunk.strip().splitlines() if not _QUOTE_HEADER.match(ln.strip())]
        post = "\n".join(lines).strip()
        if post:
            posts.append(post)
    return posts


def _title(tree: HTMLTree, bodies: list) -> str:
    for h in tree.document.query_selector_all("h1")[:5]:
        if any(b.contains(h) for b in bodies):
            continue
        t = " ".join(h.text.split())
        if t and len(t) <= 300:
            return t
    return " ".join((tree.title or "").split())


# Generic fallback for forum software not in ENGINES: post bodies are elements whose class
# names a post-like thing and its body ("post-body", "forum_message", "discussion-post-body",
# "response-text-content", "comment-text"), repeated at least twice without nesting.
_BODY_CLASS = re.compile(
    r"^(?:[a-z0-9]+[-_])*(?:post|message|msg|comment|reply|response|answer|topic|forum)[-_]?"
    r"(?:body|text|content|message|msg)(?:[-_][a-z0-9]+)*$",
    re.I,
)
_BODY_CANDIDATES = (
    "[class*='body' i], [class*='text' i], [class*='content' i], [class*='message' i],"
    " [class*='msg' i]"
)
# An article's body on the page (blog post, news story): its comments are not a thread.
_ARTICLE = (
    "[itemprop='articleBody'], .entry-content, .article-body, .article-content, .story-body,"
    " .post-entry, [class*='article__body'], [class*='article-body'], article .post-content"
)
_GENERIC_MIN_POSTS = 2
_GENERIC_MIN_CHARS = 200  # text of all posts together: less is a widget, not a discussion


def _generic_bodies(doc) -> list:
    groups: dict[str, list] = {}
    cands = doc.query_selector_all(_BODY_CANDIDATES)
    for n in cands[0 : len(cands)]:
        for c in (n.getattr("class") or "").split():
            if _BODY_CLASS.match(c):
                groups.setdefault(c.lower(), []).append(n)
                break
    chosen = []
    for key, nodes in groups.items():
        outer = _outermost(nodes)
        if len(outer) < _GENERIC_MIN_POSTS or len(outer) < len(nodes):
            continue  # a lone block, or bodies nested in each other (a layout class)
        if sum(len(n.text) for n in outer) < _GENERIC_MIN_CHARS:
            continue
        chosen.append((key, outer))
    if not chosen or all(k.startswith("comment") for k, _ in chosen):
        return []  # only comments: the comment section under an article
    article = doc.query_selector(_ARTICLE)
    nodes = sorted((n for _, ns in chosen for n in ns), key=_doc_position(doc))
    if article is not None and not any(n.contains(article) for n in nodes):
        return []
    return _outermost(nodes)


def _doc_position(doc):
    """Sort key of nodes by document order (one walk numbering every element)."""
    order = {}
    every = doc.query_selector_all("*")
    for i, n in enumerate(every[0 : len(every)]):
        order[hash(n)] = i
    return lambda n: order.get(hash(n), 0)


def find_thread(tree: HTMLTree, url: str = "", probe: bool = True) -> Thread | None:
    """The posts of a forum or Q&A thread page, or None when it is not one.

    Engines' markup first (:data:`ENGINES`); on a page whose ``url`` looks like a thread's,
    the generic class-name fallback after that. With ``probe`` one combined selector walk rules
    out pages without any engine's markup before the per-engine walks.
    """
    doc = tree.document
    if doc is None:
        return None
    thread_url = looks_like_thread_url(url)
    if not probe or doc.query_selector(any_post_selector()) is not None:
        for engine in ENGINES:
            if engine.thread_url and not thread_url:
                continue
            nodes = doc.query_selector_all(engine.posts)
            if not len(nodes):
                continue
            if engine.requires and doc.query_selector(engine.requires) is None:
                continue
            if engine.excludes and doc.query_selector(engine.excludes) is not None:
                continue
            bodies = _outermost(list(nodes[0 : len(nodes)]))  # slice: iteration is quadratic
            posts = _post_texts(bodies, engine.chrome)
            if posts:
                return Thread(engine=engine.name, title=_title(tree, bodies), posts=posts)
    if not thread_url:
        return None
    bodies = _generic_bodies(doc)
    posts = _post_texts(bodies, "") if bodies else []
    if len(posts) < _GENERIC_MIN_POSTS:
        return None
    return Thread(engine="generic", title=_title(tree, bodies), posts=posts)


def thread_text(thread: Thread, heading: str = "") -> str:
    """The thread as text: its title (after ``heading``, e.g. "# "), then each post, blank-line
    separated."""
    head = [f"{heading}{thread.title}"] if thread.title else []
    return "\n\n".join(head + thread.posts)
