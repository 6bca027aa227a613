"""Domain expansion: the pages under the recall loop's accepted URL paths that the run never
read, found in Common Crawl's columnar URL index and fetched one record at a time.

  mathmine expand --run DIR --crawl CC-MAIN-2024-22 [--crawl ...] [--index URI]
                  [--max-pages N] [--paths FILE] [--dry-run]

What to look for: the accepted prefixes of the run's latest recall iteration N
(models/iter=N/url_paths.tsv, ``accepted`` = yes), or --paths FILE: a url_paths.tsv of the
same shape, or a list with one host/path prefix (mathoverflow.net/questions), URL or
registered domain (every host under it) per line.

What it does:
  1. index: one Spark task per index file of the asked crawls (partition pruning: only
     crawl=<each>/subset=warc is listed), its row groups pruned by their url_surtkey min/max
     (the table is sorted by it), HTTP 200 HTML captures under a target kept (and, with
     expand.languages, those in a language of extract.langs);
  2. hits: the newest capture per URL, minus the URLs already in the run's docs/ (a doc id
     hashes its URL), the WARCs the run read and the hits of earlier expansions; at most
     --max-pages (a deterministic sample beyond)
     -> expand/iter=N/hits.parquet;
  3. fetch: the hits grouped by WARC file into Spark tasks, each record read by byte range
     (S3 or HTTPS Range requests through the storage layer: retries, throttling and broken
     transfers counted), extracted exactly like a WARC's records, written to
     docs/part-expand-<task>.parquet with source=expand.

stats.json gets the stage "expand": found, fetched, kept and dropped by reason, requests and
bytes of the index and of the fetches. A re-run fetches nothing new (completion markers per
index file and fetch task; hits of earlier runs are never fetched twice). The next `mathmine
clean`, `dedup` and `recall` (or `mathmine run --resume`: expand clears their markers) see the
new pages; recall makes the pages found from iteration N's paths positives of iteration N+1
(DeepSeekMath's rule) and scores them like every page.

--dry-run reads the index (its answer is kept under expand/iter=N/matched/, so the real run
does not read it again) and prints the query, the hits and the ranged reads the fetch would
make; it fetches nothing and writes no hits or docs.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass

from jobs.run_folder import RunFolder, write_in_batches
from pipeline.cc_index import CRAWL_RE, IndexFilter, Target
from pipeline.config import Config, IOConfig
from pipeline.errors import UserError
from pipeline.expand import FetchTask, Hit, index_filter
from pipeline.records import StageStats

STAGE = "expand"
INDEX_STAGE = "expand_index"
# stages whose outputs no longer cover docs/ once expand added pages: `run --resume` redoes them
LATER_STAGES = ("clean", "dedup", "recall", "export")
HIT_COLUMNS = (
    ("url", "string"),
    ("url_key", "string"),  # pipeline.urls.normalize_url(url): the dedup key
    ("target", "string"),
    ("crawl", "string"),
    ("fetch_time", "timestamp[ms, tz=UTC]"),
    ("content_languages", "string"),
    ("warc_filename", "string"),
    ("warc_record_offset", "int64"),
    ("warc_record_length", "int64"),
)


def hits_schema(with_task: bool = False):
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int64": pa.int64(),
        "timestamp[ms, tz=UTC]": pa.timestamp("ms", tz="UTC"),
    }
    fields = [(n, types[t]) for n, t in HIT_COLUMNS]
    if with_task:
        fields.append(("task", pa.string()))
    return pa.schema(fields)


def index_key(uri: str, fp: str) -> str:
    import hashlib

    return hashlib.sha1(f"{fp}\0{uri}".encode()).hexdigest()[:16]


# --- executors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexTask:
    """One index file -> its captures under the targets (expand/iter=N/matched/part-<key>)
    and a completion marker with the counters. Pickles the filter and two paths."""

    flt: IndexFilter
    io: IOConfig
    run_path: str
    iteration: int
    fp: str

    def __call__(self, partition):
        for _index, (crawl, uri) in partition:
            yield json.dumps(self.query_one(crawl, uri))

    def query_one(self, crawl: str, uri: str) -> dict:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from infra.index_files import open_index_file
        from pipeline.cc_index import query_index_file
        from pipeline.urls import normalize_url

        counters: dict = {"files": 1}
        run = RunFolder(self.run_path, self.io, counters)
        key = index_key(uri, self.fp)
        t0 = time.perf_counter()
        try:
            pf = open_index_file(uri, self.io, counters)
            rows = query_index_file(pf, self.flt, counters)
        except OSError as e:  # no marker: a re-run asks again
            return {"uri": uri, "error": f"cannot read index file {uri}: {e}", "counters": counters}
        for r in rows:
            r["crawl"] = crawl
            r["url_key"] = normalize_url(r["url"])
        table = pa.Table.from_pylist(rows, hits_schema())
        with run.open_output(*matched_parts(self.iteration), f"part-{key}.parquet") as f:
            pq.write_table(table, f, compression="zstd")
        counters["seconds"] = round(time.perf_counter() - t0, 3)
        result = {"uri": uri, "crawl": crawl, "counters": counters, "error": None}
        run.mark_done(INDEX_STAGE, result, key=key)
        return result


@dataclass(frozen=True)
class FetchRunner:
    """Fetch task -> docs/part-expand-<key>.parquet and a completion marker (stats)."""

    config: Config
    run_path: str
    warc_root: str

    def __call__(self, partition):
        for _index, task in partition:
            yield json.dumps(self.fetch_one(task))

    def ranged_items(self, task: FetchTask, counters: dict):
        """Each hit's record (or why not), fetched by the planned byte ranges."""
        from infra.storage import read_range
        from pipeline.expand import FETCH_FAILED, plan_ranges
        from pipeline.records import Dropped

        cfg = self.config
        for name, hits in task.groups:
            uri = self.warc_root + name
            for rng in plan_ranges(hits, cfg.expand.merge_gap_bytes):
                try:
                    data = read_range(uri, rng.start, rng.length, cfg.io, counters)
                except OSError as e:
                    for h in rng.hits:
                        yield Dropped(FETCH_FAILED, h.url, h.offset, f"{type(e).__name__}: {e}")
                    continue
                counters["requests"] = counters.get("requests", 0) + 1
                counters["bytes"] = counters.get("bytes", 0) + len(data)
                for h in rng.hits:
                    at = h.offset - rng.start
                    yield from_bytes(data[at : at + h.length], h, uri, cfg)

    def fetch_one(self, task: FetchTask) -> dict:
        import pyarrow.parquet as pq

        from pipeline.expand import extract_fetched
        from pipeline.records import docs_schema

        counters: dict = {}
        run = RunFolder(self.run_path, self.config.io, counters)
        stats = StageStats(STAGE)
        schema = docs_schema()
        t0 = time.perf_counter()
        with run.open_output("docs", f"part-expand-{task.key}.parquet") as sink:
            with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
                items = self.ranged_items(task, counters)
                write_in_batches(writer, extract_fetched(items, self.config, stats), schema)
        for k, v in counters.items():
            stats.add(k, v)
        stats.add("tasks", 1)
        stats.add("seconds", round(time.perf_counter() - t0, 3))
        result = {"task": task.key, "stats": stats.to_dict()}
        run.mark_done(STAGE, result, key=task.key)
        return result


def from_bytes(data: bytes, hit: Hit, uri: str, config: Config):
    from pipeline.expand import parse_fetched

    return parse_fetched(data, hit, uri, config.extract)


def matched_parts(iteration: int) -> tuple[str, ...]:
    return ("expand", f"iter={iteration}", "matched")


# --- driver ------------------------------------------------------------------------------------


def latest_iteration(run: RunFolder) -> int:
    """The highest N with models/iter=N/url_paths.tsv (0: no recall iteration yet)."""
    its = [
        int(n.split("=", 1)[1])
        for n in run.listdir("models")
        if n.startswith("iter=") and n.split("=", 1)[1].isdigit()
    ]
    its = [n for n in its if run.exists("models", f"iter={n}", "url_paths.tsv")]
    return max(its, default=0)


def read_targets(
    run: RunFolder, paths: str | None, io_cfg: IOConfig
) -> tuple[int, list[Target], str]:
    """(iteration N, targets, where they came from)."""
    from pipeline.expand import parse_targets

    n = latest_iteration(run)
    if paths:
        from infra.storage import read_bytes

        try:
            text = read_bytes(paths, io_cfg).decode("utf-8", "replace")
        except OSError as e:
            raise UserError(
                f"--paths {paths!r} cannot be read ({e}); pass a url_paths.tsv or a list"
            ) from None
        return n, parse_targets(text, f"--paths {paths}"), paths
    if n == 0:
        raise UserError(
            f"{run.location} has no models/iter=N/url_paths.tsv: run `mathmine recall --run "
            f"{run.location}` first, or pass --paths FILE (host/path prefixes, URLs or domains)"
        )
    tsv = ("models", f"iter={n}", "url_paths.tsv")
    text = run.read_bytes(*tsv).decode("utf-8", "replace")
    return n, parse_targets(text, "/".join(tsv)), run.uri(*tsv)


def scan_index(spark, run: RunFolder, config: Config, flt, files, iteration: int, fp: str) -> dict:
    """Run the index tasks not done yet; returns the merged counters of every file."""
    from jobs.progress import say, stage_progress

    keys = {uri: index_key(uri, fp) for _, uri in files}
    done = run.done_keys(INDEX_STAGE)
    todo = [(c, u) for c, u in files if keys[u] not in done]
    errors: list[str] = []
    if todo:
        task = IndexTask(flt, config.io, run.location, iteration, fp)
        rdd = spark.sparkContext.parallelize(list(enumerate(todo)), numSlices=len(todo))
        with stage_progress(spark, INDEX_STAGE) as fig:
            results = [json.loads(r) for r in rdd.mapPartitions(task).collect()]
        errors = [r["error"] for r in results if r.get("error")]
        say(f"[expand] index: {len(todo)} of {len(files)} files read in {fig['seconds']:.1f} s")
    else:
        say(f"[expand] index: all {len(files)} files read earlier, skipped")
    if errors:
        for e in errors:
            say(f"[expand] error: {e}")
        raise UserError(
            f"{len(errors)} index file(s) could not be read (see above); run again to retry them"
        )
    markers = run.read_markers(INDEX_STAGE, [keys[u] for _, u in files])
    total: dict = {}
    for m in markers.values():
        for k, v in m["counters"].items():
            total[k] = total.get(k, 0) + v
    return total


def run_url_keys(spark, run: RunFolder):
    """The normalised URL (``url_key``) of every doc of the run, as a DataFrame."""
    from jobs.docs_table import read_docs

    def keys(batches):
        import pyarrow as pa

        from pipeline.urls import normalize_url

        for b in batches:
            urls = b.column("url").to_pylist()
            yield pa.RecordBatch.from_arrays(
                [pa.array([normalize_url(u or "") for u in urls], pa.string())], names=["url_key"]
            )

    return read_docs(spark, run.uri("docs")).select("url").mapInArrow(keys, "url_key string")


def select_hits(spark, run: RunFolder, config: Config, files, fp: str, iteration, max_pages):
    """The new hits (newest capture per URL, not in the run nor fetched before, capped) as
    a list of dicts, and the counts of what was left out."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    uris = [
        run.uri(*matched_parts(iteration), f"part-{index_key(u, fp)}.parquet") for _, u in files
    ]
    matched = spark.read.parquet(*uris)
    counts: dict[str, int] = {}
    n_matched = matched.count()
    order = Window.partitionBy("url_key").orderBy(
        F.col("fetch_time").desc_nulls_last(),
        F.col("crawl").desc(),
        "warc_filename",
        "warc_record_offset",
    )
    newest = matched.withColumn("_n", F.row_number().over(order)).where("_n = 1").drop("_n")
    newest = newest.persist()
    n_newest = newest.count()
    counts["older_capture"] = n_matched - n_newest

    # already in the run: its docs' URLs (a doc id hashes the URL and the payload digest, so
    # the URL covers every id of it) and the WARCs it read
    cur = newest
    if run.has_parquet("docs"):
        keys = run_url_keys(spark, run).distinct()
        cur = cur.join(keys, "url_key", "left_anti")
    read = sorted(
        {u.rstrip("/").rsplit("/", 1)[-1] for u in (run.read_run() or {}).get("inputs", [])}
    )
    if read:
        names = spark.createDataFrame([(n,) for n in read], "_name string")
        cur = cur.withColumn("_name", F.element_at(F.split("warc_filename", "/"), -1))
        cur = cur.join(F.broadcast(names), "_name", "left_anti").drop("_name")
    cur = cur.persist()
    n_new = cur.count()
    counts["in_run"] = n_newest - n_new

    # hits of earlier expansions (any iteration): fetched, or pending in their own tasks
    previous = previous_hit_uris(run)
    if previous:
        seen = spark.read.parquet(*previous).select("url_key").distinct()
        cur = cur.join(seen, "url_key", "left_anti")
    n_unseen = cur.count()
    counts["seen"] = n_new - n_unseen
    if max_pages and n_unseen > max_pages:
        # a deterministic sample: the same hits on every run of the same query
        cur = cur.orderBy(F.xxhash64("url_key"), "url_key").limit(max_pages)
    # timestamps travel as epoch milliseconds: PySpark would turn them into naive datetimes
    # of the driver's local time zone
    cur = cur.withColumn("_ms", F.unix_millis("fetch_time")).drop("fetch_time")
    rows = []
    for r in cur.collect():
        d = r.asDict()
        ms = d.pop("_ms")
        d["fetch_time"] = None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        rows.append(d)
    counts["max_pages"] = n_unseen - len(rows)
    newest.unpersist()
    return sorted(rows, key=lambda r: (r["warc_filename"], r["warc_record_offset"])), counts


def previous_hit_uris(run: RunFolder) -> list[str]:
    return [
        run.uri("expand", it, "hits.parquet")
        for it in run.listdir("expand")
        if it.startswith("iter=") and run.exists("expand", it, "hits.parquet")
    ]


def to_hit(row: dict) -> Hit:
    return Hit(
        row["url"],
        row["warc_filename"],
        int(row["warc_record_offset"]),
        int(row["warc_record_length"]),
    )


def write_hits(run: RunFolder, iteration: int, rows: list[dict]) -> int:
    """expand/iter=N/hits.parquet: the earlier hits of iteration N and the new ones; returns
    how many it holds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = hits_schema(with_task=True)
    parts = ("expand", f"iter={iteration}", "hits.parquet")
    old = read_hits(run, iteration)
    table = pa.Table.from_pylist(old + rows, schema)
    with run.open_output(*parts) as f:
        pq.write_table(table, f, compression="zstd")
    return table.num_rows


def read_hits(run: RunFolder, iteration: int) -> list[dict]:
    import io

    import pyarrow.parquet as pq

    parts = ("expand", f"iter={iteration}", "hits.parquet")
    if not run.exists(*parts):
        return []
    return pq.read_table(io.BytesIO(run.read_bytes(*parts))).to_pylist()


def pending_tasks(run: RunFolder, iteration: int) -> list[FetchTask]:
    """Tasks of earlier runs of iteration N whose fetch never finished (a crash)."""
    done = run.done_keys(STAGE)
    by_task: dict[str, list[Hit]] = {}
    for r in read_hits(run, iteration):
        if r.get("task") and r["task"] not in done:
            by_task.setdefault(r["task"], []).append(to_hit(r))
    out = []
    for key, hits in sorted(by_task.items()):
        groups: dict[str, list[Hit]] = {}
        for h in hits:
            groups.setdefault(h.warc_filename, []).append(h)
        out.append(FetchTask(key, sorted(groups.items())))
    return out


def fetch(spark, run: RunFolder, config: Config, tasks: list[FetchTask], warc_root: str) -> None:
    from jobs.progress import say, stage_progress

    if not tasks:
        return
    rdd = spark.sparkContext.parallelize(list(enumerate(tasks)), numSlices=len(tasks))
    with stage_progress(spark, STAGE) as fig:
        rdd.mapPartitions(FetchRunner(config, run.location, warc_root)).collect()
    n = sum(t.size() for t in tasks)
    say(f"[expand] fetched {n:,} records in {len(tasks)} tasks, {fig['seconds']:.1f} s")


def merged_stats(run: RunFolder) -> StageStats:
    keys = sorted(run.done_keys(STAGE))
    merged = StageStats(STAGE)
    for m in run.read_markers(STAGE, keys).values():
        merged = merged + StageStats.from_dict(STAGE, m["stats"])
    return merged


def check_crawls(crawls: list[str]) -> None:
    bad = [c for c in crawls if not CRAWL_RE.match(c)]
    if bad or not crawls:
        raise UserError(
            f"--crawl {bad[0] if bad else ''!r}: name a crawl as CC-MAIN-YYYY-WW "
            "(e.g. CC-MAIN-2024-22; https://index.commoncrawl.org/ lists them)"
        )


def run_expand(
    spark,
    run: RunFolder,
    config: Config,
    crawls: list[str],
    paths: str | None = None,
    max_pages: int | None = None,
    dry_run: bool = False,
    index: str | None = None,
    warc_root: str | None = None,
) -> dict:
    """Expand ``run`` from the index of ``crawls``; returns the stage's stats (and writes them)."""
    from infra.index_files import data_root, index_files
    from jobs.progress import say
    from pipeline.expand import count_requests, describe_query, fingerprint, plan_tasks

    check_crawls(crawls)
    index = index or config.expand.index
    root = warc_root or config.expand.warc_root or data_root(index)
    root = root if root.endswith("/") else root + "/"
    max_pages = config.expand.max_pages if max_pages is None else max_pages
    iteration, targets, origin = read_targets(run, paths, config.io)
    flt = index_filter(config, targets)
    say(f"[expand] {len(targets)} targets from {origin} (iteration {iteration})")
    if not targets:
        say("[expand] no accepted path: nothing to look for (edit the accepted column, --paths)")
        return {}
    fp = fingerprint(flt, crawls)
    files = index_files(index, crawls, config.io)
    say(f"[expand] {len(files)} index files of {', '.join(crawls)} under {index}")
    t0 = time.perf_counter()
    index_counts = scan_index(spark, run, config, flt, files, iteration, fp)
    rows, left_out = select_hits(spark, run, config, files, fp, iteration, max_pages)
    hits = [to_hit(r) for r in rows]
    tasks = plan_tasks(hits, config.expand.records_per_task, iteration)
    n_req, n_bytes = count_requests(tasks, config.expand.merge_gap_bytes)
    dropped = {k: index_counts.pop(k, 0) for k in ("not_200", "not_html", "other_lang")}
    query = {
        "iteration": iteration,
        "targets": len(targets),
        "targets_from": origin,
        "crawls": list(crawls),
        "index": index,
        "index_files": len(files),
        "scan": index_counts,  # requests, bytes, row groups read of all, rows scanned, matched
        "dropped": {**dropped, **left_out},  # captures under a target that are not hits
        "found": len(hits),  # new hits of this run
        "planned_requests": n_req,
        "planned_bytes": n_bytes,
        "tasks": len(tasks),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if dry_run:
        print(describe_query(flt, crawls, index))
        print(json.dumps(query, indent=2))
        say(
            f"[expand] dry run: {len(hits):,} pages to fetch with {n_req:,} ranged reads "
            f"({n_bytes / 1e6:.1f} MB) in {len(tasks)} tasks; nothing fetched"
        )
        return query
    task_of = {(h.warc_filename, h.offset): t.key for t in tasks for _, hs in t.groups for h in hs}
    for r in rows:
        r["task"] = task_of[(r["warc_filename"], int(r["warc_record_offset"]))]
    query["hits_total"] = write_hits(run, iteration, rows)
    todo = pending_tasks(run, iteration)
    fetch(spark, run, config, todo, root)
    run.write_json(f"expand/iter={iteration}/query.json", query)
    return record_stats(run, iteration, query, added=bool(todo))


def record_stats(run: RunFolder, iteration: int, query: dict, added: bool) -> dict:
    """stats.json "expand": the fetches of every expansion so far (they reconcile:
    records_read = kept + dropped), the index figures per iteration, the latest query."""
    from jobs.progress import say

    merged = merged_stats(run)
    out = merged.to_dict()
    by_iter = {}
    for it in run.listdir("expand"):
        if it.startswith("iter=") and run.exists("expand", it, "query.json"):
            by_iter[it] = json.loads(run.read_bytes("expand", it, "query.json"))
    out["found"] = sum(q.get("hits_total", 0) for q in by_iter.values())
    out["fetched"] = merged.records_read
    for k in ("requests", "bytes"):
        out[f"index_{k}"] = sum(q["scan"].get(f"index_{k}", 0) for q in by_iter.values())
    out["iterations"] = by_iter
    run.update_stats(STAGE, out)
    if added:
        for stage in LATER_STAGES:
            run.clear_stage(stage)
        say(
            f"[expand] next: mathmine clean, dedup and recall --run {run.location} (or `mathmine "
            "run ... --resume`): recall makes the new pages positives of the next iteration"
        )
    say(
        f"[expand] iteration {iteration}: found {query['found']:,} new pages; all expansions: "
        f"fetched {merged.records_read:,}, kept {merged.kept:,}, dropped "
        f"{dict(merged.dropped)}; {out.get('requests', 0):,} ranged reads, "
        f"{out.get('bytes', 0) / 1e6:.1f} MB"
    )
    return out


def add_arguments(p) -> None:
    p.add_argument("--run", required=True, metavar="DIR", help="the run folder to expand")
    p.add_argument(
        "--crawl",
        action="append",
        required=True,
        metavar="CC-MAIN-YYYY-WW",
        help="a crawl to look in (repeatable; the newest capture of a URL over all wins)",
    )
    p.add_argument(
        "--index",
        metavar="URI",
        help="the columnar index's table root (default expand.index: "
        "s3://commoncrawl/cc-index/table/cc-main/warc/; outside AWS "
        "https://data.commoncrawl.org/cc-index/table/cc-main/warc/)",
    )
    p.add_argument(
        "--warc-root",
        metavar="URI",
        help="where the index's warc_filename paths are (default: the index's root)",
    )
    p.add_argument(
        "--max-pages", type=int, metavar="N", help="fetch at most N pages (expand.max_pages)"
    )
    p.add_argument(
        "--paths",
        metavar="FILE",
        help="what to look for instead of the latest iteration's accepted paths: a "
        "url_paths.tsv (accepted column) or one host/path prefix, URL or domain per line",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="read the index and print the query, the hits and the ranged reads; fetch nothing",
    )


def main(args) -> int:
    from jobs.input_checks import open_run
    from jobs.session import get_spark

    config, run = open_run(args)
    if run.read_run() is None:
        raise UserError(f"{run.location!r} is not a mathmine run folder; pass one with --run")
    if args.max_pages is not None and args.max_pages < 0:
        raise UserError("--max-pages must be >= 0 (0: no limit)")
    check_crawls(args.crawl)
    read_targets(run, args.paths, config.io)  # a missing or malformed --paths fails here
    spark = get_spark(config.spark, app_name="mathmine-expand")
    try:
        run_expand(
            spark,
            run,
            config,
            args.crawl,
            paths=args.paths,
            max_pages=args.max_pages,
            dry_run=args.dry_run,
            index=args.index,
            warc_root=args.warc_root,
        )
    finally:
        spark.stop()
    return 0
