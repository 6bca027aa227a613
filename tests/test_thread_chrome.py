"""Thread-aware cleaning on real pages: forum and Q&A threads keep their posts and lose their
per-post chrome; pages that only repeat lines by design keep them; junk stays dropped; math
tables are not judged as prose.

Threads are tests/data/forum's dev split (the rule was tuned on it) through the extract stage,
as ``mathmine clean`` sees them; harvest pages carry per-post gold.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.bench_clean import before_config, extract_docs, forum_pages, post_presence
from pipeline.clean_chain import clean_document
from pipeline.clean_thread_chrome import thread_chrome_lines
from pipeline.config import CleanConfig, Config, ExtractConfig
from pipeline.text_norm import normalize_text, split_lines

DATA = Path(__file__).parent / "data" / "clean"
CFG = CleanConfig()


def _load(name: str) -> list[dict]:
    return [json.loads(x) for x in (DATA / name).read_text().split("\n") if x]


# The fast path reads threads of the engines it knows (pipeline/threads.py) without their
# chrome; the line rule is for the others (an unknown engine, a thread on a URL that does not
# look like one), whose fast text is the whole page. These tests give the rule such text: the
# known engines' pages with the thread reader off, as an unknown engine's page arrives.
WHOLE_PAGE = Config(extract=dataclasses.replace(ExtractConfig(), fast_forum_threads=False))


@pytest.fixture(scope="module")
def dev_threads() -> dict[str, dict]:
    docs, _ = extract_docs(forum_pages("dev"), WHOLE_PAGE)
    return {d["source"]: d for d in docs}


def test_threads_are_kept_with_the_thread_reader_on():
    """With the thread reader on (the default), the same threads arrive as their posts and
    the whole chain keeps every one of them."""
    pages = [p for p in forum_pages("dev") if p["source"] in DROPPED_BEFORE.values()]
    docs, dropped = extract_docs(pages)
    assert len(docs) == len(DROPPED_BEFORE) and not dropped
    for doc in docs:
        _, dec = _clean(doc)
        assert dec.keep, (doc["source"], dec.reason)


# engine: page; each was dropped by the chain before the thread rule
DROPPED_BEFORE = {
    "SMF": "harvest/goldDocuments/bpdfamily.com.message_board.index.php.json.gz",
    "phpBB": "harvest/goldDocuments/forum.openoffice.org.en.forum.viewtopic.php.json.gz",
    "XenForo": "harvest/goldDocuments/forums.macrumors.com.threads.se-or-11.2231616..json.gz",
    "Lithium": "harvest/goldDocuments/healthunlocked.com.parkinsonsmovement.posts.142058845."
    "artane-anyone.json.gz",
    "Vanilla": "harvest/goldDocuments/talk.collegeconfidential.com.student-here-ask-me-anything."
    "2183693-got-into-nyu-pre-med-intention-ask-me-anything.html.json.gz",
    "Nairaland": "harvest/goldDocuments/www.nairaland.com.5812914.akeredolu-rejects-plot-"
    "impeach-deputy.json.gz",
    "Reddit": "postlight/www.reddit.com.html.gz",
}


def _clean(doc: dict, cfg: CleanConfig = CFG):
    return clean_document({"url": doc["url"], "text": doc["text"]}, cfg)


@pytest.mark.parametrize("engine", sorted(DROPPED_BEFORE))
def test_thread_kept_with_chrome_removed_and_posts_intact(dev_threads, engine):
    doc = dev_threads[DROPPED_BEFORE[engine]]
    _, before = _clean(doc, before_config(CFG))
    assert not before.keep, "the chain without the thread rule drops this thread"
    out, dec = _clean(doc)
    assert dec.keep, dec.reason
    removed = [v for v in dec.verdicts if v.rule == "thread_chrome"][0].removed
    assert len(removed) >= 10 and dec.lines_out <= dec.lines_in - len(removed)
    if doc.get("posts"):
        # PII placeholders change e-mail addresses inside posts: measure without that rule
        out, _ = _clean(doc, dataclasses.replace(CFG, pii=False))
        in_fast, kept = post_presence(doc["posts"], doc["text"], out["text"])
        assert in_fast >= 5 and kept == in_fast


def test_stack_exchange_answers_lose_their_share_lines_not_their_code(dev_threads):
    doc = dev_threads[
        "howdoi/httpsstackoverflowcomquestions2003505howdoideleteagitbranchlocallyandremotely"
        "answertabvotes.html.gz"
    ]
    out, dec = _clean(doc)
    assert dec.keep
    removed = {v.rule: v.removed for v in dec.verdicts}["thread_chrome"]
    assert "| improve this answer | |" in {ln.strip() for ln in removed}
    # the answers' commands repeat across answers and stay
    assert out["text"].count("git push origin --delete") == doc["text"].count(
        "git push origin --delete"
    )


def test_thread_rule_never_removes_lines_with_math(dev_threads):
    for doc in dev_threads.values():
        lines = split_lines(normalize_text(doc["text"]))
        _, removed = thread_chrome_lines(lines, CFG)
        assert not any(ln.has_math for ln in removed), doc["source"]


@pytest.mark.parametrize(
    "name, url_part",
    [
        ("math_pages.jsonl", "sec_logic-rules"),  # truth-table rows, once per table
        ("math_pages.jsonl", "sec_gt-relations"),  # property names, once per example
        ("openstax_exercises.jsonl", "m81270"),  # "Evaluate:", "Simplify:" per exercise group
        ("nonmath_pages.jsonl", "docs.sqlalchemy.org/ddl"),  # "Parameters:" per function
        ("nonmath_pages.jsonl", "slides.com"),  # "Credit:" per slide
    ],
)
def test_non_thread_keeps_its_repeated_lines(name, url_part):
    doc = next(d for d in _load(name) if url_part in d["url"])
    lines = split_lines(normalize_text(doc["text"]))
    counts = Counter(ln.text.strip() for ln in lines if ln.text.strip())
    assert sum(n >= 3 for n in counts.values()) >= 3, "the page repeats lines by design"
    _, removed = thread_chrome_lines(lines, CFG)
    assert removed == []
    _, dec = clean_document(doc, CFG)
    assert "thread_chrome" not in dec.lines_removed_by_rule()


def test_no_math_page_is_taken_for_a_thread():
    for name in ("math_pages.jsonl", "math_pages_extracted.jsonl", "openstax_exercises.jsonl"):
        for doc in _load(name):
            _, dec = clean_document(doc, CFG)
            assert "thread_chrome" not in dec.lines_removed_by_rule(), doc["url"]


def test_junk_pages_stay_dropped():
    """No real non-math fixture page that the chain dropped before the thread-aware rules is
    kept now (the rule found thread chrome on some: Stack Overflow pages, a recipe's
    comments)."""
    laundered = []
    for doc in _load("nonmath_pages.jsonl"):
        _, before = clean_document(doc, before_config(CFG))
        _, after = clean_document(doc, CFG)
        if not before.keep and after.keep:
            laundered.append(doc["url"])
    assert laundered == []


def test_a_thread_that_would_lose_too_much_is_judged_as_it_is(dev_threads):
    """The share cap: a page that would lose more than thread_chrome_max_share of its text to
    the rule keeps everything, and Gopher's repetition rules judge it as before."""
    doc = dev_threads[DROPPED_BEFORE["SMF"]]
    capped = dataclasses.replace(CFG, thread_chrome_max_share=0.1)
    _, dec = _clean(doc, capped)
    _, before = _clean(doc, before_config(CFG))
    assert "thread_chrome" not in dec.lines_removed_by_rule()
    assert not dec.keep and dec.reason == before.reason


def test_thread_rule_off_is_todays_chain(dev_threads):
    doc = dev_threads[DROPPED_BEFORE["Reddit"]]
    off = dataclasses.replace(CFG, thread_chrome_lines=False)
    _, dec = _clean(doc, off)
    assert {v.rule: v.outcome for v in dec.verdicts}["thread_chrome"] == "off"
    assert not dec.keep


# --- short math tokens --------------------------------------------------------------------


def test_math_tables_are_not_judged_as_prose():
    """PlanetMath's tables of invariants (factorizations, exponents of primes in n!, divisors)
    are kept; without the exemption Gopher's mean word length or alphabetic share drops them."""
    for doc in _load("math_tables.jsonl"):
        out, dec = clean_document(doc, CFG)
        assert dec.keep, (doc["url"], dec.reason)
        assert out["text"].count("$") == doc["text"].count("$")
        _, off = clean_document(doc, dataclasses.replace(CFG, math_tables=False))
        assert not off.keep and off.reason.startswith("gopher_")
    factor = next(d for d in _load("math_tables.jsonl") if "factorizationsfor0n1001" in d["url"])
    _, before = clean_document(factor, before_config(CFG))
    assert before.reason == "gopher_below_avg_word_length"


def test_sports_tables_are_still_dropped():
    sports = [d for d in _load("nonmath_pages.jsonl") if d["kind"] == "sports-stats-tables"]
    assert len(sports) >= 5
    for doc in sports:
        _, dec = clean_document(doc, CFG)
        assert not dec.keep, doc["url"]
