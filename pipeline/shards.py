"""Pretraining shards: zstd Parquet files of a target size, and the manifest that lists them.

Rows arrive in their final order (sorted by id, or by :func:`shuffle_key` for a deterministic
shuffle) and :class:`ShardWriter` cuts them into ``shard-00000.parquet``, ``shard-00001...``.
Boundaries depend only on the row sequence, so the same selection always gives byte-identical
shards. Each shard is written to a hidden temp file and renamed into place when complete: a
reader (or a crash) never sees half a shard under a final name. With a ``filesystem`` (a
``pyarrow.fs`` object store: S3, GCS) the shard is built in a local temp file and uploaded
to its final key when complete (a PUT is atomic per object; object stores cannot rename).

Size targets: ``target_rows > 0`` cuts exactly every ``target_rows`` rows; otherwise a shard is
closed at the first row-group boundary at or past ``target_bytes`` on disk. Row groups hold
about a quarter of the target in uncompressed text, so a shard overshoots by at most one
compressed row group (a few percent of the target for text).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SHARD_NAME = "shard-{:05d}.parquet"
MANIFEST = "manifest.json"
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


class ShardWriter:
    """Write rows (dicts with :data:`SHARD_COLUMNS`) in order into sized Parquet shards.

    Use as a context manager or call :meth:`close`; ``.shards`` lists the finished shards.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        target_bytes: int = 128_000_000,
        target_rows: int = 0,
        compression: str = "zstd",
        schema: pa.Schema = SHARD_SCHEMA,
        filesystem=None,
    ):
        if target_rows <= 0 and target_bytes <= 0:
            raise ValueError("set target_bytes or target_rows > 0")
        self.filesystem = filesystem
        if filesystem is None:
            self.out_dir = Path(out_dir)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._tmp_dir = self.out_dir
        else:
            self.out_dir = str(out_dir).rstrip("/")
            self._tmp_dir = None  # a local temp folder, made when the first shard opens
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
        self._sink: pa.NativeFile | None = None
        self._tmp: str | None = None
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
            self._drop_tmp_dir()
        return self.shards

    def abort(self) -> None:
        """Drop the shard in progress (its temp file); finished shards stay."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None
        if self._tmp and os.path.exists(self._tmp):
            os.unlink(self._tmp)
        self._tmp = None
        self._closed = True
        self._drop_tmp_dir()

    def _drop_tmp_dir(self) -> None:
        if self.filesystem is not None and self._tmp_dir is not None:
            import shutil

            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

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
        name = SHARD_NAME.format(len(self.shards))
        if self._tmp_dir is None:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix="mathmine-shards-"))
        fd, self._tmp = tempfile.mkstemp(dir=self._tmp_dir, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        self._sink = pa.OSFile(self._tmp, "wb")
        self._writer = pq.ParquetWriter(
            self._sink,
            self.schema,
            compression=self.compression,
        )
        self._rows = self._tokens = 0

    def _finish_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._sink.close()
        self._writer = self._sink = None
        name = SHARD_NAME.format(len(self.shards))
        sha, size = file_sha256(self._tmp)
        if self.filesystem is None:
            _make_readable(self._tmp)
            os.replace(self._tmp, self.out_dir / name)
        else:
            with open(self._tmp, "rb") as src:
                with self.filesystem.open_output_stream(f"{self.out_dir}/{name}") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
            os.unlink(self._tmp)
        self._tmp = None
        self.shards.append(ShardInfo(name, self._rows, self._tokens, size, sha))


@functools.cache
def _umask() -> int:
    # read once: os.umask can only be read by setting it (process-wide, racy with threads)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_readable(path: str | os.PathLike) -> None:
    # mkstemp creates 0600 files; shards are data for others to read, like any written file
    os.chmod(path, 0o666 & ~_umask())


def file_sha256(path: str | os.PathLike) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        _make_readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_manifest(
    out_dir: str | os.PathLike,
    shards: list[ShardInfo],
    extra: Mapping[str, Any] | None = None,
    filesystem=None,
) -> Path | str:
    """Write ``manifest.json`` (atomically) listing every shard and the totals; returns its path.

    ``extra`` adds top-level keys (token_kind, shuffle seed, ...); it cannot replace the lists.
    ``filesystem``: a pyarrow object store holding ``out_dir`` (one PUT, atomic per object).
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
    text = json.dumps(manifest, indent=2)
    if filesystem is not None:
        path = f"{str(out_dir).rstrip('/')}/{MANIFEST}"
        with filesystem.open_output_stream(path) as f:
            f.write(text.encode())
        return path
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    _atomic_write_text(path, text)
    return path


def verify_manifest(out_dir: str | os.PathLike, filesystem=None) -> list[str]:
    """Problems found checking the manifest against the files (empty list = all good)."""
    if filesystem is not None:
        return _verify_manifest_fs(str(out_dir).rstrip("/"), filesystem)
    out = Path(out_dir)
    problems = []
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as e:
        return [f"cannot read {out / MANIFEST}: {e}"]
    listed = set()
    for s in manifest.get("shards", []):
        listed.add(s["file"])
        p = out / s["file"]
        if not p.exists():
            problems.append(f"{s['file']}: missing")
            continue
        sha, size = file_sha256(p)
        if sha != s["sha256"]:
            problems.append(f"{s['file']}: sha256 {sha} != manifest {s['sha256']}")
        if size != s["bytes"]:
            problems.append(f"{s['file']}: {size} bytes != manifest {s['bytes']}")
        rows = pq.ParquetFile(p).metadata.num_rows
        if rows != s["rows"]:
            problems.append(f"{s['file']}: {rows} rows != manifest {s['rows']}")
    for p in out.glob("shard-*.parquet"):
        if p.name not in listed:
            problems.append(f"{p.name}: on disk but not in the manifest")
    return problems


def _verify_manifest_fs(out: str, fs) -> list[str]:
    """:func:`verify_manifest` on a pyarrow filesystem (object store)."""
    from pyarrow.fs import FileSelector, FileType

    problems = []
    try:
        with fs.open_input_stream(f"{out}/{MANIFEST}") as f:
            manifest = json.loads(f.read())
    except (OSError, json.JSONDecodeError) as e:
        return [f"cannot read {out}/{MANIFEST}: {e}"]
    listed = set()
    for s in manifest.get("shards", []):
        listed.add(s["file"])
        p = f"{out}/{s['file']}"
        if fs.get_file_info(p).type != FileType.File:
            problems.append(f"{s['file']}: missing")
            continue
        h = hashlib.sha256()
        size = 0
        with fs.open_input_stream(p) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        if h.hexdigest() != s["sha256"]:
            problems.append(f"{s['file']}: sha256 {h.hexdigest()} != manifest {s['sha256']}")
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
