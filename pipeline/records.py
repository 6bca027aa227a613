"""Record types that flow between stages, and the counters every stage returns.

A stage is ``Iterator[record] -> Iterator[record]``; what it drops it reports as a named reason
in a :class:`StageStats`, returned as data (never a global), so ``stats.json`` reconciles:
``records_read == kept + sum(dropped.values())``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Drop reasons used across stages. A stage may add its own (e.g. a quality rule's name);
# these are the shared ones so the reliability table reads the same everywhere.
NOT_RESPONSE = "not_response"  # warcinfo/request/metadata/revisit records
NOT_HTML = "not_html"
BAD_RECORD = "bad_record"
TOO_LARGE = "too_large"
TOO_DEEP = "too_deep"
TIMEOUT = "timeout"
BAD_CHARSET = "bad_charset"
EMPTY_TEXT = "empty_text"
LANG = "lang"
QUALITY = "quality"
HTTP_STATUS = "http_status"
UNREADABLE_FILE = "unreadable_file"
PREFILTER = "prefilter"  # the first pass found no math evidence in the raw HTML

# Where a doc came from (docs/ column ``source``): a WARC the run read, or a record fetched by
# ``mathmine expand`` from a path the recall loop accepted. docs/ written before the column
# existed read as SOURCE_CRAWL.
SOURCE_CRAWL = "crawl"
SOURCE_EXPAND = "expand"


@dataclass
class RawRecord:
    """One HTTP response record with an HTML payload, as read from a WARC."""

    url: str
    warc_path: str
    warc_offset: int  # byte offset of the (gzip member of the) record in the WARC file
    warc_length: int  # bytes of the record on disk (compressed), 0 if unknown
    warc_date: str
    warc_record_id: str
    payload_digest: str
    http_status: int
    content_type: str  # the HTTP Content-Type header value ('' if none)
    body: bytes  # HTTP body after Content-Encoding was undone (bounded by the page limit)


@dataclass
class Dropped:
    """A record that a stage did not keep, and why."""

    reason: str
    url: str = ""
    warc_offset: int = -1
    detail: str = ""
    # the math-retention ledger's view: None = dropped before the extractor could see any
    # math; else whether the fast path saw math on the page, and its formulas
    math: bool | None = None
    formulas: int = 0


@dataclass
class StageStats:
    """Counters of one stage over one partition/task; merge with ``+``."""

    stage: str
    records_read: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    extra: dict[str, Any] = field(default_factory=dict)  # numbers only: merged by addition

    def keep(self, n: int = 1) -> None:
        self.records_read += n
        self.kept += n

    def drop(self, reason: str, n: int = 1) -> None:
        self.records_read += n
        self.dropped[reason] += n

    def add(self, key: str, value: float) -> None:
        self.extra[key] = self.extra.get(key, 0) + value

    def __add__(self, other: StageStats) -> StageStats:
        if other.stage != self.stage:
            raise ValueError(f"cannot merge stats of {self.stage!r} and {other.stage!r}")
        extra = dict(self.extra)
        for k, v in other.extra.items():
            extra[k] = extra.get(k, 0) + v
        return StageStats(
            self.stage,
            self.records_read + other.records_read,
            self.kept + other.kept,
            self.dropped + other.dropped,
            extra,
        )

    def reconciles(self) -> bool:
        return self.records_read == self.kept + sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        d = {
            "records_read": self.records_read,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
        }
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, stage: str, d: dict[str, Any]) -> StageStats:
        extra = {k: v for k, v in d.items() if k not in ("records_read", "kept", "dropped")}
        return cls(stage, d["records_read"], d["kept"], Counter(d.get("dropped", {})), extra)


def doc_id(url: str, record_digest: str) -> str:
    """Deterministic document id: a hash of the URL and the WARC record digest (16 hex chars)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(url.encode("utf-8", "surrogatepass"))
    h.update(b"\0")
    h.update(record_digest.encode("ascii", "replace"))
    return h.hexdigest()


# Columns of docs/ (Parquet), the extract stage's output. Later stages add their own tables
# (dedup/, scores/) keyed by ``id`` and never rewrite these.
DOC_COLUMNS = (
    "id",  # doc_id(url, payload_digest)
    "url",
    "domain",  # registered domain (public-suffix aware)
    "warc_path",
    "warc_offset",
    "warc_length",
    "warc_date",
    "warc_record_id",
    "title",
    "text",  # fast extraction, math as $...$ / $$...$$
    "lang",
    "lang_score",
    "formulas",  # number of formulas recovered by the extractor
    "math_markup",  # list of markup kinds seen: mathjax, katex, mathml, tex_img, raw_tex, ...
    "html_bytes",
    "word_count",
    "minhash",  # list<uint32>, num_perm values
    "minhash_key",  # int64: text + parameters of the signature (minhash.signature_keys)
    "source",  # SOURCE_CRAWL or SOURCE_EXPAND
    "first_pass",  # pipeline.prefilter: passed, sampled (ruled out, kept as a sample), unjudged
)


def docs_schema():
    """The pyarrow schema of docs/ (DOC_COLUMNS), fixed so every task writes the same types."""
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("url", pa.string()),
            ("domain", pa.string()),
            ("warc_path", pa.string()),
            ("warc_offset", pa.int64()),
            ("warc_length", pa.int64()),
            ("warc_date", pa.string()),
            ("warc_record_id", pa.string()),
            ("title", pa.string()),
            ("text", pa.string()),
            ("lang", pa.string()),
            ("lang_score", pa.float32()),
            ("formulas", pa.int32()),
            ("math_markup", pa.list_(pa.string())),
            ("html_bytes", pa.int64()),
            ("word_count", pa.int32()),
            ("minhash", pa.list_(pa.uint32())),
            ("minhash_key", pa.int64()),
            ("source", pa.string()),
            ("first_pass", pa.string()),
        ]
    )
