"""pipeline/expand.py without Spark: what to look for, how hits become tasks and ranged
reads, and what a fetched record is (real gzip members of real WARCs)."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.cc_index import DOMAIN, PREFIX, URL, IndexFilter, Target
from pipeline.config import Config, ExtractConfig
from pipeline.errors import UserError
from pipeline.expand import (
    Hit,
    count_requests,
    describe_query,
    extract_fetched,
    parse_fetched,
    parse_targets,
    plan_ranges,
    plan_tasks,
)
from pipeline.records import BAD_RECORD, Dropped, RawRecord, StageStats
from tests.expand_fixtures import CC_EXCERPT, SAMPLE_WARC, members

TSV = (
    "domain\tpath_prefix\tpages\tselected\tselected_share\taccepted\n"
    "openmathbooks.org\tdiscrete.openmathbooks.org/\t23\t15\t0.6522\tno\n"
    "openmathbooks.org\tdiscrete.openmathbooks.org/dmoi4\t23\t15\t0.6522\tyes\n"
    "mathoverflow.net\tmathoverflow.net/questions\t40\t39\t0.975\tyes\n"
)


def test_targets_from_url_paths_tsv_and_from_lists():
    assert parse_targets(TSV) == [
        Target(PREFIX, "discrete.openmathbooks.org/dmoi4"),
        Target(PREFIX, "mathoverflow.net/questions"),
    ]
    text = (
        "# pooled from another corpus's list\n"
        "https://math.stackexchange.com/questions/1/what-is-a-ring#answer-2\n"
        "Planetmath.org\n"
        "mathoverflow.net/questions   # the DeepSeekMath example\n"
        "\n"
        "mathoverflow.net/questions\n"
    )
    assert parse_targets(text) == [
        Target(DOMAIN, "planetmath.org"),
        Target(PREFIX, "mathoverflow.net/questions"),
        Target(URL, "https://math.stackexchange.com/questions/1/what-is-a-ring"),
    ]
    with pytest.raises(UserError, match="line 2"):
        parse_targets("mathoverflow.net/questions\nnot a target\n")
    with pytest.raises(UserError, match="accepted"):
        parse_targets("domain\tpath_prefix\tpages\nx.org\tx.org/a\t3\n")


def test_query_text_names_partitions_ranges_and_filters():
    flt = IndexFilter(
        (Target(PREFIX, "mathoverflow.net/questions"), Target(DOMAIN, "planetmath.org")),
        languages=("eng",),
    )
    sql = describe_query(flt, ["CC-MAIN-2024-22"], "s3://commoncrawl/cc-index/table/cc-main/warc/")
    assert "crawl IN ('CC-MAIN-2024-22') AND subset = 'warc'" in sql
    assert (
        "url_surtkey BETWEEN 'net,mathoverflow)/questions' AND 'net,mathoverflow)/questiont'" in sql
    )
    assert "fetch_status = 200" in sql and "content_mime_detected IN ('text/html'" in sql
    assert "url_host_registered_domain = 'planetmath.org'" in sql
    assert "(url_path = '/questions' OR url_path LIKE '/questions/%')" in sql


def _hits(n_files: int, per_file: int) -> list[Hit]:
    return [
        Hit(f"https://x.org/{f}/{i}", f"crawl-data/w{f:03d}.warc.gz", 1000 * i + 7, 400 + i)
        for f in range(n_files)
        for i in range(per_file)
    ]


def test_tasks_group_by_warc_split_big_files_and_pack_small_ones():
    hits = (
        _hits(6, 3) + _hits(1, 0) + [Hit("u", "crawl-data/big.warc.gz", o, 10) for o in range(25)]
    )
    tasks = plan_tasks(hits[::-1], records_per_task=10, iteration=1)
    flat = [h for t in tasks for _, hs in t.groups for h in hs]
    assert sorted(flat, key=repr) == sorted(hits, key=repr)  # every hit once
    assert all(t.size() <= 10 for t in tasks)
    # the big file is split into 10 + 10 + 5, in file order; the small ones share tasks
    big = [hs for t in tasks for name, hs in t.groups if name.endswith("big.warc.gz")]
    assert [len(h) for h in big] == [10, 10, 5]
    assert [h.offset for hs in big for h in hs] == list(range(25))
    assert len(tasks) == 5
    # keys are stable for the same hits and differ by iteration
    assert [t.key for t in plan_tasks(hits, 10, 1)] == [t.key for t in tasks]
    assert {t.key for t in plan_tasks(hits, 10, 2)}.isdisjoint(t.key for t in tasks)


def test_ranges_merge_records_closer_than_the_gap():
    hits = [Hit("a", "w", 0, 100), Hit("b", "w", 100, 50), Hit("c", "w", 1150, 10)]
    assert [(r.start, r.end, len(r.hits)) for r in plan_ranges(hits, 0)] == [
        (0, 150, 2),
        (1150, 1160, 1),
    ]
    assert [(r.start, r.end) for r in plan_ranges(hits, 1000)] == [(0, 1160)]
    tasks = plan_tasks(hits, 10)
    assert count_requests(tasks, 0) == (2, 160)
    assert count_requests(tasks, 1000) == (1, 1160)


@pytest.fixture(scope="module")
def real_members():
    """(url, member bytes) of the HTML responses of a genuine Common Crawl WARC excerpt."""
    return [(u, m) for k, u, m in members(CC_EXCERPT) if k == "response"]


def test_a_fetched_member_is_the_record_at_its_offset(real_members):
    url, member = real_members[2]
    hit = Hit(url, "crawl-data/x.warc.gz", 123_456, len(member))
    rec = parse_fetched(member, hit, "s3://b/crawl-data/x.warc.gz", ExtractConfig())
    assert isinstance(rec, RawRecord)
    assert (rec.url, rec.warc_offset, rec.warc_length) == (url, 123_456, len(member))
    assert rec.warc_path == "s3://b/crawl-data/x.warc.gz"


def test_bytes_that_are_not_the_record_are_bad_records(real_members):
    (url, member), (other_url, other) = real_members[0], real_members[1]
    cfg = ExtractConfig()
    cases = {
        "not gzip": b"\x00" * len(member),
        "cut short": member[: len(member) // 2],
        "corrupt inside": member[:20] + bytes(len(member) - 20),
        "another page": other,
    }
    for name, data in cases.items():
        hit = Hit(url, "w", 99, len(data) if name != "cut short" else len(member))
        got = parse_fetched(data, hit, "w", cfg)
        assert isinstance(got, Dropped) and got.reason == BAD_RECORD, name
        assert got.warc_offset == 99, name
    assert other_url != url


def test_fetched_records_are_extracted_as_expand_docs():
    """The sample's math book pages, fetched member by member, become docs with
    source=expand; a spoiled member is counted, never lost."""
    config = dataclasses.replace(Config(), extract=ExtractConfig(page_timeout_s=0))
    book = [
        (u, m)
        for k, u, m in members(SAMPLE_WARC)
        if k == "response" and "discrete.openmathbooks.org/dmoi4/" in u
    ][:6]
    items = []
    for i, (u, m) in enumerate(book):
        data = m if i != 3 else b"garbage" + m[7:]
        items.append(parse_fetched(data, Hit(u, "w", 1000 * i, len(m)), "s3://b/w", config.extract))
    stats = StageStats("expand")
    docs = list(extract_fetched(items, config, stats))
    assert stats.records_read == 6 and stats.reconciles()
    # the spoiled member is a bad_record; the rest are extracted like any WARC's pages (one
    # chapter index page has too little text: empty_text, as extract drops it too)
    assert stats.dropped[BAD_RECORD] == 1 and stats.kept == len(docs) >= 4
    assert {d["source"] for d in docs} == {"expand"}
    assert all(d["formulas"] > 0 for d in docs)  # the book's math survived extraction
    assert 3000 not in {d["warc_offset"] for d in docs}
    assert {d["warc_offset"] for d in docs} <= {0, 1000, 2000, 4000, 5000}
