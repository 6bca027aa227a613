"""Seed positives, bundled negatives and the held-out sets; OpenWebMath-shaped seed files from URIs.

Bundled files (classifiers/data/, built by classifiers/build_data.py, sources in SOURCES.md) are
gzipped JSONL rows with ``text``, ``url`` and ``source``. Held-out rows also carry ``label``
(1 math, 0 not), ``split`` ("dev": tune on it; "test": no default was chosen on it) and
``unseen_collection`` (the row's collection has no training row).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import UserError

DATA_DIR = Path(__file__).with_name("data")


def _read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_bundled_seeds() -> list[dict]:
    return _read_jsonl_gz(DATA_DIR / "seeds.jsonl.gz")


def load_bundled_negatives() -> list[dict]:
    return _read_jsonl_gz(DATA_DIR / "negatives.jsonl.gz")


HELDOUT_SPLITS = ("dev", "test")


def load_heldout(split: str | None = None) -> list[dict]:
    """The held-out rows of ``split`` ("dev" or "test"), or of both (each row names its split)."""
    rows = _read_jsonl_gz(DATA_DIR / "heldout.jsonl.gz")
    if split is None:
        return rows
    if split not in HELDOUT_SPLITS:
        raise ValueError(f"held-out split {split!r}: use one of {HELDOUT_SPLITS}")
    return [r for r in rows if r["split"] == split]


def _open_bytes(uri: str, io_cfg=None) -> bytes:
    """Whole bytes of a local path, file://, https:// or s3:// URI (seed files are small-ish)."""
    try:  # the lead's input opener knows s3 (retries, endpoint) and https; prefer it
        from jobs.inputs import open_input  # noqa: PLC0415
    except ImportError:
        open_input = None
    if open_input is not None and "://" in uri and not uri.startswith("file://"):
        with open_input(uri, io_cfg) as f:
            return f.read()
    if uri.startswith(("http://", "https://")):
        import urllib.request

        with urllib.request.urlopen(uri, timeout=60) as r:  # noqa: S310
            return r.read()
    if uri.startswith("s3://"):
        raise UserError(f"seed URI {uri!r}: s3 needs jobs.inputs.open_input, not available here")
    path = Path(uri.removeprefix("file://"))
    if not path.is_file():
        raise UserError(f"seed file {uri!r} does not exist; pass a JSONL(.gz) or Parquet file")
    return path.read_bytes()


def iter_seed_uri(uri: str, io_cfg=None, limit: int = 0) -> Iterator[dict]:
    """Rows {text, url} of an OpenWebMath-shaped JSONL(.gz/.zst) or Parquet file at ``uri``."""
    data = _open_bytes(uri, io_cfg)
    n = 0
    if data[:4] == b"PAR1":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        if "text" not in table.column_names:
            raise UserError(f"seed file {uri!r} has no 'text' column (has {table.column_names})")
        urls = table.column("url").to_pylist() if "url" in table.column_names else None
        for i, text in enumerate(table.column("text").to_pylist()):
            if text:
                yield {"text": text, "url": urls[i] if urls else f"{uri}#{i}"}
                n += 1
                if limit and n >= limit:
                    return
        return
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard  # optional: only for .zst seed files

        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    for i, line in enumerate(data.decode("utf-8", "replace").splitlines()):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"seed file {uri!r} line {i + 1} is not JSON: {e}") from None
        if row.get("text"):
            yield {"text": row["text"], "url": row.get("url") or f"{uri}#{i}"}
            n += 1
            if limit and n >= limit:
                return


def load_seeds(uris=(), io_cfg=None, limit: int = 0) -> list[dict]:
    """Seeds from ``uris`` ('' or none = the bundled seeds)."""
    uris = [u for u in (uris or ()) if u]
    if not uris:
        rows = load_bundled_seeds()
        return rows[:limit] if limit else rows
    out: list[dict] = []
    for uri in uris:
        out.extend(iter_seed_uri(uri, io_cfg, limit=(limit - len(out)) if limit else 0))
        if limit and len(out) >= limit:
            break
    return out
