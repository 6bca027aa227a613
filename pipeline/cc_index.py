"""Common Crawl's columnar URL index: its schema, its URL keys, and one Parquet file queried.

The index (``s3://commoncrawl/cc-index/table/cc-main/warc/crawl=CC-MAIN-YYYY-WW/subset=warc/
part-*.parquet``, ~300 files and ~250 GB per crawl) has one row per capture. Its columns, names
and types are those of commoncrawl/cc-index-table's ``cc-index-schema-flat.json`` (Spark types
``short`` -> int16, ``integer`` -> int32, ``timestamp`` written as TIMESTAMP_MILLIS by
``convert_url_index.sh``; ``crawl`` and ``subset`` are Hive partitions, not file columns).
Within a crawl the files, and the row groups inside each, follow ``url_surtkey`` order
(cc-index-table's ``are_part_min_max_increasing.py`` checks exactly that), so a URL prefix is
a ``url_surtkey`` range and the row groups' min/max statistics tell which ones can hold it:
that is the predicate push-down :func:`query_index_file` does before reading a byte of data.

Also here, for tests and benchmarks: :func:`index_warc` indexes a WARC the way Common Crawl
does (one row per response record, real offsets and lengths) and :func:`write_index_files`
writes rows as index files sorted like the real ones. Spark-free; pyarrow only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlsplit

# Where the table lives below a Common Crawl root (s3://commoncrawl/, https://data.commoncrawl.org/)
TABLE_PATH = "cc-index/table/cc-main/warc/"
CRAWL_RE = re.compile(r"^CC-MAIN-\d{4}-\d{2}$")
SUBSET = "warc"  # successful captures; crawldiagnostics (404s, redirects) and robotstxt aside

# (name, Spark type of cc-index-schema-flat.json). warc_record_id exists since CC-MAIN-2026-30;
# content_charset and content_languages since CC-MAIN-2018-39, fetch_redirect and
# content_truncated since CC-MAIN-2019-47: a query reads only the columns a file has.
INDEX_FIELDS = (
    ("url_surtkey", "string"),
    ("url", "string"),
    ("url_host_name", "string"),
    ("url_host_tld", "string"),
    ("url_host_2nd_last_part", "string"),
    ("url_host_3rd_last_part", "string"),
    ("url_host_4th_last_part", "string"),
    ("url_host_5th_last_part", "string"),
    ("url_host_registry_suffix", "string"),
    ("url_host_registered_domain", "string"),
    ("url_host_private_suffix", "string"),
    ("url_host_private_domain", "string"),
    ("url_host_name_reversed", "string"),
    ("url_protocol", "string"),
    ("url_port", "integer"),
    ("url_path", "string"),
    ("url_query", "string"),
    ("fetch_time", "timestamp"),
    ("fetch_status", "short"),
    ("fetch_redirect", "string"),
    ("content_digest", "string"),
    ("content_mime_type", "string"),
    ("content_mime_detected", "string"),
    ("content_charset", "string"),
    ("content_languages", "string"),
    ("content_truncated", "string"),
    ("warc_record_id", "binary"),
    ("warc_filename", "string"),
    ("warc_record_offset", "integer"),
    ("warc_record_length", "integer"),
    ("warc_segment", "string"),
)
# What expand reads of a capture: 42% of a row's bytes at the real table's shape (measured
# by benchmarks/bench_expand_index.py on Common-Crawl-shaped files: 35 of 83 bytes a row).
# Not read: content_digest (27%: an id is a hash of the URL and it, so a URL already in the
# run covers its ids) and url_surtkey (9%: its range prunes row groups through the footer's
# statistics; the rows are then cut by host and path).
QUERY_COLUMNS = (
    "url",
    "url_host_name",
    "url_host_registered_domain",
    "url_path",
    "fetch_time",
    "fetch_status",
    "content_mime_detected",
    "content_languages",
    "warc_filename",
    "warc_record_offset",
    "warc_record_length",
)
# Detected MIME types (Tika, WARC-Identified-Payload-Type) that are HTML pages.
HTML_MIMES = ("text/html", "application/xhtml+xml")

# ISO 639-1 (lid.176, extract.langs) -> ISO 639-3 (CLD2 codes in content_languages). A
# language missing here is not filtered on (every capture passes): a filter must not drop
# pages the extractor would keep.
ISO639_3 = {
    "ar": "ara", "bg": "bul", "bn": "ben", "ca": "cat", "cs": "ces", "da": "dan", "de": "deu",
    "el": "ell", "en": "eng", "es": "spa", "et": "est", "fa": "fas", "fi": "fin", "fr": "fra",
    "he": "heb", "hi": "hin", "hr": "hrv", "hu": "hun", "id": "ind", "it": "ita", "ja": "jpn",
    "ko": "kor", "lt": "lit", "lv": "lav", "nl": "nld", "no": "nor", "pl": "pol", "pt": "por",
    "ro": "ron", "ru": "rus", "sk": "slk", "sl": "slv", "sr": "srp", "sv": "swe", "th": "tha",
    "tr": "tur", "uk": "ukr", "vi": "vie", "zh": "zho",
}  # fmt: skip


def index_schema():
    """The pyarrow schema of an index file (without the crawl/subset partition columns)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "integer": pa.int32(),
        "short": pa.int16(),
        "timestamp": pa.timestamp("ms", tz="UTC"),
        "binary": pa.binary(),
    }
    return pa.schema([(name, types[kind]) for name, kind in INDEX_FIELDS])


def partition_dir(crawl: str, subset: str = SUBSET) -> str:
    return f"crawl={crawl}/subset={subset}"


# --------------------------------------------------------------------------------------------
# URL keys
# --------------------------------------------------------------------------------------------

_WWW = re.compile(r"^www\d*\.")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that every canonicaliser leaves alone in a lower-cased path; a prefix is cut at
# the first other one (percent escapes, ';jsessionid=' ...) so its range is never too narrow.
_SAFE_PATH = re.compile(r"[a-z0-9/._~-]*")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def surt_host(host: str) -> str:
    """``www.Example.com`` -> ``com,example``: lower-cased, ``www``/``wwwN`` dropped, reversed."""
    host = host.lower().rstrip(".")
    if _is_ip(host):
        return host
    return ",".join(reversed(_WWW.sub("", host).split(".")))


def surt_key(url: str) -> str:
    """The ``url_surtkey`` of a URL, as Common Crawl's CDX indexer writes it:
    ``https://www.Example.com/A/b/?z=1&a=2`` -> ``com,example)/a/b?a=2&z=1`` (scheme and
    ``www.`` dropped, lower case, trailing slash dropped, query sorted)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip().lower()
    key = surt_host(parts.hostname or "")
    if port is not None and _DEFAULT_PORTS.get(parts.scheme.lower()) != port:
        key += f":{port}"
    path = (parts.path or "/").lower()
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    key += ")" + path
    if parts.query:
        key += "?" + "&".join(sorted(p for p in parts.query.lower().split("&") if p))
    return key


def next_string(s: str) -> str:
    """The smallest string greater than every string starting with ``s``."""
    return s[:-1] + chr(ord(s[-1]) + 1) if s else "\U0010ffff"


# --------------------------------------------------------------------------------------------
# What to look for
# --------------------------------------------------------------------------------------------

PREFIX, DOMAIN, URL = "prefix", "domain", "url"


@dataclass(frozen=True)
class Target:
    """One thing to find in the index.

    ``prefix``: ``host/path`` as in ``models/iter=N/url_paths.tsv`` (``host/`` is the whole
    host; ``host/a`` is ``/a`` and everything below it, the recall loop's ``is_under``);
    ``domain``: every host of a registered domain; ``url``: one page.
    """

    kind: str
    value: str  # host/path, registered domain, or the URL

    @property
    def host(self) -> str:
        return self.value.split("/", 1)[0].lower() if self.kind == PREFIX else ""

    @property
    def path(self) -> str:
        return "/" + self.value.split("/", 1)[1] if self.kind == PREFIX else ""

    def surt_prefixes(self) -> list[str]:
        """``url_surtkey`` prefixes that every capture of this target starts with."""
        if self.kind == DOMAIN:
            h = surt_host(self.value)
            return [h + ")", h + ",", h + ":"]  # the domain, its sub-domains, other ports
        if self.kind == URL:
            return [_cut(surt_key(self.value).partition("?")[0])]
        path = self.path.lower()
        if len(path) > 1:
            path = path.rstrip("/")
        safe = _SAFE_PATH.match(path).group(0)
        h = surt_host(self.host)
        return [h + ")" + safe, h + ":"]  # a URL with a port: host:8080)/... (any path)

    def surt_ranges(self) -> list[tuple[str, str]]:
        return [(p, next_string(p)) for p in self.surt_prefixes()]


def _cut(surt: str) -> str:
    host, _, path = surt.partition(")")
    return host + ")" + _SAFE_PATH.match(path).group(0)


def matches(target: Target, host: str, path: str, domain: str, url: str) -> bool:
    """Does a capture (``url_host_name``, ``url_path``, registered domain, url) fall under
    ``target``? Exact and case-sensitive on the path, like the recall loop's ``is_under``."""
    if target.kind == PREFIX:
        if host.lower() != target.host:
            return False
        want = target.path
        if want.endswith("/"):
            return path.startswith(want)
        return path == want or path.startswith(want + "/")
    if target.kind == DOMAIN:
        return domain == target.value
    return url == target.value


# --------------------------------------------------------------------------------------------
# One index file, queried
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexFilter:
    """What a capture must be to come back: under a target, HTTP 200, HTML, in a language.

    ``languages`` are ISO 639-3 codes (empty: any); a capture with no languages recorded
    (crawls before CC-MAIN-2018-39, or CLD2 undecided) passes.
    """

    targets: tuple[Target, ...]
    mimes: tuple[str, ...] = HTML_MIMES
    languages: tuple[str, ...] = ()
    status: int = 200

    def ranges(self) -> list[tuple[str, str]]:
        """The targets' ``url_surtkey`` ranges, sorted and merged."""
        rs = sorted(r for t in self.targets for r in t.surt_ranges())
        out: list[tuple[str, str]] = []
        for lo, hi in rs:
            if out and lo <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], hi))
            else:
                out.append((lo, hi))
        return out


def _overlaps(ranges: list[tuple[str, str]], lo, hi) -> bool:
    """Does [lo, hi] (a row group's min/max; None = unknown) meet any [a, b) range?"""
    if lo is None or hi is None:
        return True
    return any(a <= hi and lo < b for a, b in ranges)


def _stats(rg, col: int):
    st = rg.column(col).statistics
    if st is None or not st.has_min_max:
        return None, None
    lo, hi = st.min, st.max
    if isinstance(lo, bytes):
        lo, hi = lo.decode("utf-8", "replace"), hi.decode("utf-8", "replace")
    return lo, hi


def prune_row_groups(metadata, flt: IndexFilter) -> list[int]:
    """Row groups of a file whose ``url_surtkey`` min/max can hold a target."""
    names = metadata.schema.names
    if "url_surtkey" not in names:
        return list(range(metadata.num_row_groups))
    col = names.index("url_surtkey")
    ranges = flt.ranges()
    return [
        i
        for i in range(metadata.num_row_groups)
        if _overlaps(ranges, *_stats(metadata.row_group(i), col))
    ]


def query_index_file(parquet_file, flt: IndexFilter, counters: dict) -> list[dict]:
    """The captures of one index file (a ``pyarrow.parquet.ParquetFile``) that pass ``flt``.

    Reads only the row groups :func:`prune_row_groups` keeps and only :data:`QUERY_COLUMNS`;
    every test runs in Arrow (one hash lookup for the targets' hosts, domains and URLs, then
    one RE2 pass per host over the rows left), only the captures that pass become dicts.
    Counts go into ``counters``: row groups total/read, rows scanned, the captures under a
    target, and per reason those left out (``not_200``, ``not_html``, ``other_lang``).
    """
    import pyarrow.compute as pc

    md = parquet_file.metadata
    keep = prune_row_groups(md, flt)
    _add(counters, "row_groups", md.num_row_groups)
    _add(counters, "row_groups_read", len(keep))
    if not keep:
        return []
    names = set(md.schema.names)
    cols = [c for c in QUERY_COLUMNS if c in names]
    table = parquet_file.read_row_groups(keep, columns=cols, use_threads=False)
    _add(counters, "rows_scanned", table.num_rows)
    table = table.filter(_target_mask(table, flt, cut=True))
    table = table.filter(_target_mask(table, flt, cut=False))
    _add(counters, "under_target", table.num_rows)
    ok = pc.fill_null(pc.equal(table.column("fetch_status"), flt.status), False)
    _add(counters, "not_200", table.num_rows - pc.sum(ok).as_py() if table.num_rows else 0)
    table = table.filter(ok)
    mime = pc.utf8_lower(pc.fill_null(table.column("content_mime_detected"), ""))
    ok = pc.is_in(mime, pa_set(flt.mimes))
    _add(counters, "not_html", table.num_rows - (pc.sum(ok).as_py() or 0))
    table = table.filter(ok)
    if flt.languages and "content_languages" in table.column_names:
        langs = table.column("content_languages")
        ok = pc.is_null(langs)
        for code in flt.languages:  # ISO 639-3 codes, comma-separated: a substring is a code
            ok = pc.or_(ok, pc.fill_null(pc.match_substring(langs, code), False))
        _add(counters, "other_lang", table.num_rows - (pc.sum(ok).as_py() or 0))
        table = table.filter(ok)
    out = table.to_pylist()
    for row in out:
        host = (row.get("url_host_name") or "").lower()
        domain = row.get("url_host_registered_domain") or ""
        row["target"] = next(
            t.value
            for t in flt.targets
            if matches(t, host, row.get("url_path") or "", domain, row.get("url") or "")
        )
    _add(counters, "matched", len(out))
    return out


def _target_mask(table, flt: IndexFilter, cut: bool):
    """Rows under a target. ``cut``: the superset by host, domain and URL alone (hash
    lookups, linear in the rows whatever the number of targets); else the exact test (a
    prefix's path is ``/a`` itself or ``/a/...``, as the recall loop's ``is_under``)."""
    import re

    import pyarrow.compute as pc

    host = pc.utf8_lower(table.column("url_host_name"))
    by_host: dict[str, list[str]] = {}
    urls, domains = set(), set()
    for t in flt.targets:
        if t.kind == PREFIX:
            p = re.escape(t.path)
            by_host.setdefault(t.host, []).append(p if t.path.endswith("/") else p + "(?:/|$)")
        elif t.kind == URL:
            urls.add(t.value)
            by_host.setdefault((urlsplit(t.value).hostname or "").lower(), [])
        else:
            domains.add(t.value)
    masks = []
    if cut:
        masks.append(pc.is_in(host, pa_set(by_host)))
    else:
        path = table.column("url_path")
        for h, pats in sorted(by_host.items()):
            if pats:
                rx = "^(?:" + "|".join(pats) + ")"
                masks.append(pc.and_(pc.equal(host, h), pc.match_substring_regex(path, rx)))
        if urls:
            masks.append(pc.is_in(table.column("url"), pa_set(urls)))
    if domains and "url_host_registered_domain" in table.column_names:
        masks.append(pc.is_in(table.column("url_host_registered_domain"), pa_set(domains)))
    mask = masks[0] if masks else pc.equal(host, "\0")
    for m in masks[1:]:
        mask = pc.or_(mask, m)
    return pc.fill_null(mask, False)


def pa_set(keys) -> Any:
    import pyarrow as pa

    return pa.array(sorted(keys), pa.string())


def _add(counters: dict, key: str, n: int) -> None:
    counters[key] = counters.get(key, 0) + n


# --------------------------------------------------------------------------------------------
# Building an index from WARC files (tests, benchmarks, your own crawl)
# --------------------------------------------------------------------------------------------


def warc_segment(warc_filename: str) -> str:
    """``crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc/...`` -> ``1715971057216.39``."""
    parts = warc_filename.split("/")
    return parts[parts.index("segments") + 1] if "segments" in parts[:-1] else ""


def _host_parts(host: str) -> dict[str, Any]:
    from pipeline.urls import private_domain, registered_domain

    labels = host.split(".") if host and not _is_ip(host) else []
    rev = labels[::-1] + [None] * 5
    names = ("tld", "2nd_last_part", "3rd_last_part", "4th_last_part", "5th_last_part")
    out: dict[str, Any] = {f"url_host_{n}": rev[i] for i, n in enumerate(names)}
    domain = registered_domain(f"http://{host}/") if labels else None
    suffix = domain.split(".", 1)[1] if domain and "." in domain else None
    private = private_domain(host) if labels else None
    out.update(
        url_host_registry_suffix=suffix,
        url_host_registered_domain=domain,
        url_host_private_suffix=private.split(".", 1)[1] if private and "." in private else None,
        url_host_private_domain=private,
        url_host_name_reversed=".".join(labels[::-1]) if labels else None,
    )
    return out


def _uuid_bytes(record_id: str) -> bytes | None:
    try:
        return uuid.UUID(record_id.strip("<>").removeprefix("urn:uuid:")).bytes
    except ValueError:
        return None


def _fetch_time(date: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(date.replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError:
        return None


def capture_row(
    url: str,
    warc_filename: str,
    offset: int,
    length: int,
    *,
    date: str,
    status: int,
    digest: str,
    mime: str,
    mime_detected: str,
    charset: str | None = None,
    languages: str | None = None,
    record_id: str = "",
    redirect: str | None = None,
    truncated: str | None = None,
) -> dict[str, Any]:
    """One index row with every column of :data:`INDEX_FIELDS`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    row = {
        "url_surtkey": surt_key(url),
        "url": url,
        "url_host_name": host,
        **_host_parts(host),
        "url_protocol": parts.scheme.lower(),
        "url_port": port,
        "url_path": parts.path or "/",
        "url_query": parts.query or None,
        "fetch_time": _fetch_time(date),
        "fetch_status": status,
        "fetch_redirect": redirect,
        "content_digest": digest.removeprefix("sha1:") or None,
        "content_mime_type": mime or None,
        "content_mime_detected": mime_detected or None,
        "content_charset": charset,
        "content_languages": languages,
        "content_truncated": truncated,
        "warc_record_id": _uuid_bytes(record_id) if record_id else None,
        "warc_filename": warc_filename,
        "warc_record_offset": offset,
        "warc_record_length": length,
        "warc_segment": warc_segment(warc_filename),
    }
    return row


_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:+-]+)", re.I)


def _languages_of(body: bytes, content_type: str, url: str) -> str | None:
    """ISO 639-3 code of a page's main language (lid.176 on the extracted text: Common Crawl
    uses CLD2, which the project does not ship)."""
    from pipeline.charset import decode_html
    from pipeline.html_text import Extraction, extract_text
    from pipeline.langid import detect_language

    html, _ = decode_html(body, content_type)
    ext = extract_text(html, url=url, mode="fast")
    if not isinstance(ext, Extraction) or not ext.text.strip():
        return None
    lang, score = detect_language(ext.text)
    return ISO639_3.get(lang) if score >= 0.5 else None


def index_warc(stream: BinaryIO, warc_filename: str, languages: bool = True) -> list[dict]:
    """Index rows of every response record of a per-record-gzipped WARC, as Common Crawl's
    indexer makes them: ``warc_record_offset`` is where the record's gzip member starts and
    ``warc_record_length`` its size on disk (up to the next member)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from pipeline.config import ExtractConfig
    from pipeline.warc import decode_content, sniff_html

    cfg = ExtractConfig()
    rows: list[dict] = []
    pending: dict | None = None
    for rec in ArchiveIterator(stream, record_types=WarcRecordType.any_type, parse_http=True):
        if pending is not None:
            pending["warc_record_length"] = rec.stream_pos - pending["warc_record_offset"]
            rows.append(pending)
            pending = None
        if rec.record_type != WarcRecordType.response:
            continue
        h, http = rec.headers, rec.http_headers
        url = (h.get("WARC-Target-URI") or "").strip().strip("<>")
        ctype = (http.get("Content-Type") or "").strip() if http else ""
        mime = ctype.split(";", 1)[0].strip().lower()
        body = rec.reader.read()
        encodings = [
            e.strip().lower()
            for e in ((http.get("Content-Encoding") or "") if http else "").split(",")
            if e.strip()
        ]
        try:
            payload = decode_content(body, encodings, cfg.max_page_bytes)
        except Exception:  # noqa: BLE001 - an undecodable body is indexed by its header type
            payload = b""
        detected = (h.get("WARC-Identified-Payload-Type") or "").strip().lower()
        if not detected:
            detected = "text/html" if sniff_html(payload) else (mime or "application/octet-stream")
        status = int(http.status_code or 0) if http else 0
        m = _CHARSET.search(ctype)
        pending = capture_row(
            url,
            warc_filename,
            rec.stream_pos,
            0,
            date=(h.get("WARC-Date") or "").strip(),
            status=status,
            digest=(h.get("WARC-Payload-Digest") or "").strip(),
            mime=mime,
            mime_detected=detected,
            charset=m.group(1).upper() if m else None,
            languages=(
                _languages_of(payload, ctype, url)
                if languages and status == 200 and detected in HTML_MIMES
                else None
            ),
            record_id=(h.get("WARC-Record-ID") or "").strip(),
            redirect=(http.get("Location") or None) if http and 300 <= status < 400 else None,
            truncated=(h.get("WARC-Truncated") or None),
        )
    if pending is not None:
        end = stream.seek(0, 2)
        pending["warc_record_length"] = end - pending["warc_record_offset"]
        rows.append(pending)
    return rows


def sort_rows(rows: Iterable[dict]) -> list[dict]:
    """Index order: ``url_surtkey``, then capture time."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return sorted(rows, key=lambda r: (r["url_surtkey"], r["fetch_time"] or epoch))


def write_index_files(
    rows: Iterable[dict],
    open_output,
    files: int = 1,
    row_group_rows: int = 1 << 20,
) -> Iterator[str]:
    """Write ``rows`` as ``files`` index files in ``url_surtkey`` order (each file a
    contiguous key range, row groups of ``row_group_rows``), zstd like Common Crawl's and with
    page indexes (parquet-mr writes them). ``open_output(name)`` is a binary stream context
    (``infra.storage.folder_output``); yields the names written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ordered = sort_rows(rows)
    schema = index_schema()
    n = len(ordered)
    per = max(1, -(-n // max(1, files)))
    tag = uuid.UUID(int=len(ordered)).hex[:8]  # deterministic names for a given row count
    for i, start in enumerate(range(0, max(n, 1), per)):
        name = f"part-{i:05d}-{tag}-0000-0000-0000-000000000000.c000.zstd.parquet"
        table = pa.Table.from_pylist(ordered[start : start + per], schema)
        with open_output(name) as f:
            pq.write_table(
                table,
                f,
                compression="zstd",
                row_group_size=row_group_rows,
                write_page_index=True,
            )
        yield name
