"""WARC files -> docs/ of a run folder: one Spark task per WARC, streamed.

Each task writes its WARC's docs to ``docs/part-<key>.parquet`` (locally a temp file, then
rename; on an object store the final key, written once complete) and a
completion marker with its counters; a re-run skips WARCs whose marker exists, and a retried
task simply rewrites its own file, so rows are never duplicated.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from jobs.run_folder import RunFolder, write_in_batches
from pipeline.config import Config, load_config
from pipeline.errors import StageFailed
from pipeline.records import BAD_RECORD, UNREADABLE_FILE, StageStats

STAGE = "extract"


def task_key(warc_path: str) -> str:
    return hashlib.sha1(warc_path.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ExtractTask:
    """Runs on an executor: pickles only the config and the run folder path."""

    config: Config
    run_path: str

    def __call__(self, partition):
        for _index, warc_path in partition:
            yield self.extract_one(warc_path)

    def extract_one(self, warc_path: str) -> dict:
        import pyarrow.parquet as pq

        from infra.storage import open_uri
        from pipeline.extract import extract_warc
        from pipeline.records import docs_schema

        counters: dict = {}  # io_* retries of the WARC read and of the docs write
        run = RunFolder(self.run_path, self.config.io, counters)
        key = task_key(warc_path)
        stats = StageStats(STAGE)
        schema = docs_schema()
        error = None
        t0 = time.perf_counter()
        # open_output: a local temp file renamed at the end, or on an object store the final
        # key written once the writer succeeded (a PUT is atomic); a retried task rewrites it
        with run.open_output("docs", f"part-{key}.parquet") as sink:
            with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
                try:
                    stream = open_uri(warc_path, self.config.io, counters)
                except OSError as e:
                    error = f"cannot open {warc_path}: {e}"
                    stats.drop(UNREADABLE_FILE)
                    stream = None
                if stream is not None:
                    with stream:
                        docs = extract_warc(stream, warc_path, self.config, stats)
                        write_in_batches(writer, docs, schema)
        for k, v in counters.items():
            if isinstance(v, (int, float)):
                stats.add(k, v)
        stats.add("files", 1)
        stats.add("seconds", time.perf_counter() - t0)
        result = {
            "warc_path": warc_path,
            "stats": stats.to_dict(),
            "error": error,
            "peak_rss_mb": _peak_rss_mb(),
        }
        run.mark_done(STAGE, result, key=key)
        return result


def _peak_rss_mb() -> float:
    """Peak resident memory of this Python worker so far (Linux reports KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_extract(spark, run: RunFolder, config: Config, inputs: list[str]) -> dict:
    """Extract every WARC in ``inputs`` that has no completion marker yet; returns the merged
    stats of all inputs (finished earlier or now) and writes them to stats.json."""
    from jobs.progress import say, stage_progress

    done = run.done_keys(STAGE)
    todo = [p for p in inputs if task_key(p) not in done]
    if len(todo) < len(inputs):
        say(f"[extract] {len(inputs) - len(todo)} of {len(inputs)} WARCs already done, skipped")
    if todo:
        sc = spark.sparkContext
        rdd = sc.parallelize(list(enumerate(todo)), numSlices=len(todo))
        with stage_progress(spark, STAGE) as fig:
            rdd.mapPartitions(ExtractTask(config, run.location)).collect()
        say(f"[extract] {len(todo)} WARCs in {fig['seconds']:.1f} s")
    markers = run.read_markers(STAGE, [task_key(p) for p in inputs])
    merged = StageStats(STAGE)
    errors = []
    for p in inputs:
        res = markers[task_key(p)]
        merged = merged + StageStats.from_dict(STAGE, res["stats"])
        if res.get("error"):
            errors.append(res["error"])
    out = merged.to_dict()
    secs = out.get("seconds", 0) or 1e-9  # summed over tasks, one core each
    # a Common Crawl WARC holds a request and a metadata record per response: records/s runs
    # ~3x the rate of HTML pages, so each has its own name
    out["records_per_s_per_core"] = round(merged.records_read / secs, 1)
    out["html_pages_per_s_per_core"] = round(out.get("html_pages", 0) / secs, 1)
    out["unreadable_files"] = errors
    out["peak_rss_mb_max"] = max((m.get("peak_rss_mb", 0) for m in markers.values()), default=0)
    run.update_stats(STAGE, out)
    say(
        f"[extract] records {merged.records_read:,}: kept {merged.kept:,}, "
        f"dropped {sum(merged.dropped.values()):,} {dict(merged.dropped)}; "
        f"{out['records_per_s_per_core']} records/s, {out['html_pages_per_s_per_core']} HTML "
        "pages/s per core"
    )
    for e in errors:
        say(f"[extract] warning: {e}")
    failed = merged.dropped.get(BAD_RECORD, 0) + merged.dropped.get(UNREADABLE_FILE, 0)
    if failed and not merged.kept:
        # Nothing kept and records failed: a broken install (every page raising) or inputs
        # that are not WARCs, not a crawl without math. Exit non-zero instead of handing the
        # later stages an empty table, and forget the WARCs so a re-run after the fix redoes them.
        run.delete("_markers", STAGE)
        first = errors[0] if errors else first_failure(inputs, config)
        raise StageFailed(
            f"no document extracted from {len(inputs)} WARC file(s): {failed:,} of "
            f"{merged.records_read:,} records failed ({dict(merged.dropped)}); first error: "
            f"{first or 'unknown'}; check that the inputs are WARC files and that the installed "
            "packages meet pyproject.toml (`pip check`), then run again"
        )
    return out


def first_failure(inputs: list[str], config: Config, max_records: int = 10_000) -> str:
    """The error behind the first failed record of ``inputs``, found again on the driver (the
    stats count reasons, not messages). Called only when every record failed."""
    from infra.storage import open_uri
    from pipeline.extract import process_record
    from pipeline.records import Dropped
    from pipeline.warc import iter_records

    for path in inputs:
        try:
            stream = open_uri(path, config.io)
        except OSError as e:
            return f"cannot open {path}: {e}"
        with stream:
            records = iter_records(stream, path, config.extract)
            for item, _ in zip(records, range(max_records)):
                if isinstance(item, Dropped):
                    if item.reason == BAD_RECORD:
                        return f"{path} at byte {item.warc_offset}: {item.detail}"
                    continue
                try:
                    out = process_record(item, config)
                except Exception as e:  # what extract_warc counted as bad_record
                    return f"{item.url}: {type(e).__name__}: {e}"
                if isinstance(out, Dropped) and out.reason == BAD_RECORD:
                    return f"{item.url}: {out.detail}"
    return ""


def add_arguments(p) -> None:
    from jobs.inputs import add_input_arguments

    add_input_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="run folder to write docs/ into")


def main(args) -> int:
    from jobs.input_checks import check_warc_inputs
    from jobs.inputs import expand_inputs
    from jobs.session import get_spark

    config = load_config(args.config, args.overrides)
    inputs = expand_inputs(args.input, config.io, args.limit, args.sample_fraction)
    check_warc_inputs(inputs)
    run = RunFolder(args.out, config.io)
    run.claim(inputs, config, "extract")
    spark = get_spark(config.spark)
    try:
        run_extract(spark, run, config, inputs)
    finally:
        spark.stop()
    return 0
