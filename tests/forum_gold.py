"""Real thread pages of tests/data/forum and how to score a text against their gold posts.

Shared by ``tests/test_threads.py`` and ``benchmarks/bench_threads.py``.

The measure, and why: harvest's gold posts were cut from *its* rendering of the page, which
differs from ours in whitespace, punctuation, smileys and link text. Both sides are therefore
reduced to lower-cased word tokens (``\\w+``, Unicode, without 1-2 digit numbers), and a post
counts as present when >= 90% of its token *trigrams* occur in the text. Trigrams rather than
single tokens: a bag of words would find most of any post's words somewhere else on a long
page (a thread repeats its own vocabulary), so it cannot tell a kept post from a lost one;
three tokens in a row can. 90% rather than 100%: the two renderings differ in a few tokens
per post (emoji names, image file names, a link's text or its URL). Posts of fewer than three
tokens ("+1", "Thanks!") fall back to single tokens.

Order: a kept post sits at the median first position of its own trigrams (those in no other
gold post); posts off the longest run in gold order are out of order. Once: a post is repeated
when most of its own trigrams occur twice in the text. Chrome: lines repeated 3+ times in the
text that are in no gold post (per-post "Reply", "Quote", "Joined:", share bars).
"""

from __future__ import annotations

import bisect
import csv
import gzip
import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FORUM = Path(__file__).parent / "data" / "forum"
_WORD = re.compile(r"\w+")
PRESENT = 0.9  # trigram containment at which a gold post counts as kept


# Quote attributions ("X said: ↑", "Click to expand...", "X wrote: ↑ Thu Apr 02, 2020 8:41 am",
# "Zitat von X", "Quote from: X on April 21, 2020, 12:58:32 AM") are per-post chrome by our
# definition, but harvest's gold post texts keep them; they are cut from the gold before
# scoring so that removing them is not counted as losing post text.
_DATE = (
    r"(?:[A-Z][a-z]{2} )?[A-Z][a-z]{2,8}\.? \d{1,2},? \d{4},?"
    r"(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[apAP][mM])?)?"
    r"|\d{1,2}\.? [A-Za-zä]{3,9}\.? \d{4},? \d{1,2}:\d{2}"
)
_QUOTE_ATTRIBUTION = re.compile(
    r"(?:^|(?<=\s))\S+(?: \S+){0,3}? (?:said|wrote|schrieb|hat geschrieben|a écrit)\s?:\s*↑?"
    rf"(?:\s*(?:{_DATE}))?"
    r"|Click to expand\.\.\.|Klicken zum Erweitern\.\.\.|Zum Vergrößern anklicken\.{3}"
    r"|Klicke in dieses Feld, um es in vollständiger Größe anzuzeigen\."
    r"|Zitat von [^:↑\n]{1,40}:\s*↑?|Zitat von \S+"
    rf"|Quote from: .{{0,60}}? on (?:{_DATE})"
    r"|Originally Posted by \S+"
)


def strip_quote_headers(post: str) -> str:
    return _QUOTE_ATTRIBUTION.sub(" ", post)


def tokens(text: str) -> list[str]:
    # numbers of one or two digits are left out on both sides: list numbering ("1.", "2.")
    # is added by one rendering and not the other
    return [t for t in _WORD.findall(text.lower()) if not (len(t) <= 2 and t.isdigit())]


def trigrams(toks: list[str]) -> list[tuple[str, ...]]:
    if len(toks) < 3:
        return [(t,) for t in toks]
    return [tuple(toks[i : i + 3]) for i in range(len(toks) - 2)]


@dataclass
class ForumPage:
    path: str
    url: str
    engine: str
    split: str
    posts: list[str] = field(default_factory=list)  # gold post texts (harvest only)

    def html(self) -> str:
        from pipeline.charset import decode_html

        raw = gzip.decompress((FORUM / self.path).read_bytes())
        if self.path.endswith(".json.gz"):
            return _unself_close(json.loads(raw)["html"])
        return decode_html(raw)[0]

    @property
    def reserialized(self) -> bool:
        """Whether harvest's XHTML re-serialization damaged this page (see _unself_close)."""
        if not self.path.endswith(".json.gz"):
            return False
        return bool(
            _SELF_CLOSED.search(
                json.loads(gzip.decompress((FORUM / self.path).read_bytes()))["html"]
            )
        )


# harvest stored each page re-serialized as XHTML: an empty <iframe></iframe> became
# <iframe/>, which HTML5 parsers (browsers, lexbor, html5lib) do not close, so the rest of the
# page became the iframe's raw text on 20 of its 102 pages. The original pages had the closing
# tag; putting it back is the only change made to any fixture's HTML.
_SELF_CLOSED = re.compile(
    r"<(iframe|textarea|noscript|title|xmp|noembed|noframes)\b([^>]*?)/>", re.I
)


def _unself_close(html: str) -> str:
    return _SELF_CLOSED.sub(r"<\1\2></\1>", html)


def forum_pages(split: str | None = None, gold: bool | None = None) -> list[ForumPage]:
    """Pages of tests/data/forum/manifest.tsv (``split`` dev/test; ``gold``: with gold posts)."""
    out = []
    with open(FORUM / "manifest.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if split and row["split"] != split:
                continue
            page = ForumPage(row["path"], row["url"], row["engine"], row["split"])
            if row["gold_posts"]:
                doc = json.loads(gzip.decompress((FORUM / row["path"]).read_bytes()))
                page.posts = [
                    strip_quote_headers(a["post_text"]["surface_form"])
                    for a in doc["gold_standard_annotation"]
                ]
            if gold is None or gold == bool(page.posts):
                out.append(page)
    return out


@dataclass
class PostScore:
    posts: int
    kept: int  # gold posts with trigram containment >= PRESENT
    out_of_order: int  # kept posts outside the longest run in gold order
    repeated: int  # kept posts whose text appears twice or more
    chrome_lines: int  # occurrences of lines repeated >= 3 times that are in no gold post
    outside_share: float  # share of the text's tokens in no gold post (chrome, title, ads)
    containment: list[float] = field(default_factory=list)


def _longest_increasing(xs: list[int]) -> int:
    tails: list[int] = []
    for x in xs:
        i = bisect.bisect_left(tails, x)
        tails[i : i + 1] = [x]
    return len(tails)


def score_posts(text: str, posts: list[str]) -> PostScore:
    """How ``text`` keeps the gold ``posts``: present, in order, once, and without chrome."""
    toks = tokens(text)
    grams = trigrams(toks)
    have = Counter(grams)
    have_tok = Counter(toks)
    gold_grams = [trigrams(tokens(p)) for p in posts]
    gold_count = Counter(g for gs in gold_grams for g in gs)
    first_at: dict[tuple[str, ...], int] = {}
    for i, g in enumerate(grams):
        first_at.setdefault(g, i)
    containment, positions, repeated = [], [], 0
    for gs in gold_grams:
        pool = have if gs and len(gs[0]) == 3 else have_tok
        c = sum(1 for g in gs if pool[g if len(g) == 3 else g[0]] > 0) / len(gs) if gs else 1.0
        containment.append(c)
        if c < PRESENT or not gs:
            continue
        own = [g for g in gs if len(g) == 3 and gold_count[g] == 1 and g in first_at]
        if own:
            # the median: a few of a post's trigrams also occur earlier (title, a quote of it)
            positions.append(statistics.median_low([first_at[g] for g in own]))
            # repeated: most of the post's own trigrams occur more often than in the gold
            if sum(1 for g in own if have[g] > 1) > len(own) / 2:
                repeated += 1
    gold_set = set(gold_count)
    lines = Counter(" ".join(tokens(ln)) for ln in text.splitlines())
    chrome = 0
    for line, n in lines.items():
        lt = line.split()
        if n < 3 or not lt:
            continue
        lg = trigrams(lt)
        if sum(1 for g in lg if (g in gold_set if len(g) == 3 else False)) < len(lg) / 2:
            if len(lt) < 3 and any(lt[0] in p for p in map(str.lower, posts)):
                continue  # a short line that is also post text ("Thanks")
            chrome += n
    inside = sum(1 for g in grams if g in gold_set)
    return PostScore(
        posts=len(posts),
        kept=sum(1 for c in containment if c >= PRESENT),
        out_of_order=len(positions) - _longest_increasing(positions),
        repeated=repeated,
        chrome_lines=chrome,
        outside_share=1 - inside / len(grams) if grams else 0.0,
        containment=containment,
    )


def stackexchange_posts(html: str) -> list[tuple[str, str]]:
    """[(kind, text)] of a Stack Exchange page's question, answers and comments, read with
    lxml (a parser the extractor does not use). The "closed as duplicate" notice inside the
    question body is left out: it is the site's, not the asker's."""
    import lxml.html

    doc = lxml.html.fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    for notice in doc.xpath("//*[contains(concat(' ', @class, ' '), ' js-post-notice ')]"):
        notice.drop_tree()
    out = []
    for el in doc.xpath(
        "//*[contains(concat(' ', @class, ' '), ' question ') or "
        "contains(concat(' ', @class, ' '), ' answer ')]"
    ):
        kind = "question" if "question" in el.get("class").split() else "answer"
        for body in el.xpath(
            ".//*[contains(concat(' ', @class, ' '), ' js-post-body ') or "
            "contains(concat(' ', @class, ' '), ' post-text ')]"
        )[:1]:
            out.append((kind, body.text_content()))
        for c in el.xpath(".//*[contains(concat(' ', @class, ' '), ' comment-copy ')]"):
            out.append(("comment", c.text_content()))
    return out
