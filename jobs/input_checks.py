"""Checks of a stage command's input, run before Spark starts.

Spark meets a wrong input (a README given as Parquet, a table without ``text``) in its tasks and
answers with Java stack traces after a minute of start-up; these checks read what they need on
the driver (Parquet footers with pyarrow, the first bytes of a local WARC) and raise
:class:`UserError` with one line that says what was expected and what to pass instead.

Tables are checked on local paths, ``file://``, ``s3://`` and ``gs://`` (through the run
folder's filesystem, so the same io: settings apply).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable

from jobs.run_folder import RunFolder
from pipeline.errors import UserError

# Footers read per table: a table written by one of our stages has one schema in every file,
# and on an object store each footer is a request (docs/ of a crawl has one file per WARC).
# Spread over the sorted files, first and last included.
MAX_FOOTERS = 16
PARQUET_MAGIC = b"PAR1"
# The columns each stage cannot do without (the others it fills in when they are missing,
# e.g. dedup computes a missing minhash, recall counts words itself).
DOCS_COLUMNS = ("id", "url", "text")
DEDUP_INPUT_COLUMNS = ("id", "text")  # url and warc_date only order the URL step
KEEP_COLUMNS = ("id", "keep")
SELECTED_COLUMNS = ("id", "math_score")
# stage -> the run folder tables it reads: docs/ must hold Parquet, the others are read (and
# checked) when they hold files (clean/ is preferred to docs/ when present)
STAGE_TABLES = {
    "clean": ("docs",),
    "explain": ("docs",),
    "recall": ("docs", "clean", "dedup"),
    "score": ("docs", "clean", "dedup"),
    "export": ("docs", "clean", "dedup", "selected"),
}
TABLE_COLUMNS = {"dedup": KEEP_COLUMNS, "selected": SELECTED_COLUMNS}
# Bytes read of each local WARC: the gzip header and enough deflate data for "WARC/1.x"
WARC_HEAD_BYTES = 4096
# fastText's binary model files begin with this int32 (FASTTEXT_FILEFORMAT_MAGIC_INT32)
FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")


def _expected_types() -> dict:
    import pyarrow as pa

    from pipeline.records import docs_schema

    out = {f.name: f.type for f in docs_schema()}
    out.update(keep=pa.bool_(), math_score=pa.float64())
    return out


def _kind(t) -> str:
    """Type families Spark reads into the same column type (its casts cover the rest)."""
    import pyarrow.types as pt

    if pt.is_string(t) or pt.is_large_string(t):
        return "string"
    if pt.is_integer(t):
        return "integer"
    if pt.is_floating(t):
        return "number"
    if pt.is_boolean(t):
        return "boolean"
    if pt.is_list(t) or pt.is_large_list(t):
        return f"list of {_kind(t.value_type)}"
    return str(t)


def _compatible(expected, actual) -> bool:
    import pyarrow.types as pt

    want, got = _kind(expected), _kind(actual)
    # a column of nulls only is stored as type null; an integer score reads as a number
    return want == got or pt.is_null(actual) or (want == "number" and got == "integer")


def _locate(uri: str, io_cfg=None):
    """(pyarrow filesystem, path in it) of a local path or a file:// s3:// gs:// URI."""
    from pyarrow import fs as pafs

    if "://" not in uri or uri.startswith("file://"):
        path = os.path.abspath(os.path.expanduser(uri.removeprefix("file://")))
        return pafs.LocalFileSystem(), path
    run = RunFolder(uri, io_cfg)
    return run.fs, run.fs_path()


def _data_files(fs, path: str) -> list[str]:
    """Files Spark reads from a folder: not hidden, not ``_``-prefixed (``_SUCCESS``)."""
    from pyarrow.fs import FileSelector, FileType

    infos = fs.get_file_info(FileSelector(path, allow_not_found=True, recursive=True))
    out = []
    for i in infos:
        rel = i.path[len(path) :].strip("/").split("/")
        if i.type == FileType.File and not any(r.startswith((".", "_")) for r in rel):
            out.append(i.path)
    return sorted(out)


def _spread(items: list, k: int) -> list:
    if len(items) <= k:
        return items
    step = (len(items) - 1) / (k - 1)
    return [items[round(i * step)] for i in range(k)]


def _has_parquet_magic(fs, path: str) -> bool:
    size = fs.get_file_info(path).size or 0
    if size < 2 * len(PARQUET_MAGIC):
        return False
    with fs.open_input_file(path) as f:
        head = f.read(len(PARQUET_MAGIC))
        f.seek(size - len(PARQUET_MAGIC))
        return head == PARQUET_MAGIC and f.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def check_parquet_table(
    uri: str,
    columns: Iterable[str],
    expected: str,
    *,
    io_cfg=None,
    optional: bool = False,
) -> bool:
    """Refuse ``uri`` unless it is a Parquet file, or a folder of Parquet files, whose schema
    has ``columns`` (of the types docs/ and our tables use). ``expected`` completes the
    message: what the stage reads and how to get it. Returns False for a missing or empty
    table when ``optional`` (the stage then does without it), True when the table is fine."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow.fs import FileType

    fs, path = _locate(uri, io_cfg)
    info = fs.get_file_info(path)
    files = [path] if info.type == FileType.File else _data_files(fs, path)
    if not files:
        if optional:
            return False
        what = "does not exist" if info.type == FileType.NotFound else "holds no Parquet file"
        raise UserError(f"{uri!r} {what}; {expected}")
    for f in files:
        if not f.endswith(".parquet") and not _has_parquet_magic(fs, f):
            raise UserError(f"{f!r} is not a Parquet file; {expected}")
    types = _expected_types()
    for f in _spread(files, MAX_FOOTERS):
        try:
            schema = pq.read_schema(f, filesystem=fs)
        except (pa.ArrowInvalid, OSError) as e:
            raise UserError(f"{f!r} is not a readable Parquet file ({e}); {expected}") from None
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise UserError(
                f"{f!r} has no column {', '.join(missing)} (it has "
                f"{', '.join(schema.names[:8]) or 'none'}{' ...' if len(schema) > 8 else ''}); "
                f"{expected}"
            )
        for c in columns:
            want, got = types.get(c), schema.field(c).type
            if want is not None and not _compatible(want, got):
                raise UserError(f"{f!r}: column {c} is {got}, expected {_kind(want)}; {expected}")
    return True


def check_run_input(run: RunFolder, stage: str, text_columns: Iterable[str] = DOCS_COLUMNS):
    """The run folder tables ``stage`` reads (STAGE_TABLES): docs/ must be there with
    ``text_columns``, clean/ (same columns), dedup/ and selected/ are checked when they hold
    files. Every table the stage may read is checked, so which one it prefers does not matter."""
    if not run.exists():
        raise UserError(
            f"run folder {run.location!r} does not exist; pass --run DIR of a run made by "
            "`mathmine extract` or `mathmine run`"
        )
    for name in STAGE_TABLES[stage]:
        cols = tuple(TABLE_COLUMNS.get(name, text_columns))
        check_parquet_table(
            run.uri(name),
            cols,
            f"`mathmine {stage}` reads {name}/ of a run folder as Parquet with columns "
            f"{', '.join(cols)}; pass --run DIR of a run made by `mathmine extract` or "
            "`mathmine run` (or re-run the stage that writes it)",
            io_cfg=run.io_cfg,
            optional=name != "docs",
        )


def open_run(args, stage: str = ""):
    """The config (``--config``/``--set``) and ``--run`` folder of a stage command; with
    ``stage``, the tables it reads checked before Spark starts (a wrong table is one line, not
    stack traces)."""
    from pipeline.config import load_config

    config = load_config(args.config, args.overrides)
    run = RunFolder(args.run, config.io)
    if stage:
        check_run_input(run, stage)
    return config, run


def check_dedup_input(uri: str, previous_runs: Iterable[str], io_cfg=None) -> None:
    """``mathmine dedup --input``: a docs table; and the earlier runs it dedups against."""
    check_parquet_table(
        uri,
        DEDUP_INPUT_COLUMNS,
        "`mathmine dedup --input` reads a docs table: Parquet with columns "
        f"{', '.join(DEDUP_INPUT_COLUMNS)}, such as the docs/ or clean/ folder of a run",
        io_cfg=io_cfg,
    )
    for p in previous_runs:
        run = RunFolder(p, io_cfg)
        for name in ("docs", "clean"):
            check_parquet_table(
                run.uri(name),
                DEDUP_INPUT_COLUMNS,
                f"dedup.previous_runs: {p!r} must be a run folder whose {name}/ is Parquet with "
                f"columns {', '.join(DEDUP_INPUT_COLUMNS)}; pass run folders written by "
                "`mathmine run` (or remove the entry)",
                io_cfg=io_cfg,
                optional=name == "clean",
            )


def check_fasttext_model(path: str) -> None:
    """A local ``--model`` file is a fastText binary model (remote ones are fetched first)."""
    if "://" in path or not os.path.isfile(path):
        return  # run_score fetches remote models and names a missing one
    with open(path, "rb") as f:
        head = f.read(len(FASTTEXT_MAGIC))
    if head != FASTTEXT_MAGIC:
        raise UserError(
            f"model {path!r} is not a fastText binary model; pass a models/iter=N/model.bin "
            "of a run (written by `mathmine recall`)"
        )


def warc_problem(path: str) -> str:
    """Why the local file at ``path`` is not a WARC ('' when it starts like one).

    Only the head is looked at: a WARC broken further in is read record by record and its bad
    regions are counted (pipeline.warc), as are gzip members that fail to inflate."""
    try:
        with open(path, "rb") as f:
            head = f.read(WARC_HEAD_BYTES)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if not head:
        return ""  # an empty WARC: no records to read, nothing wrong
    if head[:2] == b"\x1f\x8b":
        try:
            text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64)
        except zlib.error:
            return ""  # a broken first member: pipeline.warc counts it and resyncs
        if not text:
            return ""  # an empty gzip member: an empty .warc.gz
    else:
        text = head[:64]
    if text.lstrip(b"\r\n").startswith(b"WARC/"):
        return ""
    kind = "gzip data" if head[:2] == b"\x1f\x8b" else "data"
    return f"is {kind} that does not start with a WARC record header (WARC/1.x)"


def check_warc_inputs(paths: list[str]) -> None:
    """Refuse a local input that is not a WARC file (remote ones are opened by their tasks:
    one request per WARC before Spark starts would cost more than a crawl's listing)."""
    from infra.storage import is_remote

    for p in paths:
        if is_remote(p):
            continue
        why = warc_problem(p)
        if why:
            raise UserError(
                f"input {p!r} {why}; pass WARC files (.warc, .warc.gz), folders of them or "
                "warc.paths listings"
            )
