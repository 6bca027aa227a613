"""Run every stage on WARC inputs into one run folder: extract, clean, dedup, recall, export.

A run folder belongs to one run (inputs + resolved config). Running again on the same folder
resumes: finished WARCs and stages are skipped, and no row is ever written twice.
"""

from __future__ import annotations

import importlib
import time

from jobs.progress import say
from jobs.run_folder import RunFolder
from pipeline.config import Config, load_config

# stage -> (module, function); each function is run_<stage>(spark, run, config) -> stats dict
LATER_STAGES = (
    ("clean", "jobs.clean_job", "run_clean"),
    ("dedup", "jobs.dedup_job", "run_dedup"),
    ("recall", "jobs.recall_job", "run_recall"),
    ("export", "jobs.export_job", "run_export"),
)


def run_pipeline(spark, run: RunFolder, config: Config, inputs: list[str]) -> dict:
    """All stages in order; returns {stage: stats}. Stages already marked done are skipped."""
    from jobs.extract_job import run_extract

    t0 = time.perf_counter()
    results: dict = {}
    if run.is_done("extract"):
        say("[extract] done earlier, skipped")
        results["extract"] = run.read_json("stats.json", {}).get("extract", {})
    else:
        results["extract"] = run_extract(spark, run, config, inputs)
        run.mark_done("extract")
    for stage, module, func in LATER_STAGES:
        if stage == "clean" and not config.clean.enabled:
            continue
        if run.is_done(stage):
            say(f"[{stage}] done earlier, skipped")
            results[stage] = run.read_json("stats.json", {}).get(stage, {})
            continue
        t = time.perf_counter()
        say(f"[{stage}] starting")
        fn = getattr(importlib.import_module(module), func)
        results[stage] = fn(spark, run, config)
        run.mark_done(stage)
        say(f"[{stage}] finished in {time.perf_counter() - t:.1f} s")
    if run.is_done("export") and "ledger" not in run.read_json("stats.json", {}):
        from jobs.ledger_job import run_ledger  # a run folder exported before the ledger

        run_ledger(spark, run)
    results["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return results


def summary_lines(run: RunFolder, results: dict) -> list[str]:
    ex = results.get("extract", {})
    lines = [f"run folder: {run.location}"]
    lines.append(
        f"records read {ex.get('records_read', 0):,}, HTML pages {ex.get('html_pages', 0):,}, "
        f"kept by extract {ex.get('kept', 0):,} ({ex.get('records_per_s_per_core', 0)} records/s"
        f", {ex.get('html_pages_per_s_per_core', 0)} HTML pages/s per core)"
    )
    for stage, *_ in LATER_STAGES:
        st = results.get(stage)
        if st:
            line = f"{stage}: in {st.get('records_read', 0):,}, kept {st.get('kept', 0):,}"
            if st.get("text_source"):
                line += f"; text_source {st['text_source']}"
            lines.append(line)
    from pipeline.shards import read_manifest

    manifest = read_manifest(run.fs_path("shards"), run.fs)
    if manifest:
        totals = manifest.get("totals", {})
        lines.append(
            f"shards: {totals.get('shards', len(manifest.get('shards', [])))} files, "
            f"{totals.get('rows', 0):,} docs, {totals.get('tokens', 0):,} "
            f"{manifest.get('token_kind', 'tokens')} in {run.uri('shards')}"
        )
    from pipeline.ledger import format_ledger

    lines += format_ledger(run.read_json("stats.json", {}).get("ledger") or {})
    lines.append(f"wall time {results.get('wall_seconds', 0)} s")
    return lines


def add_arguments(p) -> None:
    from jobs.inputs import add_input_arguments

    add_input_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="the run folder")
    p.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run in --out (same inputs and config)",
    )
    p.add_argument(
        "--master",
        help="Spark master, e.g. local[4] or spark://host:7077 (same as --set spark.master=...)",
    )


def execute(
    inputs_args: list[str],
    out: str,
    config: Config,
    command: str,
    limit=None,
    sample_fraction=None,
    resume: bool = True,
) -> dict:
    from jobs.input_checks import check_warc_inputs
    from jobs.inputs import expand_inputs
    from jobs.session import get_spark
    from pipeline.errors import UserError

    inputs = expand_inputs(inputs_args, config.io, limit, sample_fraction)
    check_warc_inputs(inputs)
    run = RunFolder(out, config.io)
    existed = run.read_run() is not None
    run.claim(inputs, config, command)
    if existed and not resume:
        raise UserError(
            f"run folder {run.location!r} already holds this run; pass --resume to finish or "
            "re-use it, or a new --out folder"
        )
    say(f"[{command}] {len(inputs)} WARC file(s) -> {run.location}")
    spark = get_spark(config.spark)
    try:
        results = run_pipeline(spark, run, config, inputs)
    finally:
        spark.stop()
    for line in summary_lines(run, results):
        print(line)
    return results


def main(args) -> int:
    overrides = list(args.overrides)
    if args.master:
        overrides.append(f"spark.master={args.master}")
    config = load_config(args.config, overrides)
    execute(args.input, args.out, config, "run", args.limit, args.sample_fraction, args.resume)
    return 0
