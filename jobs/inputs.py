"""Input URIs -> the list of WARC files (one Spark task each), and opening one for reading.

Local paths, folders (every *.warc / *.warc.gz inside), glob patterns, and Common Crawl
``warc.paths(.gz)`` listings are expanded here; ``s3://``, ``gs://`` and ``https://`` are opened
and listed by ``infra.storage``.
"""

from __future__ import annotations

import glob
import gzip
import os
import random
from typing import BinaryIO

from pipeline.config import IOConfig
from pipeline.errors import UserError

REMOTE_SCHEMES = ("s3://", "s3a://", "gs://", "http://", "https://")
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz")


def add_input_arguments(p) -> None:
    """--input, --limit and --sample-fraction, shared by the commands that read WARCs."""
    p.add_argument(
        "--input",
        nargs="+",
        required=True,
        metavar="URI",
        help="WARC files, folders, globs, warc.paths(.gz) listings, s3:// gs:// https://",
    )
    p.add_argument("--limit", type=int, help="only the first N WARCs of the inputs")
    p.add_argument("--sample-fraction", type=float, help="a random share of the WARCs")


def is_remote(uri: str) -> bool:
    return uri.startswith(REMOTE_SCHEMES)


def is_listing(uri: str) -> bool:
    base = uri.rstrip("/").rsplit("/", 1)[-1]
    return base.endswith((".paths", ".paths.gz"))


def _local_listing(path: str, io_cfg: IOConfig) -> list[str]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    return [ln if "://" in ln or os.path.isabs(ln) else io_cfg.https_prefix + ln for ln in lines]


def expand_inputs(
    uris: list[str],
    io_cfg: IOConfig | None = None,
    limit: int | None = None,
    sample_fraction: float | None = None,
    seed: int = 1,
) -> list[str]:
    """Every WARC named by ``uris``, in order, without duplicates.

    A local path that does not exist is a UserError that names it.
    """
    io_cfg = io_cfg or IOConfig()
    out: list[str] = []
    for uri in uris:
        if is_remote(uri):
            if is_listing(uri):
                from infra.storage import expand_listing

                out.extend(expand_listing(uri, io_cfg))
            else:
                out.append(uri)
            continue
        path = os.path.expanduser(uri)
        if any(c in path for c in "*?["):
            matches = sorted(glob.glob(path))
            if not matches:
                raise UserError(f"no file matches {uri!r}; check the pattern")
            out.extend(os.path.abspath(m) for m in matches)
        elif os.path.isdir(path):
            found = sorted(
                os.path.join(root, f)
                for root, _, files in os.walk(path)
                for f in files
                if f.endswith(WARC_SUFFIXES)
            )
            if not found:
                raise UserError(f"folder {uri!r} holds no .warc or .warc.gz file")
            out.extend(os.path.abspath(f) for f in found)
        elif os.path.isfile(path):
            if is_listing(path):
                out.extend(_local_listing(path, io_cfg))
            else:
                out.append(os.path.abspath(path))
        else:
            raise UserError(f"input {uri!r} does not exist; pass a WARC file, folder or listing")
    seen: set[str] = set()
    unique = [u for u in out if not (u in seen or seen.add(u))]
    if sample_fraction is not None:
        if not 0 < sample_fraction <= 1:
            raise UserError(f"--sample-fraction must be in (0, 1], got {sample_fraction}")
        rng = random.Random(seed)
        unique = [u for u in unique if rng.random() < sample_fraction]
    if limit is not None:
        unique = unique[:limit]
    if not unique:
        raise UserError("no input WARC files; pass at least one with --input")
    return unique


def open_input(uri: str, io_cfg: IOConfig | None = None, counters: dict | None = None) -> BinaryIO:
    """A binary stream of the file at ``uri`` (local or remote)."""
    io_cfg = io_cfg or IOConfig()
    if is_remote(uri):
        from infra.storage import open_uri

        return open_uri(uri, io_cfg, counters)
    return open(uri, "rb")
