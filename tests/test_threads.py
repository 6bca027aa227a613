"""Forum and Q&A thread pages (tests/data/forum, real pages): every post kept, in order, once,
without per-post chrome; Stack Exchange keeps question, answers and comments.

Posts are scored against harvest's gold posts by word-trigram containment (tests/forum_gold.py
says why). Thresholds were set from the dev split; the test split (a third of the sites, never
looked at while building the engine table) is held to what it measured, as a guard:

              posts kept (careful)   pages keeping every post
    dev       0.99 (866/878)         58/68
    test      0.88 (423/482)         16/34    (10 of 34 pages: engines or layouts not in the
                                               table, read by trafilatura (+ fast lines))
"""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.config import ExtractConfig
from pipeline.html_text import SOURCES, Extraction, extract_text
from pipeline.threads import find_thread, looks_like_thread_url, thread_text
from tests.forum_gold import (
    ForumPage,
    PostScore,
    forum_pages,
    score_posts,
    stackexchange_posts,
    tokens,
)
from tests.test_extract_fixtures import PAGES as MATH_PAGES

CFG = ExtractConfig(page_timeout_s=0)  # the suite runs beside other jobs: no wall-time drops
NO_THREADS = dataclasses.replace(CFG, forum_threads=False, fast_forum_threads=False)
GOLD = forum_pages(gold=True)


def _extract(page: ForumPage, mode: str, cfg: ExtractConfig = CFG) -> Extraction:
    res = extract_text(page.html(), url=page.url, mode=mode, config=cfg)
    assert isinstance(res, Extraction), f"{page.path} ({mode}) dropped: {res}"
    return res


def _plain_text(page: ForumPage) -> str:
    """resiliparse's main content alone (some XenForo and Discourse pages come back empty)."""
    res = extract_text(page.html(), url=page.url, mode="fast", config=NO_THREADS)
    return res.text if isinstance(res, Extraction) else ""


@pytest.fixture(scope="module")
def scored() -> dict[str, tuple[Extraction, PostScore, PostScore]]:
    """path -> (careful extraction, its score, the score of resiliparse's text)."""
    out = {}
    for p in GOLD:
        careful = _extract(p, "careful")
        out[p.path] = (
            careful,
            score_posts(careful.text, p.posts),
            score_posts(_plain_text(p), p.posts),
        )
    return out


def _split(scored, split: str):
    return [(p, *scored[p.path]) for p in GOLD if p.split == split]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("split", "min_kept", "min_pages"),
    # dev measured 0.99 and 58/68; test 0.88 and 16/34 (a guard: nothing was tuned on it)
    [("dev", 0.97, 0.80), ("test", 0.85, 0.40)],
)
def test_gold_posts_kept(scored, split, min_kept, min_pages):
    rows = _split(scored, split)
    kept = sum(s.kept for _, _, s, _ in rows)
    total = sum(s.posts for _, _, s, _ in rows)
    full = sum(s.kept == s.posts for _, _, s, _ in rows)
    assert kept / total >= min_kept, f"{split}: {kept}/{total} gold posts kept"
    assert full / len(rows) >= min_pages, f"{split}: {full}/{len(rows)} pages keep every post"
    # the careful text before threads were read (trafilatura) kept 29% (dev) and 50% (test)
    plain = sum(s.kept for _, _, _, s in rows)
    assert kept >= plain, "the careful text keeps at least the posts resiliparse kept"


@pytest.mark.slow
@pytest.mark.parametrize("split", ["dev", "test"])
def test_thread_pages_keep_posts_in_order_once_without_chrome(scored, split):
    rows = [r for r in _split(scored, split) if r[1].source.startswith("thread")]
    assert len(rows) >= 20
    chrome_plain = 0
    for page, _ext, s, plain in rows:
        # dev: every page read as a thread keeps >= 75% of its gold posts (worst measured
        # 0.75: a 4-post thread); most keep all
        if split == "dev":
            assert s.kept / s.posts >= 0.75, (page.path, s.kept, s.posts)
        assert s.out_of_order <= 1, page.path
        assert s.repeated <= 1, page.path
        # per-post chrome: no line repeated on 3+ posts that is not post text
        assert s.chrome_lines == 0, (page.path, s.chrome_lines)
        chrome_plain += plain.chrome_lines
    # the measure can fail: resiliparse's text of the same pages repeats chrome lines
    assert chrome_plain > 100


def test_quote_attributions_are_dropped_quoted_text_kept():
    # XenForo "X said: ... Click to expand...", phpBB "X wrote: ↑ date", vBulletin "Zitat von X"
    pages = {
        p.path: p
        for p in GOLD
        if any(
            k in p.path
            for k in (
                "statcounter.com.threads.custom-tags",
                "ebaumsworld.com.viewtopic.php.78519",
                "worldofplayers.de.forum.threads.1548322",
            )
        )
    }
    assert len(pages) == 3
    for p in pages.values():
        plain = extract_text(p.html(), url=p.url, mode="fast", config=NO_THREADS)
        plain = plain.text if isinstance(plain, Extraction) else ""
        text = _extract(p, "careful").text
        lines = [ln.strip() for ln in text.splitlines()]
        assert not [ln for ln in lines if ln in ("Click to expand...", "Klicke zum Erweitern...")]
        assert not [ln for ln in lines if ln.endswith((" said:", " wrote: ↑"))], p.path
        assert not [ln for ln in lines if ln.startswith("Zitat von ")], p.path
        # the quoted sentences themselves stay (gold posts quote them)
        assert score_posts(text, p.posts).kept >= score_posts(plain, p.posts).kept - 1


@pytest.mark.parametrize(
    ("key", "engine"),
    [
        ("forum.statcounter.com.threads.best-android", "xenforo"),
        ("forum.digitalfernsehen.de.threads.df-hilferuf", "xenforo"),  # XenForo 1
        ("bbs.archlinux.org", "phpbb"),  # FluxBB markup, phpBB's row
        ("forum.videolan.org.viewtopic.php.json", "phpbb"),
        ("forums.futura-sciences.com.annonces-officielles.78761", "vbulletin"),
        ("talk.collegeconfidential.com.ivy-league", "vanilla"),
        ("us.forums.blizzard.com.en.wow.t.layers", "discourse"),
        ("bpdfamily.com", "smf"),
        ("med1.de.forum.blut", "woltlab"),
        ("blog.angelman-asa.org.read.php.json", "phorum"),
        ("shift.ms.topic.cbd-oil", "bbpress"),
        ("medhelp.org.posts.Heart-Disease", "schema.org"),
        ("nairaland.com.5813456", "nairaland"),
        ("amsel.de.multiple-sklerose-forum..json", "generic"),
        ("bitcointalk/topic_602041", "smf"),
        ("reddit.com.html", "reddit"),
        ("howdoi/httpsstackoverflowcomquestions6508819", "stackexchange"),
    ],
)
def test_engine_is_recognised(key, engine):
    from resiliparse.parse.html import HTMLTree

    (page,) = [p for p in forum_pages() if key in p.path]
    thread = find_thread(HTMLTree.parse(page.html()), page.url)
    assert thread is not None and thread.engine == engine, (page.path, thread and thread.engine)
    # shift.ms's theme renders the opening post outside bbPress's markup: 21 of 22
    assert len(thread.posts) >= (0.9 * len(page.posts) if page.posts else 2)


@pytest.mark.slow
def test_stack_exchange_keeps_question_answers_and_comments():
    pages = [p for p in forum_pages() if p.engine == "Stack Exchange"]
    assert len(pages) == 6
    for p in pages:
        html = p.html()
        ext = _extract(p, "careful")
        assert ext.source.startswith("thread")
        posts = stackexchange_posts(html)  # read with lxml, not by the extractor
        kinds = [k for k, _ in posts]
        assert kinds.count("question") == 1 and kinds.count("answer") >= 1
        s = score_posts(ext.text, [t for _, t in posts])
        lost = [(k, t[:80]) for (k, t), c in zip(posts, s.containment) if c < 0.9]
        assert not lost, (p.url, lost)
        assert s.out_of_order == 0 and s.repeated == 0
        # the title once, as a heading, then the question before any answer
        title = ext.text.splitlines()[0]
        assert title.startswith("# ") and ext.text.count(title) == 1


def test_thread_without_url_in_careful_mode_but_not_fast():
    (page,) = [p for p in forum_pages() if "forum.videolan.org.viewtopic.php.json" in p.path]
    html = page.html()
    assert extract_text(html, mode="careful", config=CFG).source.startswith("thread")
    # the fast path reads threads only on thread-like URLs (its cheap gate)
    assert extract_text(html, mode="fast", config=CFG).source == "fast"
    assert extract_text(html, url=page.url, mode="fast", config=CFG).source == "thread"
    assert extract_text(html, url=page.url, mode="fast", config=NO_THREADS).source == "fast"
    assert extract_text(html, url=page.url, mode="careful", config=NO_THREADS).source.startswith(
        "careful"
    )


def test_fast_gate_lets_thread_urls_through_and_not_math_pages():
    urls = [p.url for p in forum_pages(split="dev")]
    assert sum(map(looks_like_thread_url, urls)) >= 0.9 * len(urls)
    # the math fixtures are articles, book sections and encyclopedia entries
    math_urls = [p.url for p in MATH_PAGES if p.url]
    assert math_urls and not any(map(looks_like_thread_url, math_urls))
    assert not looks_like_thread_url("")


def test_futura_sciences_thread_keeps_its_tex_images_as_formulas():
    # the one real thread with math: TeX in image URLs, rewritten to $..$ inside the posts
    (page,) = [p for p in forum_pages() if "latex-debarque" in p.path]
    fast = _extract(page, "fast")
    careful = _extract(page, "careful")
    assert fast.formulas >= 3 and careful.formulas >= fast.formulas
    assert careful.source.startswith("thread") and fast.source == "thread"


def test_thread_text_is_title_then_posts():
    from resiliparse.parse.html import HTMLTree

    (page,) = [p for p in forum_pages() if "drwindows.de.windows-7-allgemein.167371" in p.path]
    thread = find_thread(HTMLTree.parse(page.html()), page.url)
    text = thread_text(thread, heading="# ")
    assert text.startswith(f"# {thread.title}\n\n")
    assert text.split("\n\n", 1)[1].startswith(thread.posts[0])
    # every post body is its own block, none empty
    assert all(p.strip() for p in thread.posts)
    assert len(tokens(text)) > len(tokens(thread.title))


def test_sources_are_named():
    assert {"fast", "careful", "thread", "careful+fast", "thread+fast"} <= set(SOURCES)
