"""Pretraining shards: zstd Parquet files of a target size, and the manifest that lists them.

Rows arrive in their final order (sorted by id, or by :func:`shuffle_key` for a deterministic
shuffle) and :class:`ShardWriter` cuts them into ``shard-00000.parquet``, ``shard-00001...``.
Boundaries depend only on the row sequence, so the same selection always gives byte-identical
shards. The manifest is ``_manifest.json`` beside them: the leading underscore makes every
common Parquet reader (pyarrow, pandas, Spark, DuckDB globs, polars, HF ``datasets``) skip it,
so the folder opens as one dataset.

This module knows the shard format, not where the bytes go: the writer and the manifest write
through an ``open_output(name)`` the caller gives (``infra.storage.folder_output`` or a run
folder's ``open_output``: atomic, so a reader or a crash never sees half a shard under a final
name), and :func:`verify_manifest` reads through any ``pyarrow.fs`` filesystem.

Size targets: ``target_rows > 0`` cuts exactly every ``target_rows`` rows; otherwise a shard is
closed at the first row-group boundary at or past ``target_bytes`` written. Row groups hold
about a quarter of the target in uncompressed text, so a shard overshoots by at most one
compressed row group (a few percent of the target for text).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import ExportConfig

# open_output(name): an atomic binary sink for ``name`` inside the shard folder
OpenOutput = Callable[[str], AbstractContextManager[BinaryIO]]

SHARD_NAME = "shard-{:05d}.parquet"
MANIFEST = "_manifest.json"
# run folders exported before the rename; read, and renamed by upgrade_legacy_manifest
LEGACY_MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

# The shard schema (README "Shard schema"); fixed by tests/test_shards.py.
SHARD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),  # doc_id(url, WARC payload digest): 16 hex chars
        ("url", pa.string()),
        ("text", pa.string()),  # the judged careful text (see text_source), math as $...$
        ("lang", pa.string()),
        ("math_score", pa.float64()),  # final classifier score; null if no selection ran
        ("token_count", pa.int64()),
        ("token_kind", pa.string()),  # "words" or "tokenizer:<name>"
        ("warc_path", pa.string()),
        ("warc_offset", pa.int64()),
        ("warc_date", pa.string()),
        ("formulas", pa.int32()),
        ("domain", pa.string()),
        # careful extractor's Extraction.source (careful, careful+fast, thread, ...), "fast"
        # (export.careful off) or fast_fallback:<reason> (no careful text could be made)
        ("text_source", pa.string()),
    ]
)
SHARD_COLUMNS = tuple(SHARD_SCHEMA.names)

_MAX_ROW_GROUP_ROWS = 50_000
_MAX_ROW_GROUP_BYTES = 64_000_000


def shuffle_key(seed: int, doc_id: str) -> int:
    """Sort key of a document in a deterministic shuffle: a signed 64-bit hash of (seed, id).

    Depends on nothing but the seed and the id, so the order is the same however the data is
    partitioned, on however many machines.
    """
    h = hashlib.blake2b(f"{seed}\0{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big", signed=True)


@dataclass
class ShardInfo:
    file: str  # name inside the shard folder
    rows: int
    tokens: int
    bytes: int
    sha256: str


def _estimate_bytes(row: Mapping[str, Any]) -> int:
    n = 64
    for v in row.values():
        if isinstance(v, str):
            n += len(v)
    return n


class _HashingSink:
    """A write-only file object in front of ``sink`` that counts and hashes what passes."""

    closed = False

    def __init__(self, sink: BinaryIO):
        self._sink = sink
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self._sha.update(data)
        self.size += len(data)
        return self._sink.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._sink.flush()

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


class ShardWriter:
    """Write rows (dicts with :data:`SHARD_COLUMNS`) in order into sized Parquet shards, each
    through ``open_output(name)``.

    Use as a context manager or call :meth:`close`; ``.shards`` lists the finished shards.
    Leaving the context on an error drops the shard in progress (its sink is left with the
    error, so nothing is published under its name); finished shards stay.
    """

    def __init__(
        self,
        open_output: OpenOutput,
        target_bytes: int = ExportConfig.shard_bytes,
        target_rows: int = ExportConfig.shard_rows,
        compression: str = ExportConfig.compression,
        schema: pa.Schema = SHARD_SCHEMA,
    ):
        if target_rows <= 0 and target_bytes <= 0:
            raise ValueError("set target_bytes or target_rows > 0")
        self.open_output = open_output
        self.target_bytes = target_bytes
        self.target_rows = target_rows
        self.compression = compression
        self.schema = schema
        if target_rows > 0:
            self._rg_rows, self._rg_bytes = min(target_rows, _MAX_ROW_GROUP_ROWS), 1 << 62
        else:
            self._rg_rows = _MAX_ROW_GROUP_ROWS
            self._rg_bytes = max(1, min(target_bytes // 4, _MAX_ROW_GROUP_BYTES))
        self.shards: list[ShardInfo] = []
        self._buf: list[Mapping[str, Any]] = []
        self._buf_bytes = 0
        self._writer: pq.ParquetWriter | None = None
        self._output: AbstractContextManager | None = None
        self._sink: _HashingSink | None = None
        self._rows = 0
        self._tokens = 0
        self._closed = False

    # --- public -----------------------------------------------------------------------
    def write(self, row: Mapping[str, Any]) -> None:
        self._buf.append(row)
        self._buf_bytes += _estimate_bytes(row)
        if len(self._buf) >= self._rg_rows or self._buf_bytes >= self._rg_bytes:
            self._flush()

    def write_many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for r in rows:
            self.write(r)

    def close(self) -> list[ShardInfo]:
        if not self._closed:
            self._flush()
            self._finish_shard()
            self._closed = True
        return self.shards

    def abort(self, error: BaseException | None = None) -> None:
        """Drop the shard in progress; finished shards stay."""
        output, self._output = self._output, None
        writer, self._writer = self._writer, None
        self._closed = True
        if output is None:
            return
        error = error or RuntimeError("shard writer aborted")
        try:
            if writer is not None:
                writer.close()
        finally:
            try:
                output.__exit__(type(error), error, error.__traceback__)
            except BaseException as e:  # the output re-raises the error it was given
                if e is not error:
                    raise

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(exc)

    # --- internals --------------------------------------------------------------------
    def _flush(self) -> None:
        while self._buf:
            if self._writer is None:
                self._open_shard()
            take = len(self._buf)
            if self.target_rows > 0:
                take = min(take, self.target_rows - self._rows)
            rows, self._buf = self._buf[:take], self._buf[take:]
            table = pa.Table.from_pylist(list(rows), schema=self.schema)
            self._writer.write_table(table, row_group_size=len(rows))
            self._rows += len(rows)
            self._tokens += sum(int(r.get("token_count") or 0) for r in rows)
            if self._shard_full():
                self._finish_shard()
        self._buf_bytes = 0

    def _shard_full(self) -> bool:
        if self.target_rows > 0:
            return self._rows >= self.target_rows
        return self._sink.tell() >= self.target_bytes

    def _open_shard(self) -> None:
        self._output = self.open_output(SHARD_NAME.format(len(self.shards)))
        self._sink = _HashingSink(self._output.__enter__())
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression=self.compression)
        self._rows = self._tokens = 0

    def _finish_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        output, self._output = self._output, None
        output.__exit__(None, None, None)  # publishes the shard under its final name
        name = SHARD_NAME.format(len(self.shards))
        sink = self._sink
        self.shards.append(ShardInfo(name, self._rows, self._tokens, sink.size, sink.hexdigest()))


def manifest_bytes(shards: list[ShardInfo], extra: Mapping[str, Any] | None = None) -> bytes:
    """The manifest listing every shard and the totals (JSON).

    ``extra`` adds top-level keys (token_kind, shuffle seed, ...); it cannot replace the lists.
    """
    manifest: dict[str, Any] = {"version": MANIFEST_VERSION}
    manifest.update(extra or {})
    manifest.update(
        {
            "schema": [{"name": f.name, "type": str(f.type)} for f in SHARD_SCHEMA],
            "shards": [asdict(s) for s in shards],
            "totals": {
                "shards": len(shards),
                "rows": sum(s.rows for s in shards),
                "tokens": sum(s.tokens for s in shards),
                "bytes": sum(s.bytes for s in shards),
            },
        }
    )
    return json.dumps(manifest, indent=2).encode()


def write_manifest(
    open_output: OpenOutput, shards: list[ShardInfo], extra: Mapping[str, Any] | None = None
) -> None:
    """Write :data:`MANIFEST` through ``open_output`` (write it after the shards: a shard
    folder without a manifest is an unfinished export)."""
    with open_output(MANIFEST) as f:
        f.write(manifest_bytes(shards, extra))


def _local(out_dir, filesystem):
    if filesystem is not None:
        return filesystem, str(out_dir).rstrip("/")
    from pyarrow.fs import LocalFileSystem

    return LocalFileSystem(), os.path.abspath(out_dir)


def read_manifest(out_dir: str | os.PathLike, filesystem=None) -> dict[str, Any] | None:
    """The shard folder's manifest (:data:`MANIFEST`, or an older folder's
    :data:`LEGACY_MANIFEST`), or None when there is none. ``filesystem``: a ``pyarrow.fs``
    filesystem holding ``out_dir`` (default: the local disk)."""
    fs, out = _local(out_dir, filesystem)
    for name in (MANIFEST, LEGACY_MANIFEST):
        try:
            with fs.open_input_stream(f"{out}/{name}") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            continue
    return None


def upgrade_legacy_manifest(out_dir: str | os.PathLike, filesystem=None) -> bool:
    """Rename an older folder's ``manifest.json`` to :data:`MANIFEST` (it sat among the shards,
    where Parquet readers took it for data); True if there was one."""
    from pyarrow.fs import FileType

    fs, out = _local(out_dir, filesystem)
    old, new = f"{out}/{LEGACY_MANIFEST}", f"{out}/{MANIFEST}"
    if fs.get_file_info(old).type != FileType.File:
        return False
    if fs.get_file_info(new).type != FileType.File:
        fs.copy_file(old, new)  # a copy, then the delete: object stores have no rename
    fs.delete_file(old)
    return True


def verify_manifest(out_dir: str | os.PathLike, filesystem=None) -> list[str]:
    """Problems found checking the manifest against the files (empty list = all good): every
    listed shard present with its sha256, size and row count, no unlisted ``shard-*`` file.
    ``filesystem``: a ``pyarrow.fs`` filesystem holding ``out_dir`` (default: the local disk).
    """
    from pyarrow.fs import FileSelector, FileType

    fs, out = _local(out_dir, filesystem)
    try:
        with fs.open_input_stream(f"{out}/{MANIFEST}") as f:
            manifest = json.loads(f.read())
    except (OSError, json.JSONDecodeError) as e:
        return [f"cannot read {out}/{MANIFEST}: {e}"]
    problems = []
    listed = set()
    for s in manifest.get("shards", []):
        listed.add(s["file"])
        p = f"{out}/{s['file']}"
        if fs.get_file_info(p).type != FileType.File:
            problems.append(f"{s['file']}: missing")
            continue
        sha, size = _sha256(fs, p)
        if sha != s["sha256"]:
            problems.append(f"{s['file']}: sha256 {sha} != manifest {s['sha256']}")
        if size != s["bytes"]:
            problems.append(f"{s['file']}: {size} bytes != manifest {s['bytes']}")
        try:
            rows = pq.ParquetFile(p, filesystem=fs).metadata.num_rows
        except (OSError, pa.ArrowInvalid) as e:
            problems.append(f"{s['file']}: not readable Parquet: {e}")
            continue
        if rows != s["rows"]:
            problems.append(f"{s['file']}: {rows} rows != manifest {s['rows']}")
    for info in fs.get_file_info(FileSelector(out, allow_not_found=True)):
        name = info.path.rsplit("/", 1)[-1]
        if name.startswith("shard-") and name.endswith(".parquet") and name not in listed:
            problems.append(f"{name}: on disk but not in the manifest")
    return problems


def _sha256(fs, path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with fs.open_input_stream(path) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
