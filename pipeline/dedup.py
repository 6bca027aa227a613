"""Per-document dedup keys: the one Python pass of the dedup stage (Spark calls it per Arrow
batch through ``mapInArrow``; here it is plain pyarrow + numpy, testable on a list).

For each document: the normalised URL (exact URL dedup), a 64-bit hash of the normalised text
(exact-text dedup) and the LSH band hashes of its MinHash signature (near-dup candidates). The
signature is taken from the docs table's ``minhash`` column when it has ``num_perm`` values
(extract computed it), and computed from the text otherwise.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.config import DedupConfig
from pipeline.minhash import band_hashes, signatures_and_text_hashes, text_hashes
from pipeline.urls import normalize_url

KEY_FIELDS = (
    ("_node", pa.string()),
    ("id", pa.string()),
    ("_new", pa.int32()),
    ("_url", pa.string()),
    ("_date", pa.string()),
    ("_text", pa.int64()),
    ("_bands", pa.list_(pa.int64())),
)


def key_schema() -> pa.Schema:
    return pa.schema(list(KEY_FIELDS))


def _signatures_from_column(col: pa.ChunkedArray | pa.Array, num_perm: int):
    """(n, num_perm) uint32 from a list column, and a mask of the rows that had a usable one."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    ok = np.zeros(n, dtype=bool)
    sigs = np.zeros((n, num_perm), dtype=np.uint32)
    if n == 0 or not pa.types.is_list(col.type) and not pa.types.is_large_list(col.type):
        return sigs, ok
    lengths = col.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    ok = lengths == num_perm
    if ok.any():
        flat = col.filter(pa.array(ok)).flatten().to_numpy(zero_copy_only=False)
        sigs[ok] = flat.astype(np.int64).astype(np.uint32).reshape(-1, num_perm)
    return sigs, ok


def dedup_keys(batch: pa.RecordBatch, cfg: DedupConfig, bands: int, rows: int) -> pa.RecordBatch:
    """Keys of one batch of documents.

    ``batch`` has ``_node``, ``id``, ``_new``, ``text`` and optionally ``url``, ``warc_date``
    and ``minhash``; the result has the columns of :func:`key_schema`.
    """
    names = batch.schema.names
    texts = batch.column("text").to_pylist()
    texts = [t or "" for t in texts]
    if "minhash" in names and cfg.near_dup:
        sigs, ok = _signatures_from_column(batch.column("minhash"), cfg.num_perm)
    else:
        sigs, ok = np.zeros((len(texts), cfg.num_perm), dtype=np.uint32), np.zeros(0, bool)
    if cfg.near_dup:
        missing = np.flatnonzero(~ok) if len(ok) else np.arange(len(texts))
        th = np.empty(len(texts), dtype=np.int64)
        if len(missing):
            s, t = signatures_and_text_hashes([texts[i] for i in missing], cfg)
            sigs[missing] = s
            th[missing] = t
        have = np.flatnonzero(ok) if len(ok) else np.zeros(0, dtype=np.int64)
        if len(have):
            th[have] = text_hashes([texts[i] for i in have])
        bh = band_hashes(sigs, bands, rows)
        band_col = pa.ListArray.from_arrays(
            pa.array(np.arange(0, (len(texts) + 1) * bands, bands, dtype=np.int32)),
            pa.array(bh.reshape(-1)),
        )
    else:
        th = text_hashes(texts)
        band_col = pa.nulls(len(texts), type=pa.list_(pa.int64()))
    if "url" in names and cfg.url_dedup:
        urls = [normalize_url(u) if u else None for u in batch.column("url").to_pylist()]
    else:
        urls = [None] * len(texts)
    if "warc_date" in names:
        dates = batch.column("warc_date").cast(pa.string())
    else:
        dates = pa.nulls(len(texts), type=pa.string())
    return pa.RecordBatch.from_arrays(
        [
            batch.column("_node"),
            batch.column("id"),
            batch.column("_new").cast(pa.int32()),
            pa.array(urls, type=pa.string()),
            dates,
            pa.array(th, type=pa.int64()),
            band_col,
        ],
        schema=key_schema(),
    )


def verify_pairs(batch: pa.RecordBatch, cfg: DedupConfig) -> pa.RecordBatch:
    """Exact Jaccard of candidate pairs: ``batch`` has ``src``, ``dst``, ``text_src`` and
    ``text_dst``; the result has ``src``, ``dst`` and ``jaccard``."""
    from pipeline.minhash import exact_jaccard

    a = batch.column("text_src").to_pylist()
    b = batch.column("text_dst").to_pylist()
    js = [exact_jaccard(x or "", y or "", cfg) for x, y in zip(a, b)]
    return pa.RecordBatch.from_arrays(
        [batch.column("src"), batch.column("dst"), pa.array(js, type=pa.float64())],
        names=["src", "dst", "jaccard"],
    )
