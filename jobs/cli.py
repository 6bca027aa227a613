"""The ``mathmine`` command line. Each subcommand lives in its own ``jobs/*`` module that
exposes ``add_arguments(parser)`` and ``main(args) -> int``; this file only dispatches, and
gives every subcommand ``--config``/``--set`` after its own arguments (a module that sets
``CONFIG_ON_SUBPARSERS`` adds them to its own subcommands' parsers instead).

Errors the user can fix (:class:`pipeline.errors.UserError`) print one line and exit 2; a stage
whose every input failed (:class:`pipeline.errors.StageFailed`) prints one line and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sample": ("jobs.sample_job", "run the whole pipeline on the bundled WARC (Spark local mode)"),
    "run": ("jobs.run_job", "run every stage on WARC paths, listings or URIs into a run folder"),
    "extract": ("jobs.extract_job", "WARC files -> docs/ (text with math as LaTeX, lang, MinHash)"),
    "clean": ("jobs.clean_job", "math-safe quality rules over a run folder's docs"),
    "dedup": ("jobs.dedup_job", "exact URL/text dedup and MinHash-LSH near-dup clustering"),
    "recall": ("jobs.recall_job", "the DeepSeekMath recall loop: train, score, select, expand"),
    "expand": ("jobs.expand_job", "fetch the pages under accepted paths via Common Crawl's index"),
    "score": ("jobs.score_job", "score docs with a trained fastText math classifier"),
    "export": ("jobs.export_job", "decontaminate, count tokens, write zstd Parquet shards"),
    "html2text": ("jobs.html2text_cmd", "show what the extractor makes of HTML files (JSON lines)"),
    "explain": ("jobs.explain_cmd", "why one document of a run was kept or dropped"),
    "submit": ("jobs.submit_cmd", "submit a run to AWS EMR or Google Dataproc"),
}


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", metavar="FILE", help="YAML config (defaults: pipeline/defaults.yaml)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set dedup.threshold=0.7 (repeatable)",
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (all of them when None), so that
    ``mathmine sample`` does not pay for importing the cloud SDKs."""
    parser = argparse.ArgumentParser(
        prog="mathmine",
        description="Mine mathematical web pages out of Common Crawl WARC files into "
        "pretraining-ready Parquet shards.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if command is not None and name != command:
            sub.add_parser(name, help=help_text)
            continue
        mod = importlib.import_module(module)
        p = sub.add_parser(
            name,
            help=help_text,
            description=(mod.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        if not getattr(mod, "CONFIG_ON_SUBPARSERS", False):
            add_config_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pipeline.errors import StageFailed, UserError

    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args._module.main(args) or 0)
    except UserError as e:
        print(f"mathmine {args.command}: error: {e}", file=sys.stderr)
        return 2
    except StageFailed as e:
        print(f"mathmine {args.command}: failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"mathmine {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
