"""Common-Crawl-shaped fixtures for the expand tests, built from real WARC records.

* :func:`members`: the gzip members of a real per-record-gzipped WARC (one record each), byte
  for byte, with the record's type and URL;
* :func:`write_warc`: a WARC file made of such members (a split of a real WARC);
* :func:`redate`: a member whose ``WARC-Date`` says another capture time (a re-capture of
  the same page bytes, as a later crawl would hold it);
* :func:`build_cc_tree`: a folder laid out like Common Crawl's bucket: the WARCs under
  ``crawl-data/<crawl>/segments/<seg>/warc/`` and the columnar index of all of them under
  ``cc-index/table/cc-main/warc/crawl=<crawl>/subset=warc/`` (pipeline.cc_index: real offsets
  and lengths, Common Crawl's schema, sorted by url_surtkey, several files and row groups).
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType

from pipeline.cc_index import TABLE_PATH, index_warc, partition_dir, write_index_files

REPO = Path(__file__).resolve().parent.parent
SAMPLE_WARC = REPO / "sample" / "sample.warc.gz"
CC_EXCERPT = REPO / "tests" / "data" / "cloud" / "cc_2020_34_excerpt.warc.gz"
MATH_PREFIX = "discrete.openmathbooks.org/dmoi4"


def cc_name(crawl: str, segment: str, seq: int) -> str:
    """A warc_filename as Common Crawl writes them."""
    year = crawl.split("-")[2]
    stamp = f"{year}0518000000-{year}0518030000"
    return f"crawl-data/{crawl}/segments/{segment}/warc/CC-MAIN-{stamp}-{seq:05d}.warc.gz"


def members(path: Path) -> list[tuple[str, str, bytes]]:
    """(WARC-Type, WARC-Target-URI, member bytes) of every record of ``path``."""
    data = path.read_bytes()
    with open(path, "rb") as f:
        recs = [
            (
                r.stream_pos,
                (r.headers.get("WARC-Type") or ""),
                (r.headers.get("WARC-Target-URI") or "").strip("<>"),
            )
            for r in ArchiveIterator(f, record_types=WarcRecordType.any_type, parse_http=False)
        ]
    out = []
    for i, (pos, kind, url) in enumerate(recs):
        end = recs[i + 1][0] if i + 1 < len(recs) else len(data)
        out.append((kind, url, data[pos:end]))
    return out


def write_warc(path: Path, parts: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(parts))
    return path


def redate(member: bytes, date: str) -> bytes:
    """The same record captured at ``date`` (its ``WARC-Date`` header rewritten)."""
    raw = zlib.decompress(member, 16 + zlib.MAX_WBITS)
    head, sep, rest = raw.partition(b"\r\n\r\n")
    head = re.sub(rb"(?m)^WARC-Date: [^\r\n]*", b"WARC-Date: " + date.encode(), head, count=1)
    return gzip.compress(head + sep + rest, mtime=0)


def split_sample(tmp: Path) -> tuple[Path, Path, list[str]]:
    """The sample WARC cut in two: A holds everything but every other page of the math book
    (``MATH_PREFIX``), B holds those pages (request, response and metadata records, byte for
    byte) after a warcinfo record. Returns (A, B, the URLs moved to B)."""
    recs = members(SAMPLE_WARC)
    book = sorted(
        {u for k, u, _ in recs if k == "response" and u.split("://", 1)[-1].startswith(MATH_PREFIX)}
    )
    moved = set(book[1::2])
    info = [m for k, _u, m in recs if k == "warcinfo"][:1]
    a = [m for _k, u, m in recs if u not in moved]
    b = info + [m for _k, u, m in recs if u in moved]
    return (
        write_warc(tmp / "split" / "a.warc.gz", a),
        write_warc(tmp / "split" / "b.warc.gz", b),
        sorted(moved),
    )


def build_cc_tree(root: Path, warcs: dict[str, list[tuple[Path, str]]], files: int = 2,
                  row_group_rows: int = 64) -> dict[str, list[dict]]:  # fmt: skip
    """Copy ``{crawl: [(local WARC, warc_filename)]}`` into ``root`` as Common Crawl lays
    them out and write each crawl's index; returns the index rows per crawl."""
    from infra.storage import folder_output

    out = {}
    for crawl, items in warcs.items():
        rows = []
        for local, name in items:
            dest = root / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(local.read_bytes())
            with open(dest, "rb") as f:
                rows += index_warc(f, name)
        part = root / TABLE_PATH / partition_dir(crawl)
        part.mkdir(parents=True, exist_ok=True)
        list(write_index_files(rows, folder_output(str(part)), files, row_group_rows))
        out[crawl] = rows
    return out
