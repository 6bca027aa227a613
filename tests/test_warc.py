"""pipeline/warc.py on the real WARC files of tests/data/warc, checked against warcio.

Expectations come from an independent reader (warcio for record framing and offsets, a plain
HTTP header split in this file for status and type), never from hard-coded counts.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import brotli
import pytest
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from pipeline.config import ExtractConfig
from pipeline.records import BAD_RECORD, NOT_RESPONSE, Dropped, RawRecord
from pipeline.warc import decode_content, iter_records, read_record_at, sniff_html

WARC_DIR = Path(__file__).parent / "data" / "warc"
ALL_WARCS = sorted(WARC_DIR.glob("*.warc*.gz"))
CFG = ExtractConfig()


def read_all(path: Path, config: ExtractConfig = CFG) -> list[RawRecord | Dropped]:
    with open(path, "rb") as fh:
        return list(iter_records(fh, path.name, config))


def split_http(block: bytes) -> tuple[int | None, dict[str, str], bytes]:
    """(status, headers, body) of a response block; status None when there is no HTTP block."""
    if not block.startswith(b"HTTP/"):
        return None, {}, block
    ends = [i for i in (block.find(b"\r\n\r\n"), block.find(b"\n\n")) if i >= 0]
    end = min(ends)
    sep = 4 if block[end : end + 4] == b"\r\n\r\n" else 2
    lines = block[:end].decode("latin-1").replace("\r\n", "\n").split("\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, block[end + sep :]


def warcio_view(path: Path):
    """Per record (offset, type, url, status, mime, block) as warcio frames it, in file order."""
    out = []
    with open(path, "rb") as fh:
        it = WarcioIterator(fh, no_record_parse=True)
        for rec in it:
            block = rec.raw_stream.read()
            offset = it.get_record_offset()
            status, headers, _ = (None, {}, b"")
            mime = ""
            if rec.rec_type == "response":
                status, headers, _ = split_http(block)
                ct = (
                    headers.get("content-type")
                    if status
                    else rec.rec_headers.get_header("Content-Type")
                )
                mime = (ct or "").split(";")[0].strip().lower()
            url = (rec.rec_headers.get_header("WARC-Target-URI") or "").strip("<> ")
            declared = int(rec.rec_headers.get_header("Content-Length") or 0)
            out.append(
                dict(
                    offset=offset,
                    type=rec.rec_type,
                    url=url,
                    status=status,
                    mime=mime,
                    headers=headers,
                    block=block,
                    complete=len(block) == declared,
                )
            )
    return out


def expected_html(view):
    """Offsets of complete 2xx (or header-less) text/html responses: the pages we must yield."""
    return {
        r["offset"]
        for r in view
        if r["type"] == "response"
        and r["complete"]
        and r["mime"] in ("text/html", "application/xhtml+xml")
        and (r["status"] is None or 200 <= r["status"] < 300)
    }


@pytest.mark.parametrize("path", ALL_WARCS, ids=lambda p: p.name)
def test_every_record_is_accounted_for_and_html_responses_are_yielded(path):
    items = read_all(path)
    view = warcio_view(path)
    # one item per record warcio sees: nothing lost, nothing invented
    assert len(items) == len(view)
    assert all(isinstance(i, (RawRecord, Dropped)) for i in items)
    raw = [i for i in items if isinstance(i, RawRecord)]
    assert {r.warc_offset for r in raw} == expected_html(view)
    by_offset = {r["offset"]: r for r in view}
    for r in raw:
        assert r.url == by_offset[r.warc_offset]["url"]
        assert r.warc_path == path.name
        assert r.payload_digest and r.warc_length > 0
    for i in items:
        if isinstance(i, Dropped) and i.reason == NOT_RESPONSE:
            assert by_offset[i.warc_offset]["type"] != "response"
    # offsets strictly increase and lengths tile the file for the records we keep
    offsets = [r["offset"] for r in view] + [path.stat().st_size]
    nxt = dict(zip(offsets, offsets[1:]))
    for r in raw:
        assert r.warc_length == nxt[r.warc_offset] - r.warc_offset


@pytest.mark.parametrize("path", ALL_WARCS, ids=lambda p: p.name)
def test_bodies_match_an_independent_decode(path):
    view = {r["offset"]: r for r in warcio_view(path)}
    raws = [i for i in read_all(path) if isinstance(i, RawRecord)]
    for r in raws:
        v = view[r.warc_offset]
        if v["status"] is None:
            assert r.body == v["block"]
            continue
        _, headers, body = split_http(v["block"])
        if "chunked" in headers.get("transfer-encoding", ""):
            body = dechunk_for_test(body)
        enc = headers.get("content-encoding", "")
        if enc == "gzip" and body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        elif enc == "br":
            body = brotli.decompress(body)
        assert r.body == body, r.url
        assert sniff_html(r.body), r.url


def dechunk_for_test(data: bytes) -> bytes:
    out, f = b"", io.BytesIO(data)
    while True:
        line = f.readline()
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            return data if not out else out
        if size == 0:
            return out
        out += f.read(size)
        f.readline()


def test_gzip_and_brotli_content_encoding_decode_to_html():
    for name, enc in (
        ("ukwa_transfer_compression_gzip.warc.gz", "gzip"),
        ("ukwa_transfer_compression_brotli.warc.gz", "br"),
    ):
        view = warcio_view(WARC_DIR / name)
        resp = [v for v in view if v["type"] == "response"]
        assert resp[0]["headers"]["content-encoding"] == enc  # the fixture really is encoded
        (page,) = [i for i in read_all(WARC_DIR / name) if isinstance(i, RawRecord)]
        assert page.body.lstrip().startswith(b"<html")
        assert b"</html>" in page.body


def test_clueweb_quirks_lf_headers_and_undecoded_gzip_bodies():
    path = WARC_DIR / "resiliparse_clueweb-quirk.warc.gz"
    pages = [i for i in read_all(path) if isinstance(i, RawRecord)]
    view = warcio_view(path)
    assert len(pages) == sum(v["type"] == "response" for v in view)
    for p in pages:
        # LF-only HTTP headers parsed (status and type), malformed WARC-Date kept as written
        assert p.http_status == 200 and p.content_type.lower().startswith("text/html")
        assert p.warc_date.startswith("2008-") or p.warc_date.startswith("2009-")
        assert b"<html" in p.body[:200].lower()


def test_responses_without_http_block_are_html_with_unknown_status():
    path = WARC_DIR / "copycat_wayback-topic-02.warc.gz"
    pages = [i for i in read_all(path) if isinstance(i, RawRecord)]
    assert pages and all(p.http_status == 0 for p in pages)
    # the WARC Content-Type stands in for the missing HTTP one
    assert all(p.content_type.lower().startswith("text/html") for p in pages)
    assert sum(sniff_html(p.body) for p in pages) >= len(pages) - 1  # one is a bare fragment
    assert all(p.warc_date == "" for p in pages)  # "WARC-Date: null"


def test_clipped_record_is_bad_record_not_a_partial_page():
    path = WARC_DIR / "resiliparse_clipped.warc.gz"
    (view,) = warcio_view(path)
    assert not view["complete"]  # warcio also gets fewer bytes than declared
    (item,) = read_all(path)
    assert isinstance(item, Dropped) and item.reason == BAD_RECORD
    assert "truncated" in item.detail and item.url.startswith("http://www.houstonpress.com/")


def record_offsets(path: Path) -> list[int]:
    return [r["offset"] for r in warcio_view(path)]


@pytest.mark.parametrize("cut_at", ["mid_member", "member_boundary_plus_10"])
def test_truncated_file_yields_readable_prefix_plus_one_bad_record(cut_at):
    path = WARC_DIR / "resiliparse_warcfile.warc.gz"
    data = path.read_bytes()
    offs = record_offsets(path)
    k = 30
    cut = (offs[k] + offs[k + 1]) // 2 if cut_at == "mid_member" else offs[k] + 10
    items = list(iter_records(io.BytesIO(data[:cut]), "t.warc.gz", CFG))
    full = read_all(path)
    # everything before record k is yielded exactly as from the whole file
    assert [type(i) for i in items[:k]] == [type(i) for i in full[:k]]
    assert [i.warc_offset for i in items[:k]] == offs[:k]
    tail = items[k:]
    assert len(tail) == 1 and isinstance(tail[0], Dropped) and tail[0].reason == BAD_RECORD


def test_garbage_between_members_costs_one_bad_record_and_reading_resumes():
    path = WARC_DIR / "resiliparse_warcfile.warc.gz"
    data = path.read_bytes()
    offs = record_offsets(path)
    k = 10
    junk = b"this is not gzip " * 500
    broken = data[: offs[k]] + junk + data[offs[k] :]
    items = list(iter_records(io.BytesIO(broken), "t.warc.gz", CFG))
    full = read_all(path)
    bad = [i for i in items if isinstance(i, Dropped) and i.reason == BAD_RECORD]
    assert len(bad) == 1
    assert len(items) == len(full) + 1
    shifted = [
        i.warc_offset - (len(junk) if i.warc_offset > offs[k - 1] else 0)
        for i in items
        if i not in bad
    ]
    assert shifted == [i.warc_offset for i in full]
    assert [i.body for i in items if isinstance(i, RawRecord)] == [
        i.body for i in full if isinstance(i, RawRecord)
    ]


def test_corrupt_member_in_the_middle_is_skipped():
    path = WARC_DIR / "resiliparse_warcfile.warc.gz"
    data = bytearray(path.read_bytes())
    offs = record_offsets(path)
    k = 20
    mid = (offs[k] + offs[k + 1]) // 2
    data[mid : mid + 64] = b"\x00" * 64  # damage the deflate stream of record k
    items = list(iter_records(io.BytesIO(bytes(data)), "t.warc.gz", CFG))
    full = read_all(path)
    assert sum(isinstance(i, Dropped) and i.reason == BAD_RECORD for i in items) >= 1
    # records after the damaged one are read again
    later = {i.warc_offset for i in full[k + 1 :]}
    assert later <= {i.warc_offset for i in items}


@pytest.mark.parametrize(
    "data", [b"", b"hello, this is not a WARC file\n" * 100, b"\x1f\x8b\x08\x00garbage" * 50]
)
def test_not_a_warc_never_raises(data):
    items = list(iter_records(io.BytesIO(data), "x", CFG))
    if not data:
        assert items == []
    else:
        assert len(items) == 1 and items[0].reason == BAD_RECORD


class NoSeek(io.RawIOBase):
    """A forward-only stream, like an HTTP or S3 body."""

    def __init__(self, data: bytes):
        self._f = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        chunk = self._f.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)


def test_plain_and_forward_only_streams_give_the_same_pages():
    path = WARC_DIR / "resiliparse_warcfile.warc.gz"
    full = [i for i in read_all(path) if isinstance(i, RawRecord)]
    plain = gzip.decompress(path.read_bytes())
    from_plain = [i for i in iter_records(io.BytesIO(plain), "p", CFG) if isinstance(i, RawRecord)]
    from_pipe = [
        i
        for i in iter_records(io.BufferedReader(NoSeek(path.read_bytes())), "q", CFG)
        if isinstance(i, RawRecord)
    ]
    assert [p.body for p in from_plain] == [p.body for p in full]
    assert [p.url for p in from_pipe] == [p.url for p in full]
    assert [p.body for p in from_pipe] == [p.body for p in full]


@pytest.mark.parametrize("path", ALL_WARCS, ids=lambda p: p.name)
def test_read_record_at_rereads_each_page(path):
    pages = [i for i in read_all(path) if isinstance(i, RawRecord)]
    with open(path, "rb") as fh:
        for p in reversed(pages):  # out of order on purpose: random access
            again = read_record_at(fh, p.warc_offset, path.name, CFG)
            assert again == p


def test_read_record_at_a_bad_offset_is_bad_record():
    path = WARC_DIR / "resiliparse_warcfile.warc.gz"
    with open(path, "rb") as fh:
        item = read_record_at(fh, 7, path.name, CFG)
    assert isinstance(item, Dropped) and item.reason == BAD_RECORD


def test_page_limit_drops_big_pages_as_too_large():
    path = WARC_DIR / "ukwa_flashfrozen-jwat-recompressed.warc.gz"
    pages = [i for i in read_all(path) if isinstance(i, RawRecord)]
    biggest = max(len(p.body) for p in pages)
    small = ExtractConfig(max_page_bytes=biggest - 1)
    items = read_all(path, small)
    assert sum(isinstance(i, Dropped) and i.reason == "too_large" for i in items) >= 1
    assert len(items) == len(read_all(path))


def test_decode_content_variants():
    html = b"<html><body>" + b"x" * 5000 + b"</body></html>"
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw_deflate = raw_deflate.compress(html) + raw_deflate.flush()
    assert decode_content(zlib.compress(html), ["deflate"], 10**6) == html
    assert decode_content(raw_deflate, ["deflate"], 10**6) == html
    assert decode_content(gzip.compress(html) + gzip.compress(html), ["gzip"], 10**6) == html * 2
    assert decode_content(brotli.compress(gzip.compress(html)), ["gzip", "br"], 10**6) == html
    assert decode_content(html, ["gzip"], 10**6) == html  # declared, never applied
    with pytest.raises(ValueError):
        decode_content(b"\x00\x01\x02 binary", ["compress"], 10**6)
