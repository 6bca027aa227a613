"""Run the whole pipeline on the bundled real WARC (or the WARCs given) in Spark local mode.

Writes a run folder (default out/sample/) with docs/, dedup/, scores/, models/ and
pretraining-ready Parquet shards of the math pages found, and prints a summary. Running it
again on the same folder re-uses what is finished.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config import load_config

SAMPLE_WARC = Path(__file__).resolve().parent.parent / "sample" / "sample.warc.gz"


def add_arguments(p) -> None:
    p.add_argument(
        "warcs",
        nargs="*",
        metavar="WARC",
        help=f"WARC files to run on (default: the bundled {SAMPLE_WARC.name})",
    )
    p.add_argument(
        "--out", default="out/sample", metavar="DIR", help="run folder (default: out/sample)"
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="delete --out first if it is a sample run folder, and start over",
    )


def main(args) -> int:
    from jobs.run_folder import RunFolder, remove_run_folder
    from jobs.run_job import execute
    from pipeline.errors import UserError

    warcs = args.warcs or [str(SAMPLE_WARC)]
    if not args.warcs and not SAMPLE_WARC.exists():
        raise UserError(f"the bundled sample WARC {SAMPLE_WARC} is missing; re-clone the repo")
    config = load_config(args.config, args.overrides)
    if args.fresh:
        run = RunFolder(args.out)
        if run.read_run() is not None:
            remove_run_folder(run)
    execute(warcs, args.out, config, "sample", resume=True)
    return 0
