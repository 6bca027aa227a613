"""URL normal form for exact URL dedup, and public-suffix-aware registered domains."""

from __future__ import annotations

import gzip
import json

import pytest

from pipeline.urls import normalize_url, private_domain, registered_domain


@pytest.mark.parametrize(
    "a, b",
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        ("http://example.com/a#section-2", "http://example.com/a"),
        ("http://example.com/a?b=2&a=1", "http://example.com/a?a=1&b=2"),
        ("http://example.com/a?utm_source=x&utm_medium=y&a=1", "http://example.com/a?a=1"),
        ("http://example.com/a?fbclid=abc&gclid=def", "http://example.com/a"),
        ("http://example.com./a", "http://example.com/a"),
        ("http://example.com/a%2fb", "http://example.com/a%2Fb"),
        ("http://user:pw@example.com/a", "http://example.com/a"),
    ],
)
def test_equivalent_urls_share_a_key(a, b):
    assert normalize_url(a) == normalize_url(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("http://example.com/A", "http://example.com/a"),  # paths are case-sensitive
        ("http://example.com/a", "https://example.com/a"),
        ("http://www.example.com/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com/a"),
        ("http://example.com/a?id=1", "http://example.com/a?id=2"),
        ("http://example.com/a?id=1", "http://example.com/a"),
        ("http://example.com/a/", "http://example.com/a"),
    ],
)
def test_distinct_pages_keep_distinct_keys(a, b):
    assert normalize_url(a) != normalize_url(b)


def test_normalize_is_idempotent_on_real_urls(data_dir):
    urls = [
        json.loads(line)["url"]
        for line in gzip.open(data_dir / "dedup" / "dolma_cc.jsonl.gz", "rt")
    ]
    assert len(urls) == 20
    for u in urls:
        n = normalize_url(u)
        assert n == normalize_url(n)
        assert n.startswith(("http://", "https://"))
    # these real URLs are all different pages: no two may collapse
    assert len({normalize_url(u) for u in urls}) == len(set(urls))


def test_unparseable_and_empty():
    assert normalize_url("") == ""
    assert normalize_url("   ") == ""
    assert normalize_url("http://example.com:99999999/") == "http://example.com:99999999/"
    assert normalize_url("  not a url ") == "not a url"


@pytest.mark.parametrize(
    "url, domain",
    [
        ("http://forums.news.bbc.co.uk/a", "bbc.co.uk"),
        ("https://math.stackexchange.com/questions/1", "stackexchange.com"),
        ("https://en.wikipedia.org/wiki/Hermitian_matrix", "wikipedia.org"),
        ("http://WWW.Example.COM:8080/x", "example.com"),
        ("http://mit.edu./", "mit.edu"),
        ("http://127.0.0.1:8000/x", "127.0.0.1"),
        ("http://localhost/x", "localhost"),
        ("http://cs.ox.ac.uk/teaching", "ox.ac.uk"),
        ("https://www.math.example.ac.uk/x", "example.ac.uk"),
        ("", ""),
        ("garbage", ""),
    ],
)
def test_registered_domain(url, domain):
    assert registered_domain(url) == domain


def test_private_domain_counts_the_private_section_as_suffixes():
    # the suffix list's private section (github.io, blogspot.com) makes each user site a domain
    assert registered_domain("https://someone.github.io/notes/") == "github.io"
    assert private_domain("someone.github.io") == "someone.github.io"
    assert private_domain("forums.news.bbc.co.uk") == "bbc.co.uk"
    assert private_domain("localhost") is None
