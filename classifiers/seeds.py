"""Seed positives, bundled negatives and the held-out sets; OpenWebMath-shaped seed files from URIs.

Bundled files (classifiers/data/, built by classifiers/build_data.py, sources in SOURCES.md) are
gzipped JSONL rows with ``text``, ``url`` and ``source``. Held-out rows also carry ``label``
(1 math, 0 not), ``split`` ("dev": tune on it; "test": no default was chosen on it) and
``unseen_collection`` (the row's collection has no training row).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import UserError

DATA_DIR = Path(__file__).with_name("data")


def _read_jsonl_gz(path: Path) -> list[dict]:
    from infra.storage import read_rows

    return list(read_rows(str(path), what="bundled file"))


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


def iter_seed_uri(uri: str, io_cfg=None, limit: int = 0) -> Iterator[dict]:
    """Rows {text, url} of an OpenWebMath-shaped JSONL(.gz/.zst) or Parquet file at any URI
    (read by ``infra.storage.read_rows``: classifiers never import jobs/)."""
    from infra.storage import read_rows

    n = 0
    for i, row in enumerate(read_rows(uri, io_cfg, "seed file", columns=("text", "url"))):
        if "text" not in row:
            raise UserError(f"seed file {uri!r} has no 'text' field (row {i}: {sorted(row)})")
        if row["text"]:
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
