"""The ``--input`` arguments -> the list of WARC files (one Spark task each).

Local paths, folders (every *.warc / *.warc.gz inside) and glob patterns are expanded here;
Common Crawl ``warc.paths(.gz)`` listings, and reading any URI, are ``infra.storage``'s.
"""

from __future__ import annotations

import glob
import os
import random

from pipeline.config import IOConfig
from pipeline.errors import UserError

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


def is_listing(uri: str) -> bool:
    base = uri.rstrip("/").rsplit("/", 1)[-1]
    return base.endswith((".paths", ".paths.gz"))


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
    from infra.storage import expand_listing, is_remote

    io_cfg = io_cfg or IOConfig()
    out: list[str] = []
    for uri in uris:
        if is_remote(uri):
            out.extend(expand_listing(uri, io_cfg) if is_listing(uri) else [uri])
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
                out.extend(expand_listing(path, io_cfg))
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
