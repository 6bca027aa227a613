"""The files of Common Crawl's columnar index at a URI, opened for ranged reads.

``--index`` is the table's root: ``s3://commoncrawl/cc-index/table/cc-main/warc/`` (default),
``https://data.commoncrawl.org/cc-index/table/cc-main/warc/`` from outside AWS, or a local,
``file://`` or ``gs://`` copy with the same ``crawl=.../subset=warc/`` layout. Partition
pruning is choosing the folders of the asked crawls and ``subset=warc``: nothing else is
listed or opened. Over https (no listing) the crawl's ``cc-index-table.paths.gz`` names the
files, as Common Crawl publishes it beside ``warc.paths.gz``.

Every byte comes through ``infra.storage`` (its retry policy and counters): a file is opened
with one suffix-range request that brings its size and its footer, then only the column
chunks of the row groups a query keeps are read (``index_requests``, ``index_bytes``).
"""

from __future__ import annotations

import gzip
import io

from pipeline.cc_index import SUBSET, TABLE_PATH, partition_dir
from pipeline.config import IOConfig
from pipeline.errors import UserError

# One request brings the footer of an index file: pyarrow's own first footer read (64 KiB);
# a file of Common Crawl's shape has ~5 KB of metadata per row group (31 columns with
# statistics: 20.5 KB for 4 row groups, benchmarks/bench_expand_index.py), so a footer past
# it (a file of 12+ row groups) costs one more request.
FOOTER_READ = 64 << 10


def table_root(index_uri: str) -> str:
    return index_uri.rstrip("/") + "/"


def data_root(index_uri: str) -> str:
    """The Common Crawl root the index's ``warc_filename`` values are relative to: the index
    URI without ``cc-index/table/cc-main/warc/`` (``s3://commoncrawl/``,
    ``https://data.commoncrawl.org/``, or the local copy's root)."""
    root = table_root(index_uri)
    if not root.endswith(TABLE_PATH):
        raise UserError(
            f"--index {index_uri!r} does not end in {TABLE_PATH!r}; pass the table root "
            f"(e.g. s3://commoncrawl/{TABLE_PATH}) or --warc-root for where the WARCs are"
        )
    return root[: -len(TABLE_PATH)]


def index_files(index_uri: str, crawls: list[str], io_cfg: IOConfig) -> list[tuple[str, str]]:
    """``(crawl, file URI)`` of every index file of ``crawls`` (subset ``warc``), sorted."""
    from infra.storage import list_uri, read_bytes, split_uri

    scheme = split_uri(index_uri)[0]
    root = table_root(index_uri)
    out: list[tuple[str, str]] = []
    for crawl in crawls:
        if scheme in ("http", "https"):
            base = data_root(index_uri)
            listing = f"{base}crawl-data/{crawl}/cc-index-table.paths.gz"
            try:
                data = read_bytes(listing, io_cfg)
            except OSError as e:
                raise UserError(
                    f"cannot read the index listing {listing}: {e}; check the crawl name"
                ) from None
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            lines = data.decode("utf-8", "replace").split()
            uris = [base + ln.lstrip("/") for ln in lines]
        else:
            try:
                uris = list_uri(root + partition_dir(crawl, SUBSET) + "/", io_cfg)
            except FileNotFoundError:
                uris = []
        files = sorted(u for u in uris if u.endswith(".parquet") and f"/subset={SUBSET}/" in u)
        if not files:
            raise UserError(
                f"no index files for {crawl} under {root}; check the crawl name "
                "(CC-MAIN-YYYY-WW, as listed at https://index.commoncrawl.org/) and --index"
            )
        out += [(crawl, f) for f in files]
    return out


class RangeFile(io.RawIOBase):
    """A read-only random-access file over ``infra.storage.read_range``, starting from a
    cached tail (the footer). pyarrow reads through it with its own range coalescing."""

    def __init__(self, uri: str, io_cfg: IOConfig, counters: dict, footer: int = FOOTER_READ):
        from infra.storage import read_tail

        super().__init__()
        self.uri, self.io_cfg, self.counters = uri, io_cfg, counters
        tail, self._size = read_tail(uri, footer, io_cfg, counters)
        self._count(len(tail))
        self._tail_at = self._size - len(tail)
        self._tail = tail
        self._pos = 0

    def _count(self, n: int) -> None:
        self.counters["index_requests"] = self.counters.get("index_requests", 0) + 1
        self.counters["index_bytes"] = self.counters.get("index_bytes", 0) + n

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def size(self) -> int:
        return self._size

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        from infra.storage import read_range

        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        if end <= self._pos:
            return b""
        if self._pos >= self._tail_at:
            data = self._tail[self._pos - self._tail_at : end - self._tail_at]
        else:
            data = read_range(self.uri, self._pos, end - self._pos, self.io_cfg, self.counters)
            self._count(len(data))
        self._pos += len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def open_index_file(uri: str, io_cfg: IOConfig, counters: dict):
    """A ``pyarrow.parquet.ParquetFile`` of one index file, read by ranges (pre-buffered:
    the column chunks of a row group come in few coalesced requests)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = RangeFile(uri, io_cfg, counters)
    return pq.ParquetFile(pa.PythonFile(raw, mode="r"), pre_buffer=True)
