"""The run folder: ``run.json``, ``stats.json``, stage outputs and completion markers.

Layout (DESIGN.md): run.json, stats.json, docs/, clean/, dedup/, scores/iter=N/, models/iter=N/,
shards/, and _markers/ (one JSON file per finished task or stage, so a re-run skips it).
A folder belongs to one run: its ``run_id`` (a hash of the inputs and the resolved config) is in
run.json, and the CLI refuses to write into a non-empty folder of another run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.config import Config, redact
from pipeline.errors import UserError
from pipeline.records import StageStats

STAGES = ("extract", "clean", "dedup", "recall", "export")


def run_id_for(inputs: list[str], config: Config) -> str:
    """What decides a run's output: its inputs and the data-shaping config sections (not
    where it runs: ``spark`` and ``io`` may change between a crash and its resume)."""
    shaping = {k: v for k, v in config.to_dict().items() if k not in ("spark", "io")}
    h = hashlib.sha256()
    h.update(json.dumps(sorted(inputs)).encode())
    h.update(json.dumps(shaping, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class RunFolder:
    """A local run folder. ``path`` is absolute so executors can write into it."""

    def __init__(self, path: str | os.PathLike):
        if "://" in str(path):
            raise UserError(
                f"run folder {str(path)!r}: run folders are local paths or paths on a filesystem "
                "every node mounts (on a cluster: `mathmine submit ... --run-dir`, see "
                "docs/cloud.md); object-store URIs are for inputs and seeds"
            )
        p = Path(path).expanduser()
        if p.is_symlink():
            raise UserError(f"run folder {str(p)!r} is a symlink; pass the real folder")
        self.path = p.resolve()

    # --- paths -------------------------------------------------------------------------
    def sub(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

    def uri(self, *parts: str) -> str:
        return str(self.sub(*parts))

    # --- ownership ---------------------------------------------------------------------
    def read_run(self) -> dict[str, Any] | None:
        f = self.sub("run.json")
        if not f.exists():
            return None
        try:
            return json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            raise UserError(
                f"{f} is not a readable run.json; pass an empty or new --out folder"
            ) from None

    def claim(self, inputs: list[str], config: Config, command: str) -> str:
        """Create or reuse the folder for this run; refuse a folder of another run."""
        rid = run_id_for(inputs, config)
        existing = self.read_run()
        if existing is None:
            if self.path.exists() and any(self.path.iterdir()):
                raise UserError(
                    f"output folder {str(self.path)!r} is not empty and is not a mathmine run "
                    "folder; pass a new or empty --out folder (nothing was written)"
                )
        elif existing.get("run_id") != rid:
            raise UserError(
                f"output folder {str(self.path)!r} belongs to another run (run_id "
                f"{existing.get('run_id')}, this run is {rid}: different inputs or config); "
                "pass a new --out folder, or the same inputs and config to resume"
            )
        self.path.mkdir(parents=True, exist_ok=True)
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

    def require(self, *parts: str) -> Path:
        p = self.sub(*parts)
        if not p.exists():
            raise UserError(
                f"{str(p)!r} does not exist; run the stage that writes it first "
                "(or `mathmine run` for all stages)"
            )
        return p

    # --- JSON files --------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> None:
        atomic_write_text(self.sub(name), json.dumps(obj, indent=2, sort_keys=False, default=str))

    def read_json(self, name: str, default: Any = None) -> Any:
        f = self.sub(name)
        if not f.exists():
            return default
        return json.loads(f.read_text())

    # --- stats -------------------------------------------------------------------------
    def update_stats(self, stage: str, stats: StageStats | dict[str, Any]) -> dict[str, Any]:
        all_stats = self.read_json("stats.json", {})
        all_stats[stage] = stats.to_dict() if isinstance(stats, StageStats) else stats
        self.write_json("stats.json", all_stats)
        return all_stats

    # --- completion markers ------------------------------------------------------------
    def marker(self, stage: str, key: str = "_stage") -> Path:
        return self.sub("_markers", stage, f"{key}.json")

    def is_done(self, stage: str, key: str = "_stage") -> bool:
        return self.marker(stage, key).exists()

    def mark_done(self, stage: str, payload: dict[str, Any] | None = None, key: str = "_stage"):
        atomic_write_text(self.marker(stage, key), json.dumps(payload or {}, default=str))

    def read_marker(self, stage: str, key: str = "_stage") -> dict[str, Any]:
        return json.loads(self.marker(stage, key).read_text())

    def clear_stage(self, stage: str) -> None:
        """Forget a stage's completion (its outputs are overwritten by the re-run)."""
        m = self.marker(stage)
        if m.exists():
            m.unlink()


def remove_run_folder(run: RunFolder) -> None:
    """Delete a mathmine run folder. Symlinks inside are unlinked, never followed, so nothing
    outside the folder is touched; a folder without run.json is refused."""
    import shutil

    if run.read_run() is None:
        raise UserError(f"{str(run.path)!r} is not a mathmine run folder; not deleting it")
    shutil.rmtree(run.path)  # rmtree unlinks symlinks it meets instead of descending


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("mathmine", "pyspark", "fastwarc", "resiliparse", "trafilatura", "pyarrow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
