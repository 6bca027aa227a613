"""The run folder: ``run.json``, ``stats.json``, stage outputs and completion markers.

Layout (DESIGN.md): run.json, stats.json, docs/, clean/, dedup/, scores/iter=N/, models/iter=N/,
shards/, and _markers/ (one JSON file per finished task or stage, so a re-run skips it).
A folder belongs to one run: its ``run_id`` (a hash of the inputs and the resolved config) is in
run.json, and the CLI refuses to write into a non-empty folder of another run.

The folder is a local path or an ``s3://``, ``gs://`` or ``file://`` URI (cluster runs write
their run folder straight to the bucket); stages reach it only through RunFolder methods. This
module knows the folder's layout and bookkeeping; the bytes (filesystems, endpoint, region and
credentials, retries, atomic writes) are ``infra.storage``'s, imported lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.config import Config, IOConfig, redact
from pipeline.errors import UserError
from pipeline.records import StageStats

STAGES = ("extract", "clean", "dedup", "recall", "export")


def run_id_for(inputs: list[str], config: Config) -> str:
    """What decides a run's output: its inputs and the data-shaping config sections (not
    where it runs: ``spark`` and ``io`` may change between a crash and its resume; nor
    ``expand``, which `mathmine expand` applies to an existing run folder)."""
    shaping = {k: v for k, v in config.to_dict().items() if k not in ("spark", "io", "expand")}
    h = hashlib.sha256()
    h.update(json.dumps(sorted(inputs)).encode())
    h.update(json.dumps(shaping, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


class RunFolder:
    """A run folder: a local path (``path`` is absolute so executors can write into it) or an
    object-store URI (``s3://bucket/prefix``, ``gs://bucket/prefix``) or ``file://`` URI, reached
    through ``pyarrow.fs``. Stages use only the methods here and :meth:`uri`, never pathlib on
    a remote folder, so the same code runs on a laptop and on EMR/Dataproc.

    Writes are atomic either way (``infra.storage.atomic_output``: on a local filesystem a temp
    file and a rename, on an object store the final key PUT once complete). ``io_cfg`` (the
    run's ``io:`` config) says how to reach S3: endpoint, region, credentials, attempts.
    Retries of object-store calls beyond the SDK's own are counted into ``counters`` (pass a
    task's counters dict to get them into its stats).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        io_cfg: IOConfig | None = None,
        counters: dict | None = None,
    ):
        from infra.storage import FOLDER_SCHEMES

        text = str(path)
        self.io_cfg = io_cfg or IOConfig()
        self.counters = counters if counters is not None else {}
        self._fs = None
        if "://" in text:
            scheme, rest = text.split("://", 1)
            scheme = scheme.lower()
            if scheme not in FOLDER_SCHEMES:
                raise UserError(
                    f"run folder {text!r}: unsupported scheme {scheme!r}; use a local path, "
                    "file://, s3:// or gs://"
                )
            if scheme == "file":
                rest = os.path.abspath(os.path.expanduser(rest))
                if Path(rest).is_symlink():
                    raise UserError(f"run folder {rest!r} is a symlink; pass the real folder")
                rest = str(Path(rest).resolve())
            rest = rest.strip("/")
            if scheme != "file" and not rest:
                raise UserError(f"run folder {text!r} has no bucket")
            self.scheme = scheme
            self._root = rest if scheme != "file" else "/" + rest
            self.location = f"{scheme}://{self._root}"  # file:///abs/path
            self._local = None
        else:
            p = Path(path).expanduser()
            if p.is_symlink():
                raise UserError(f"run folder {str(p)!r} is a symlink; pass the real folder")
            self.scheme = ""
            self._local = p.resolve()
            self._root = str(self._local)
            self.location = self._root

    def __reduce__(self):
        # Executors rebuild the filesystem client themselves (clients do not pickle).
        return (RunFolder, (self.location, self.io_cfg))

    def __repr__(self) -> str:
        return f"RunFolder({self.location!r})"

    def __str__(self) -> str:
        return self.location

    # --- where things are --------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        """A plain local path (pathlib works on :attr:`path` and :meth:`sub`)."""
        return self._local is not None

    @property
    def on_local_disk(self) -> bool:
        """Local path or file:// URI: renames are atomic and cheap."""
        return self.scheme in ("", "file")

    @property
    def path(self) -> Path:
        if self._local is None:
            raise TypeError(
                f"{self.location}: run.path/run.sub() are for local run folders; use "
                "run.uri()/run.exists()/run.open_input()/run.fs instead"
            )
        return self._local

    @property
    def fs(self):
        """The ``pyarrow.fs.FileSystem`` holding the folder; paths for it come from
        :meth:`fs_path`."""
        if self._fs is None:
            from infra.storage import filesystem

            self._fs = filesystem(self.location, self.io_cfg)[0]
        return self._fs

    def _call(self, fn):
        """``fn()``; on an object store under the storage layer's retry policy."""
        if self.on_local_disk:
            return fn()
        from infra.storage import retry_fs

        return retry_fs(fn, self.counters)

    def sub(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

    def fs_path(self, *parts: str) -> str:
        """The path of ``parts`` inside :attr:`fs` (``bucket/prefix/...`` on object stores)."""
        return "/".join([self._root.rstrip("/") or "", *[p.strip("/") for p in parts if p]])

    def uri(self, *parts: str) -> str:
        """What Spark readers/writers take: a plain path locally, else the URI (EMRFS reads
        s3://, the GCS connector gs://)."""
        if self.is_local:
            return str(self.sub(*parts))
        if self.scheme == "file":
            return "file://" + self.fs_path(*parts)
        return f"{self.scheme}://{self.fs_path(*parts)}"

    def exists(self, *parts: str) -> bool:
        from pyarrow.fs import FileType

        if self.is_local:
            return self.sub(*parts).exists()
        info = self._call(lambda: self.fs.get_file_info(self.fs_path(*parts)))
        if info.type != FileType.NotFound:
            return True
        if self.scheme in ("s3", "gs"):
            # An object-store "folder" exists only through its keys.
            return bool(self.listdir(*parts))
        return False

    def listdir(self, *parts: str) -> list[str]:
        """Sorted names directly under ``parts`` (empty if missing)."""
        from pyarrow.fs import FileSelector

        base = self.fs_path(*parts)
        infos = self._call(lambda: self.fs.get_file_info(FileSelector(base, allow_not_found=True)))
        return sorted({i.path.rstrip("/").rsplit("/", 1)[-1] for i in infos})

    def files(self, *parts: str, suffix: str = "") -> list[str]:
        """fs paths of all files under ``parts`` (recursive, sorted), skipping hidden and
        ``_``-prefixed names (temp files, Spark's _SUCCESS)."""
        from pyarrow.fs import FileSelector, FileType

        base = self.fs_path(*parts)
        selector = FileSelector(base, allow_not_found=True, recursive=True)
        infos = self._call(lambda: self.fs.get_file_info(selector))
        out = []
        for i in infos:
            if i.type != FileType.File or not i.path.endswith(suffix):
                continue
            rel = i.path[len(base) :].strip("/").split("/")
            if any(r.startswith((".", "_")) for r in rel):
                continue
            out.append(i.path)
        return sorted(out)

    def has_parquet(self, *parts: str) -> bool:
        return bool(self.files(*parts, suffix=".parquet"))

    def makedirs(self, *parts: str) -> None:
        if self.on_local_disk:
            self.fs.create_dir(self.fs_path(*parts), recursive=True)

    # --- streams -------------------------------------------------------------------------
    def open_input(self, *parts: str):
        return self.fs.open_input_stream(self.fs_path(*parts))

    def open_output(self, *parts: str):
        """A binary stream to ``parts``; readers never see half a file, and a writer that
        raises leaves nothing (``infra.storage.atomic_output``)."""
        from infra.storage import atomic_output

        return atomic_output(self.fs, self.fs_path(*parts), self.counters)

    def write_bytes(self, data: bytes, *parts: str) -> None:
        from infra.storage import atomic_write

        atomic_write(self.fs, self.fs_path(*parts), data, self.counters)

    def read_bytes(self, *parts: str) -> bytes:
        def read():
            with self.open_input(*parts) as f:
                return f.read()

        return self._call(read)

    def delete(self, *parts: str) -> None:
        """Remove a file or a whole sub-folder; a missing one is fine."""
        from pyarrow.fs import FileType

        p = self.fs_path(*parts)
        info = self._call(lambda: self.fs.get_file_info(p))
        if info.type == FileType.File:
            self._call(lambda: self.fs.delete_file(p))
        elif info.type == FileType.Directory or self.scheme in ("s3", "gs"):
            try:
                self._call(lambda: self.fs.delete_dir(p))
            except (FileNotFoundError, OSError):
                if self.on_local_disk:
                    raise

    def upload(self, local_file: str | os.PathLike, *parts: str) -> str:
        """Copy a driver-local file (e.g. a trained fastText model) into the folder; returns
        its :meth:`uri` (give that to ``sc.addFile``)."""
        with open(local_file, "rb") as src, self.open_output(*parts) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return self.uri(*parts)

    def upload_dir(self, local_dir: str | os.PathLike, *parts: str) -> int:
        """Copy a driver-local folder tree into ``parts`` (a no-op when it already is that
        folder of a local run); returns the number of files copied."""
        local_dir = Path(local_dir)
        if self.is_local and local_dir.resolve() == self.sub(*parts).resolve():
            return 0
        n = 0
        for f in sorted(local_dir.rglob("*")):
            if f.is_file():
                self.upload(f, *parts, *f.relative_to(local_dir).parts)
                n += 1
        return n

    def download(self, local_file: str | os.PathLike, *parts: str) -> Path:
        local_file = Path(local_file)
        local_file.parent.mkdir(parents=True, exist_ok=True)
        with self.open_input(*parts) as src, open(local_file, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return local_file

    @contextlib.contextmanager
    def scratch(self, *parts: str):
        """A driver-local folder for files a library must read/write by path (fastText).
        Local run folders use ``parts`` inside the run folder itself (kept); remote ones a
        temp dir that is removed afterwards (upload what you keep)."""
        if self.is_local:
            d = self.sub(*parts)
            d.mkdir(parents=True, exist_ok=True)
            yield d
        else:
            d = tempfile.mkdtemp(prefix="mathmine-scratch-")
            try:
                yield Path(d)
            finally:
                shutil.rmtree(d, ignore_errors=True)

    # --- ownership ---------------------------------------------------------------------
    def read_run(self) -> dict[str, Any] | None:
        if not self.exists("run.json"):
            return None
        try:
            return json.loads(self.read_bytes("run.json"))
        except (OSError, json.JSONDecodeError):
            raise UserError(
                f"{self.uri('run.json')} is not a readable run.json; pass an empty or new "
                "--out folder"
            ) from None

    def claim(self, inputs: list[str], config: Config, command: str) -> str:
        """Create or reuse the folder for this run; refuse a folder of another run."""
        rid = run_id_for(inputs, config)
        existing = self.read_run()
        if existing is None:
            if self.listdir():
                raise UserError(
                    f"output folder {self.location!r} is not empty and is not a mathmine run "
                    "folder; pass a new or empty --out folder (nothing was written)"
                )
        elif existing.get("run_id") != rid:
            raise UserError(
                f"output folder {self.location!r} belongs to another run (run_id "
                f"{existing.get('run_id')}, this run is {rid}: different inputs or config); "
                "pass a new --out folder, or the same inputs and config to resume"
                + (
                    " (`mathmine sample --fresh`, or `make sample FRESH=1`, starts the sample over)"
                    if command == "sample"
                    else ""
                )
            )
        self.makedirs()
        if existing is None:
            self.write_json(
                "run.json",
                {
                    "run_id": rid,
                    "command": command,
                    "inputs": redact(inputs),
                    "config": redact(config.to_dict()),
                    "versions": versions(),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
            )
        return rid

    def require(self, *parts: str) -> Path | str:
        if not self.exists(*parts):
            raise UserError(
                f"{self.uri(*parts)!r} does not exist; run the stage that writes it first "
                "(or `mathmine run` for all stages)"
            )
        return self.sub(*parts) if self.is_local else self.uri(*parts)

    # --- JSON files --------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> None:
        self.write_bytes(json.dumps(obj, indent=2, sort_keys=False, default=str).encode(), name)

    def read_json(self, name: str, default: Any = None) -> Any:
        if self.is_local:
            f = self.sub(name)
            if not f.exists():
                return default
            return json.loads(f.read_text())
        try:
            return json.loads(self.read_bytes(name))
        except FileNotFoundError:
            return default

    # --- stats -------------------------------------------------------------------------
    def update_stats(self, stage: str, stats: StageStats | dict[str, Any]) -> dict[str, Any]:
        all_stats = self.read_json("stats.json", {})
        all_stats[stage] = stats.to_dict() if isinstance(stats, StageStats) else stats
        self.write_json("stats.json", all_stats)
        return all_stats

    # --- completion markers ------------------------------------------------------------
    def _marker_parts(self, stage: str, key: str) -> tuple[str, str, str]:
        return ("_markers", stage, f"{key}.json")

    def marker(self, stage: str, key: str = "_stage") -> Path | str:
        """The marker's path (local) or URI (remote)."""
        parts = self._marker_parts(stage, key)
        return self.sub(*parts) if self.is_local else self.uri(*parts)

    def is_done(self, stage: str, key: str = "_stage") -> bool:
        if self.is_local:
            return self.marker(stage, key).exists()
        from pyarrow.fs import FileType

        path = self.fs_path(*self._marker_parts(stage, key))
        return self._call(lambda: self.fs.get_file_info(path)).type == FileType.File

    def mark_done(self, stage: str, payload: dict[str, Any] | None = None, key: str = "_stage"):
        data = json.dumps(payload or {}, default=str).encode()
        self.write_bytes(data, *self._marker_parts(stage, key))

    def read_marker(self, stage: str, key: str = "_stage") -> dict[str, Any]:
        return json.loads(self.read_bytes(*self._marker_parts(stage, key)))

    def done_keys(self, stage: str) -> set[str]:
        """Keys of every completion marker of ``stage``: one listing instead of one HEAD
        request per key (90,000 WARCs on S3 would be ~30 min of serial requests)."""
        return {
            n.removesuffix(".json") for n in self.listdir("_markers", stage) if n.endswith(".json")
        }

    def read_markers(self, stage: str, keys: list[str], threads: int = 32) -> dict[str, dict]:
        """``{key: payload}`` of many markers; fetched in parallel on object stores, where
        each read is a request."""
        if self.on_local_disk or len(keys) < 2:
            return {k: self.read_marker(stage, k) for k in keys}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(keys)))) as pool:
            return dict(zip(keys, pool.map(lambda k: self.read_marker(stage, k), keys)))

    def clear_stage(self, stage: str) -> None:
        """Forget a stage's completion (its outputs are overwritten by the re-run)."""
        parts = self._marker_parts(stage, "_stage")
        if self.is_local:
            m = self.sub(*parts)
            if m.exists():
                m.unlink()
        else:
            self.delete(*parts)


BATCH_ROWS = 256  # rows per Parquet write in a task: bounds its memory


def write_in_batches(writer, rows, schema, batch_rows: int = BATCH_ROWS) -> None:
    """Write the dicts of ``rows`` to the Parquet ``writer``, ``batch_rows`` at a time."""
    import pyarrow as pa

    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_rows:
            writer.write_table(pa.Table.from_pylist(batch, schema))
            batch = []
    if batch:
        writer.write_table(pa.Table.from_pylist(batch, schema))


def remove_run_folder(run: RunFolder) -> None:
    """Delete a mathmine run folder. Symlinks inside are unlinked, never followed, so nothing
    outside the folder is touched; a folder without run.json is refused."""
    if run.read_run() is None:
        raise UserError(f"{run.location!r} is not a mathmine run folder; not deleting it")
    if run.on_local_disk:
        shutil.rmtree(run.fs_path())  # rmtree unlinks symlinks it meets instead of descending
    else:
        run.fs.delete_dir(run.fs_path())


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("mathmine", "pyspark", "fastwarc", "resiliparse", "trafilatura", "pyarrow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
