"""Per-document dedup keys: the one Python pass of the dedup stage (Spark calls it per Arrow
batch through ``mapInArrow``; here it is plain pyarrow + numpy, testable on a list).

For each document: the normalised URL (exact URL dedup), a 64-bit hash of the normalised text
(exact-text dedup) and the LSH band hashes of its MinHash signature (near-dup candidates). The
signature is taken from the docs table's ``minhash`` column when its ``minhash_key`` (written by
extract, ``pipeline.minhash.signature_keys``) is the key of the document's current text under
this config, and computed from the text otherwise: a column made with another seed, num_perm or
shingle size, of a text that clean has changed since, or without a key is never trusted.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.config import DedupConfig
from pipeline.minhash import (
    band_hashes,
    minhash_signatures,
    set_jaccard,
    shingle_sets,
    signature_keys,
    signatures_and_text_hashes,
    text_hashes,
)
from pipeline.urls import normalize_url

KEY_FIELDS = (
    ("_node", pa.string()),
    ("id", pa.string()),
    ("_new", pa.int32()),
    ("_url", pa.string()),
    ("_date", pa.string()),
    ("_text", pa.int64()),
    ("_bands", pa.list_(pa.int64())),
    ("_sig_reused", pa.bool_()),  # the stored minhash was current (else computed here)
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


def stored_signatures(batch: pa.RecordBatch, texts: list[str], cfg: DedupConfig):
    """(signatures, text hashes, reused mask) of a batch: stored signatures whose
    ``minhash_key`` matches their text and config, the others computed from the text."""
    names = batch.schema.names
    ok = np.zeros(len(texts), dtype=bool)
    if "minhash" in names and "minhash_key" in names:
        sigs, ok = _signatures_from_column(batch.column("minhash"), cfg.num_perm)
        col = batch.column("minhash_key")
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        ok &= col.is_valid().to_numpy(zero_copy_only=False)
    if not ok.any():  # nothing stored to check: one pass for signatures and text hashes
        sigs, th = signatures_and_text_hashes(texts, cfg)
        return sigs, th, ok
    th = text_hashes(texts)
    keys = col.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    ok &= keys == signature_keys(th, cfg)
    stale = np.flatnonzero(~ok)
    if len(stale):
        sigs[stale] = minhash_signatures([texts[i] for i in stale], cfg)
    return sigs, th, ok


def dedup_keys(batch: pa.RecordBatch, cfg: DedupConfig, bands: int, rows: int) -> pa.RecordBatch:
    """Keys of one batch of documents.

    ``batch`` has ``_node``, ``id``, ``_new``, ``text`` and optionally ``url``, ``warc_date``,
    ``minhash`` and ``minhash_key``; the result has the columns of :func:`key_schema`.
    """
    names = batch.schema.names
    texts = [t or "" for t in batch.column("text").to_pylist()]
    if cfg.near_dup:
        sigs, th, reused = stored_signatures(batch, texts, cfg)
        bh = band_hashes(sigs, bands, rows)
        band_col = pa.ListArray.from_arrays(
            pa.array(np.arange(0, (len(texts) + 1) * bands, bands, dtype=np.int32)),
            pa.array(bh.reshape(-1)),
        )
    else:
        th = text_hashes(texts)
        reused = np.zeros(len(texts), dtype=bool)
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
            pa.array(reused, type=pa.bool_()),
        ],
        schema=key_schema(),
    )


def verify_pairs(batch: pa.RecordBatch, cfg: DedupConfig) -> pa.RecordBatch:
    """Exact Jaccard of candidate pairs: ``batch`` has ``src``, ``dst``, ``text_src`` and
    ``text_dst``; the result has ``src``, ``dst`` and ``jaccard``. A document in several pairs
    of the batch is shingled once."""
    src = batch.column("src").to_pylist()
    dst = batch.column("dst").to_pylist()
    index: dict[str, int] = {}
    texts: list[str] = []
    for nodes, col in ((src, "text_src"), (dst, "text_dst")):
        for node, text in zip(nodes, batch.column(col).to_pylist()):
            if node not in index:
                index[node] = len(texts)
                texts.append(text or "")
    sets = shingle_sets(texts, cfg)
    js = [set_jaccard(sets[index[a]], sets[index[b]]) for a, b in zip(src, dst)]
    return pa.RecordBatch.from_arrays(
        [batch.column("src"), batch.column("dst"), pa.array(js, type=pa.float64())],
        names=["src", "dst", "jaccard"],
    )
