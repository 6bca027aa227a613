"""The bundled sample WARC: Common Crawl shaped, matches its manifest, attributed, leak-free."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from pipeline.config import ExtractConfig
from pipeline.records import NOT_RESPONSE, Dropped, RawRecord
from pipeline.warc import iter_records, sniff_html

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample"
WARC = SAMPLE / "sample.warc.gz"
WARC_DIR = Path(__file__).parent / "data" / "warc"


@pytest.fixture(scope="module")
def manifest():
    with open(SAMPLE / "manifest.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def items():
    with open(WARC, "rb") as fh:
        return list(iter_records(fh, "sample.warc.gz", ExtractConfig()))


def test_sample_is_small_and_common_crawl_shaped():
    assert WARC.stat().st_size <= 10_500_000
    types = []
    with open(WARC, "rb") as fh:
        for rec in WarcioIterator(fh):
            types.append(rec.rec_type)
    assert types[0] == "warcinfo"
    c = Counter(types)
    # request/response/metadata triples (the dolma excerpts have no metadata records)
    assert c["request"] >= c["response"] - 2 and c["metadata"] >= c["response"] - 4
    # gzip per record: more gzip members than records would be impossible, fewer means one stream
    assert WARC.read_bytes().count(b"\x1f\x8b\x08") >= len(types)


def test_every_html_response_is_in_the_manifest_and_nothing_else(items, manifest):
    pages = [i for i in items if isinstance(i, RawRecord)]
    assert [p.url for p in pages] == [r["url"] for r in manifest]
    assert all(i.reason == NOT_RESPONSE for i in items if isinstance(i, Dropped))
    assert all(b"<" in p.body[:4096] for p in pages)
    # real crawls serve fragments and PHP warnings as text/html too (4 of these pages do)
    assert sum(sniff_html(p.body) for p in pages) >= 0.97 * len(pages)
    kinds = Counter(r["kind"] for r in manifest)
    assert set(kinds) == {"math", "nonmath"}
    assert kinds["math"] >= 50 and kinds["nonmath"] >= 200


def test_near_duplicates_point_at_math_pages_of_the_sample(manifest):
    urls = {r["url"]: r for r in manifest}
    dups = [r for r in manifest if r["near_dup_of"]]
    assert dups
    for r in dups:
        assert (
            urls[r["near_dup_of"]]["kind"] == "math" and not urls[r["near_dup_of"]]["near_dup_of"]
        )


def test_genuine_common_crawl_records_are_copied_byte_for_byte(manifest):
    data = WARC.read_bytes()
    for name in ("cc_whirlwind.warc.gz", "resiliparse_warcfile.warc.gz", "dolma_science_0.warc.gz"):
        assert (WARC_DIR / name).read_bytes() in data
    assert any(r["url"] == "https://an.wikipedia.org/wiki/Escopete" for r in manifest)
    assert {"http://localhost:8000/math.html", "http://localhost:8000/taylor.html"} <= {
        r["url"] for r in manifest if r["kind"] == "math"
    }


def test_named_math_pages_are_in(manifest):
    math = {r["url"] for r in manifest if r["kind"] == "math"}
    for url in (
        "https://en.wikipedia.org/wiki/Hermitian_matrix",
        "https://en.wikipedia.org/wiki/T-distributed_stochastic_neighbor_embedding",
        "https://mathjax.github.io/MathJax-demos-web/mml-chtml.html",
    ):
        assert url in math
    assert sum(u.startswith("https://discrete.openmathbooks.org/dmoi4/") for u in math) >= 50


def test_every_source_is_attributed(manifest):
    sources = (SAMPLE / "SOURCES.md").read_text()
    table = [line.split("|") for line in sources.splitlines() if line.startswith("| ")]
    prefixes = [cols[1].strip() for cols in table[1:] if cols[1].strip() != "---"]
    licensed = {cols[1].strip(): cols[5].strip() for cols in table[1:] if len(cols) > 5}
    for r in manifest:
        owners = [p for p in prefixes if r["source"].startswith(p)]
        assert owners, f"no SOURCES.md row for {r['source']}"
        assert all(licensed[p] for p in owners)
    assert "CC BY-SA 4.0" in sources and "Apache-2.0" in sources


def test_no_sample_page_was_a_classifier_training_example(manifest):
    """Non-math pages from sets the classifier trains on come only from its held-out bands
    (and classifiers/build_data.py leaves them out of dev and test too: the sample run trains
    on its crawl's pages)."""
    from classifiers import build_data

    keys = build_data._sample_keys(SAMPLE / "manifest.tsv")
    assert len(keys) > 100
    for r in manifest:
        src = r["source"].split(" ")[0]
        if src.startswith("nonmath-pages/"):
            assert build_data._held_out(src.removeprefix("nonmath-pages/")), src
        elif src.startswith("article-extraction-benchmark/"):
            assert build_data._held_out("aeb-" + Path(src).name.split(".")[0]), src
        elif src.startswith("readability-test-pages/") and r["kind"] == "nonmath":
            assert build_data._held_out("rb-" + src.split("/")[1]), src
    seeds = REPO / "classifiers" / "data" / "seeds.jsonl.gz"
    used = {json.loads(line).get("source", "") for line in gzip.open(seeds, "rt")}
    assert "discrete-math-levin-html" not in used
