"""Common Crawl's columnar index as pipeline/cc_index.py writes and queries it: the documented
schema, URL keys as Common Crawl writes them, real offsets and lengths, row-group pruning that
never loses a capture."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from classifiers.domains import is_under, path_prefixes
from infra.index_files import index_files, open_index_file
from infra.storage import folder_output
from pipeline.cc_index import (
    DOMAIN,
    HTML_MIMES,
    PREFIX,
    TABLE_PATH,
    URL,
    IndexFilter,
    Target,
    index_warc,
    matches,
    partition_dir,
    prune_row_groups,
    query_index_file,
    surt_key,
    write_index_files,
)
from pipeline.config import ExtractConfig, IOConfig
from pipeline.records import RawRecord
from pipeline.warc import iter_records, read_record_at

DATA = Path(__file__).parent / "data"
CC_WARC = DATA / "cloud" / "cc_2020_34_excerpt.warc.gz"
CC_NAME = (
    "crawl-data/CC-MAIN-2020-34/segments/1596439737645.2/warc/"
    "CC-MAIN-20200808110257-20200808140257-00001.warc.gz"
)
SAMPLE = Path(__file__).resolve().parent.parent / "sample" / "sample.warc.gz"

# The table as cc-index-table's Athena DDL (src/sql/athena/cc-index-create-table-flat.sql)
# declares it, for the columns every crawl since 2018 has: the types a reader must see.
DDL_TYPES = {
    "url_surtkey": "VARCHAR",
    "url": "VARCHAR",
    "url_host_name": "VARCHAR",
    "url_host_tld": "VARCHAR",
    "url_host_registered_domain": "VARCHAR",
    "url_protocol": "VARCHAR",
    "url_port": "INTEGER",
    "url_path": "VARCHAR",
    "url_query": "VARCHAR",
    "fetch_time": "TIMESTAMP WITH TIME ZONE",
    "fetch_status": "SMALLINT",
    "content_digest": "VARCHAR",
    "content_mime_type": "VARCHAR",
    "content_mime_detected": "VARCHAR",
    "warc_filename": "VARCHAR",
    "warc_record_offset": "INTEGER",
    "warc_record_length": "INTEGER",
    "warc_segment": "VARCHAR",
    "crawl": "VARCHAR",
    "subset": "VARCHAR",
}


@pytest.fixture(scope="module")
def cc_rows():
    with open(CC_WARC, "rb") as f:
        return index_warc(f, CC_NAME)


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory):
    """The sample WARC indexed into 3 files of 40-row row groups."""
    root = tmp_path_factory.mktemp("idx")
    name = CC_NAME.replace("2020-34", "2024-22").replace("00001", "00007")
    with open(SAMPLE, "rb") as f:
        rows = index_warc(f, name, languages=False)
    part = root / TABLE_PATH / partition_dir("CC-MAIN-2024-22")
    part.mkdir(parents=True)
    list(write_index_files(rows, folder_output(str(part)), files=3, row_group_rows=40))
    return root / TABLE_PATH, rows


def test_surt_keys_as_common_crawl_writes_them():
    # url_surtkey values of real CDX lines of CC-MAIN-2025-21 and of the schema's example
    assert surt_key("https://www.example.com/path/index.html") == "com,example)/path/index.html"
    assert (
        surt_key("https://fusionbikes.com.ar/producto/luz-knog-blinder-mini-niner/")
        == "ar,com,fusionbikes)/producto/luz-knog-blinder-mini-niner"
    )
    assert surt_key(
        "http://futbolinterior.com.ar/component/mailto/?tmpl=component&template=shaper_helix3"
        "&link=b2449dac9dd9dbc27fe2d9f8c9dfc250a10eb664"
    ) == (
        "ar,com,futbolinterior)/component/mailto?link=b2449dac9dd9dbc27fe2d9f8c9dfc250a10eb664"
        "&template=shaper_helix3&tmpl=component"
    )


def test_offsets_and_lengths_are_the_project_readers(cc_rows):
    """Every HTML response of a genuine Common Crawl WARC is indexed at the offset and length
    pipeline.warc gives its record, and reading at that offset gives that URL back."""
    with open(CC_WARC, "rb") as f:
        recs = [r for r in iter_records(f, CC_NAME, ExtractConfig()) if isinstance(r, RawRecord)]
    by_offset = {r["warc_record_offset"]: r for r in cc_rows}
    assert len(recs) == 16 and len(cc_rows) == 16  # the excerpt's 16 responses, all HTML
    for rec in recs:
        row = by_offset[rec.warc_offset]
        assert row["url"] == rec.url
        assert row["warc_record_length"] == rec.warc_length
        assert row["content_digest"] == rec.payload_digest.removeprefix("sha1:")
    data = CC_WARC.read_bytes()
    for row in cc_rows:
        member = data[
            row["warc_record_offset"] : row["warc_record_offset"] + row["warc_record_length"]
        ]
        got = read_record_at(io.BytesIO(member), 0, CC_NAME, ExtractConfig())
        assert isinstance(got, RawRecord) and got.url == row["url"]
        assert row["warc_segment"] == "1596439737645.2"
        assert row["fetch_status"] == 200 and row["content_mime_detected"] in HTML_MIMES


def test_files_read_with_the_documented_types_and_partitions(tmp_path, cc_rows):
    duckdb = pytest.importorskip("duckdb")
    part = tmp_path / TABLE_PATH / partition_dir("CC-MAIN-2020-34")
    part.mkdir(parents=True)
    list(write_index_files(cc_rows, folder_output(str(part)), files=2, row_group_rows=5))
    glob = f"{tmp_path / TABLE_PATH}/*/*/*.parquet"
    con = duckdb.connect()
    types = dict(
        (r[0], r[1])
        for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{glob}', hive_partitioning = true)"
        ).fetchall()
    )
    assert {k: types[k] for k in DDL_TYPES} == DDL_TYPES
    # cc-index-table's example query "export WARC record specs of a single domain"
    domain = cc_rows[3]["url_host_registered_domain"]
    got = con.execute(
        "SELECT url, warc_filename, warc_record_offset, warc_record_length "
        f"FROM read_parquet('{glob}', hive_partitioning = true) WHERE crawl = 'CC-MAIN-2020-34' "
        f"AND subset = 'warc' AND url_host_registered_domain = '{domain}'"
    ).fetchall()
    want = [
        (r["url"], r["warc_filename"], r["warc_record_offset"], r["warc_record_length"])
        for r in cc_rows
        if r["url_host_registered_domain"] == domain
    ]
    assert sorted(got) == sorted(want) and got
    # files and row groups follow url_surtkey, as cc-index-table checks of the real table
    keys = []
    for f in sorted(part.iterdir()):
        md = pq.ParquetFile(f).metadata
        for i in range(md.num_row_groups):
            st = md.row_group(i).column(0).statistics
            keys.append((st.min, st.max))
    assert all(a[1] <= b[0] for a, b in zip(keys, keys[1:]))


def test_targets_match_like_the_recall_loop_and_their_ranges_hold_the_keys(cc_rows):
    """For every URL and every prefix the recall loop could propose from any URL, ``matches``
    agrees with classifiers.domains.is_under, and a matching URL's surt key is in a range."""
    from urllib.parse import urlsplit

    with open(SAMPLE, "rb") as f:
        urls = [r.url for r in iter_records(f, "s", ExtractConfig()) if isinstance(r, RawRecord)]
    urls = urls[::4] + [r["url"] for r in cc_rows]
    prefixes = sorted({p for u in urls for p in path_prefixes(u, 2)})
    checked = 0
    for p in prefixes:
        t = Target(PREFIX, p)
        ranges = t.surt_ranges()
        for u in urls:
            parts = urlsplit(u)
            host = (parts.hostname or "").lower()
            got = matches(t, host, parts.path or "/", "", u)
            assert got == is_under(u, [p]), (u, p)
            if got:
                key = surt_key(u)
                assert any(a <= key < b for a, b in ranges), (u, p, key, ranges)
                checked += 1
    assert checked > 200
    dom = Target(DOMAIN, "wikipedia.org")
    key = surt_key("https://en.wikipedia.org/wiki/T-SNE")
    assert any(a <= key < b for a, b in dom.surt_ranges())
    assert matches(dom, "en.wikipedia.org", "/wiki/T-SNE", "wikipedia.org", "")
    url = Target(URL, "https://www.x.org/a/%7Eb?q=1")
    assert any(a <= surt_key(url.value) < b for a, b in url.surt_ranges())


def test_query_prunes_row_groups_and_loses_no_capture(sample_index):
    root, rows = sample_index
    files = index_files(str(root), ["CC-MAIN-2024-22"], IOConfig())
    assert len(files) == 3
    targets = (
        Target(PREFIX, "discrete.openmathbooks.org/dmoi4"),
        Target(PREFIX, "www.django-rest-framework.org/api-guide"),
        Target(DOMAIN, "wikipedia.org"),
    )
    flt = IndexFilter(targets)
    counters: dict = {}
    got = []
    for _crawl, uri in files:
        pf = open_index_file(uri, IOConfig(), counters)
        assert len(prune_row_groups(pf.metadata, flt)) <= pf.metadata.num_row_groups
        got += query_index_file(pf, flt, counters)
    want = [
        r
        for r in rows
        if r["fetch_status"] == 200
        and r["content_mime_detected"] in HTML_MIMES
        and any(
            matches(t, r["url_host_name"], r["url_path"], r["url_host_registered_domain"], r["url"])
            for t in targets
        )
    ]
    assert sorted(r["url"] for r in got) == sorted(r["url"] for r in want)
    assert len(want) >= 54 + 7 + 3
    # the surt ranges let most row groups go unread
    assert counters["row_groups_read"] < counters["row_groups"] / 2
    assert counters["rows_scanned"] < len(rows) / 2
    assert "url_surtkey" not in got[0] and "content_digest" not in got[0]  # not read
    assert {r["target"] for r in got} == {t.value for t in targets}
