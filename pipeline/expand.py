"""Domain expansion, per record: what to look for, how to fetch it, what a fetched record is.

DeepSeekMath (arXiv 2402.03300, section 2.1) adds the uncollected pages under a math URL path
(``mathoverflow.net/questions``) to the next iteration's seeds. A run over part of a crawl
holds only the few pages of such a path that sit in its own WARCs; the rest are found in
Common Crawl's columnar index (pipeline/cc_index.py) and fetched one record at a time by byte
range. This module is that logic without Spark or a cloud SDK:

* :func:`parse_targets`: what to look for, from a ``url_paths.tsv`` (its ``accepted`` rows),
  a list of ``host/path`` prefixes, of URLs, or of registered domains;
* :func:`plan_tasks` and :func:`plan_ranges`: the hits grouped by WARC file into tasks, and
  the byte ranges a task asks for (records close together in a file share one request);
* :func:`parse_fetched` and :func:`extract_fetched`: one fetched gzip member -> a record ->
  the same extraction as every WARC (pipeline/extract.py), the doc marked ``source=expand``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pipeline import records as R
from pipeline.cc_index import DOMAIN, PREFIX, URL, IndexFilter, Target
from pipeline.config import Config, ExtractConfig
from pipeline.errors import UserError
from pipeline.records import Dropped, RawRecord, StageStats

SOURCE = R.SOURCE_EXPAND
_GZIP_MAGIC = b"\x1f\x8b\x08"
# the reasons a capture found under a target does not become a hit (stats.json "expand")
INDEX_REASONS = (
    "not_200",
    "not_html",
    "other_lang",
    "older_capture",
    "in_run",
    "seen",
    "max_pages",
)
# a fetched range that could not be read after the storage layer's retries
FETCH_FAILED = "fetch_failed"


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


def parse_target(line: str) -> Target:
    """``https://x.org/a/b.html`` -> a URL; ``x.org/a`` or ``x.org/`` -> a prefix (the recall
    loop's form); ``x.org`` (no slash) -> the registered domain and every host under it."""
    s = line.strip()
    if "://" in s:
        scheme, _, rest = s.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.split("/", 1)[0]:
            raise UserError(f"{s!r} is not an http(s) URL; list URLs, host/path or domains")
        return Target(URL, s.split("#", 1)[0])  # the index has no fragments
    if "/" in s:
        host, _, path = s.partition("/")
        if not host or " " in s:
            raise UserError(
                f"{s!r} is not a host/path prefix; write it as mathoverflow.net/questions"
            )
        return Target(PREFIX, f"{host.lower()}/{path}")
    if "." not in s or " " in s:
        raise UserError(f"{s!r} is not a domain, a host/path prefix or a URL")
    return Target(DOMAIN, s.lower().rstrip("."))


def parse_targets(text: str, what: str = "paths file") -> list[Target]:
    """Targets of a ``url_paths.tsv`` (rows whose ``accepted`` is yes) or of a plain list (one
    URL, ``host/path`` prefix or domain per line, ``#`` comments). Sorted, without repeats."""
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    out: set[Target] = set()
    if first.split("\t")[:2] == ["domain", "path_prefix"]:
        rows = csv.DictReader(io.StringIO(text), delimiter="\t")
        if "accepted" not in (rows.fieldnames or []):
            raise UserError(f"{what} has no 'accepted' column; pass a url_paths.tsv or a list")
        for r in rows:
            if (r.get("accepted") or "").strip().lower() in ("yes", "true", "1", "y"):
                out.add(parse_target(r["path_prefix"]))
        return sorted(out, key=lambda t: (t.kind, t.value))
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if "://" not in line:
            line = line.split("#", 1)[0].strip()  # a comment (URLs may hold a '#')
        if not line:
            continue
        try:
            out.add(parse_target(line))
        except UserError as e:
            raise UserError(f"{what} line {n}: {e}") from None
    return sorted(out, key=lambda t: (t.kind, t.value))


def index_filter(config: Config, targets: list[Target]) -> IndexFilter:
    """The filter of an expansion: the targets, ``expand.mimes``, and with
    ``expand.languages`` the ISO 639-3 codes of ``extract.langs``."""
    from pipeline.cc_index import ISO639_3

    langs: tuple[str, ...] = ()
    if config.expand.languages and config.extract.langs:
        mapped = [ISO639_3.get(lang) for lang in config.extract.langs]
        # a language without a known ISO 639-3 code: no filter, so nothing extract keeps is lost
        langs = tuple(m for m in mapped if m) if all(mapped) else ()
    return IndexFilter(tuple(targets), tuple(config.expand.mimes), langs)


def describe_query(flt: IndexFilter, crawls: list[str], index_uri: str) -> str:
    """The query in SQL, as it would run on Athena or DuckDB over the same table: what
    ``--dry-run`` prints (expand runs it itself with pyarrow, see jobs/expand_job.py)."""
    conds = []
    for t in flt.targets:
        if t.kind == PREFIX:
            p = t.path.replace("'", "''")
            path = (
                f"url_path LIKE '{p}%'"
                if p.endswith("/")
                else f"(url_path = '{p}' OR url_path LIKE '{p}/%')"
            )
            conds.append(f"(url_host_name = '{t.host}' AND {path})")
        elif t.kind == DOMAIN:
            conds.append(f"url_host_registered_domain = '{t.value}'")
        else:
            conds.append("url = '" + t.value.replace("'", "''") + "'")
    ranges = " OR ".join(f"url_surtkey BETWEEN '{a}' AND '{b}'" for a, b in flt.ranges()[:50])
    if len(flt.ranges()) > 50:
        ranges += f" OR ... ({len(flt.ranges()) - 50} more ranges)"
    crawl_list = ", ".join(f"'{c}'" for c in crawls)
    mimes = ", ".join(f"'{m}'" for m in flt.mimes)
    where = [
        f"crawl IN ({crawl_list}) AND subset = 'warc'",
        f"({ranges})",
        f"fetch_status = {flt.status}",
        f"content_mime_detected IN ({mimes})",
    ]
    if flt.languages:
        langs = " OR ".join(f"content_languages LIKE '%{lang}%'" for lang in flt.languages)
        where.append(f"(content_languages IS NULL OR {langs})")
    shown = conds[:50] + ([f"... {len(conds) - 50} more targets"] if len(conds) > 50 else [])
    where.append("(" + "\n       OR ".join(shown) + ")")
    return (
        "SELECT url, fetch_time, warc_filename, warc_record_offset, warc_record_length\n"
        f"FROM parquet('{index_uri}')  -- Hive partitions crawl=/subset=\n"
        "WHERE " + "\n  AND ".join(where) + "\n"
        "-- then: the newest capture per URL, minus the run's URLs and WARCs"
    )


# --------------------------------------------------------------------------------------------
# Fetch planning
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One capture to fetch: where it is and what the index says it is."""

    url: str
    warc_filename: str
    offset: int
    length: int


@dataclass
class FetchTask:
    """The hits one Spark task fetches: one WARC file's (or several small groups')."""

    key: str
    groups: list[tuple[str, list[Hit]]] = field(default_factory=list)

    def size(self) -> int:
        return sum(len(h) for _, h in self.groups)


def task_key(iteration: int, hits: Iterable[Hit]) -> str:
    h = hashlib.sha1(str(iteration).encode())
    for x in hits:
        h.update(f"\0{x.warc_filename}\0{x.offset}".encode())
    return h.hexdigest()[:16]


def plan_tasks(hits: Iterable[Hit], records_per_task: int, iteration: int = 0) -> list[FetchTask]:
    """Hits grouped by WARC file (records in file order); a file with more than
    ``records_per_task`` hits is split, and groups of small files share a task until it holds
    ``records_per_task``: a few thousand tasks, not one per WARC of a 90,000-WARC crawl."""
    by_file: dict[str, list[Hit]] = {}
    for h in hits:
        by_file.setdefault(h.warc_filename, []).append(h)
    chunks: list[tuple[str, list[Hit]]] = []
    for name in sorted(by_file):
        recs = sorted(by_file[name], key=lambda h: h.offset)
        for i in range(0, len(recs), max(1, records_per_task)):
            chunks.append((name, recs[i : i + records_per_task]))
    tasks: list[FetchTask] = []
    cur: list[tuple[str, list[Hit]]] = []
    for name, recs in chunks:
        if cur and sum(len(r) for _, r in cur) + len(recs) > records_per_task:
            tasks.append(_task(iteration, cur))
            cur = []
        cur.append((name, recs))
    if cur:
        tasks.append(_task(iteration, cur))
    return tasks


def _task(iteration: int, groups: list[tuple[str, list[Hit]]]) -> FetchTask:
    return FetchTask(task_key(iteration, (h for _, hs in groups for h in hs)), list(groups))


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # exclusive
    hits: tuple[Hit, ...]

    @property
    def length(self) -> int:
        return self.end - self.start


def plan_ranges(hits: Iterable[Hit], merge_gap: int) -> list[ByteRange]:
    """The ranged reads for one file's hits: records at most ``merge_gap`` bytes apart are
    read in one request (the gap's bytes cost less than another request's round trip)."""
    out: list[ByteRange] = []
    for h in sorted(hits, key=lambda h: h.offset):
        end = h.offset + h.length
        if out and h.offset - out[-1].end <= merge_gap:
            last = out[-1]
            out[-1] = ByteRange(last.start, max(last.end, end), (*last.hits, h))
        else:
            out.append(ByteRange(h.offset, end, (h,)))
    return out


def count_requests(tasks: Iterable[FetchTask], merge_gap: int) -> tuple[int, int]:
    """(ranged reads, bytes) the tasks will ask for."""
    n = size = 0
    for t in tasks:
        for _, hits in t.groups:
            for r in plan_ranges(hits, merge_gap):
                n += 1
                size += r.length
    return n, size


# --------------------------------------------------------------------------------------------
# Fetched records
# --------------------------------------------------------------------------------------------


def parse_fetched(data: bytes, hit: Hit, warc_path: str, cfg: ExtractConfig) -> RawRecord | Dropped:
    """The record in ``data`` (the bytes at the hit's offset and length): one gzip member
    holding one WARC response record of the hit's URL, read with the project's WARC reader.
    Anything else is a ``bad_record``."""
    from pipeline.warc import read_record_at

    if len(data) < hit.length:
        return Dropped(R.BAD_RECORD, hit.url, hit.offset, f"{len(data)} of {hit.length} bytes")
    if data[:3] != _GZIP_MAGIC:
        return Dropped(R.BAD_RECORD, hit.url, hit.offset, "not a gzip member at the offset")
    item = read_record_at(io.BytesIO(data), 0, warc_path, cfg)
    if isinstance(item, Dropped):
        item.url, item.warc_offset = item.url or hit.url, hit.offset
        return item
    if item.url != hit.url:
        return Dropped(R.BAD_RECORD, hit.url, hit.offset, f"the record there is {item.url!r}")
    item.warc_offset, item.warc_length = hit.offset, hit.length
    return item


def extract_fetched(
    items: Iterable[RawRecord | Dropped], config: Config, stats: StageStats
) -> Iterator[dict]:
    """Docs of fetched records, extracted exactly as extract does (pipeline.extract
    .process_record), with ``source=expand``; every item is counted kept or dropped."""
    from pipeline.extract import process_or_drop

    for item in items:
        if isinstance(item, RawRecord):
            item = process_or_drop(item, config, source=SOURCE)
        if isinstance(item, Dropped):
            stats.drop(item.reason)
        else:
            stats.keep()
            yield item


def fingerprint(flt: IndexFilter, crawls: Iterable[str]) -> str:
    """What decides an index file's answer: the filter and the crawls (marker keys)."""
    payload = {
        "targets": [(t.kind, t.value) for t in flt.targets],
        "mimes": list(flt.mimes),
        "languages": list(flt.languages),
        "status": flt.status,
        "crawls": sorted(crawls),
    }
    return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
