"""The per-batch key pass of the dedup stage (pipeline/dedup.py), on plain Arrow batches."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pytest

from pipeline.config import Config, DedupConfig
from pipeline.dedup import dedup_keys, key_schema, verify_pairs
from pipeline.minhash import (
    band_hashes,
    exact_jaccard,
    minhash_signatures,
    signature_keys,
    text_hash,
    text_hashes,
)
from pipeline.urls import normalize_url

CFG = DedupConfig()


@pytest.fixture(scope="module")
def docs(data_dir):
    return [json.loads(x) for x in gzip.open(data_dir / "dedup" / "dolma_cc.jsonl.gz", "rt")]


def batch(docs, minhash=None, with_url=True, keys=None):
    cols = {
        "_node": [f"1:{d['id']}" for d in docs],
        "id": [d["id"] for d in docs],
        "_new": [1] * len(docs),
        "text": [d["text"] for d in docs],
    }
    if with_url:
        cols["url"] = [d["url"] for d in docs]
        cols["warc_date"] = ["2020-03-29"] * len(docs)
    t = pa.table(cols)
    if minhash is not None:
        t = t.append_column("minhash", pa.array(minhash, type=pa.list_(pa.int64())))
    if keys is not None:
        t = t.append_column("minhash_key", pa.array(keys, type=pa.int64()))
    return t.to_batches()[0]


def test_keys_from_text(docs):
    out = dedup_keys(batch(docs), CFG, 14, 9)
    assert out.schema == key_schema()
    assert not any(out.column("_sig_reused").to_pylist())
    rows = out.to_pylist()
    assert [r["id"] for r in rows] == [d["id"] for d in docs]
    assert [r["_url"] for r in rows] == [normalize_url(d["url"]) for d in docs]
    assert all(r["_date"] == "2020-03-29" for r in rows)
    assert [r["_text"] for r in rows] == [text_hash(d["text"]) for d in docs]
    expected = band_hashes(minhash_signatures([d["text"] for d in docs], CFG), 14, 9)
    assert np.array_equal(np.array([r["_bands"] for r in rows]), expected)


def test_stored_minhash_is_used_only_when_its_key_is_current(docs):
    texts = [d["text"] for d in docs]
    sigs = minhash_signatures(texts, CFG)
    keys = signature_keys(text_hashes(texts), CFG).tolist()
    # a stored signature with the current key is trusted: prove it by shifting one
    planted = sigs.copy()
    planted[0] = 12345
    col = [s.tolist() for s in planted]
    col[1] = [1, 2, 3]  # wrong length (another num_perm): recomputed from the text
    col[2] = None
    keys[3] = signature_keys(text_hashes([texts[3]]), DedupConfig(seed=7))[0]  # another seed
    keys[4] = signature_keys(text_hashes([texts[4] + " edited"]), CFG)[0]  # text changed since
    keys[5] = None
    col[3] = col[4] = col[5] = [1] * 128  # stale values that must not be used
    out = dedup_keys(batch(docs, col, keys=keys), CFG, 15, 7).to_pylist()
    expected = band_hashes(sigs, 15, 7)
    assert out[0]["_bands"] == band_hashes(planted[:1], 15, 7)[0].tolist()
    for i in range(1, len(docs)):
        assert out[i]["_bands"] == expected[i].tolist()
    assert [r["_sig_reused"] for r in out] == [True] + [False] * 5 + [True] * (len(docs) - 6)
    assert [r["_text"] for r in out] == [text_hash(t) for t in texts]


def test_minhash_without_key_is_recomputed(docs):
    texts = [d["text"] for d in docs]
    out = dedup_keys(batch(docs, [[1] * 128] * len(docs)), CFG, 15, 7).to_pylist()
    expected = band_hashes(minhash_signatures(texts, CFG), 15, 7)
    assert [r["_bands"] for r in out] == expected.tolist()
    assert not any(r["_sig_reused"] for r in out)


def test_extract_docs_are_reused_by_dedup_until_config_or_text_changes():
    """Docs as extract writes them (real pages of the bundled WARC, through the docs schema):
    dedup reuses every signature, and recomputes them under another seed or after the text
    changed."""
    import itertools
    from pathlib import Path

    from pipeline.extract import extract_warc
    from pipeline.records import StageStats, docs_schema

    warc = Path(__file__).resolve().parent.parent / "sample" / "sample.warc.gz"
    with open(warc, "rb") as fh:
        docs = list(
            itertools.islice(extract_warc(fh, str(warc), Config(), StageStats("extract")), 8)
        )
    assert len(docs) == 8
    table = pa.Table.from_pylist(docs, docs_schema())
    table = table.append_column("_node", pa.array([f"1:{d['id']}" for d in docs]))
    table = table.append_column("_new", pa.array([1] * len(docs), pa.int32()))
    texts = [d["text"] for d in docs]
    expected = band_hashes(minhash_signatures(texts, CFG), 15, 7).tolist()
    out = dedup_keys(table.to_batches()[0], CFG, 15, 7).to_pylist()
    assert all(r["_sig_reused"] for r in out)
    assert [r["_bands"] for r in out] == expected
    reseeded = DedupConfig(seed=9)
    out = dedup_keys(table.to_batches()[0], reseeded, 15, 7).to_pylist()
    assert not any(r["_sig_reused"] for r in out)
    assert [r["_bands"] for r in out] == band_hashes(
        minhash_signatures(texts, reseeded), 15, 7
    ).tolist()
    cleaned = table.set_column(
        table.schema.get_field_index("text"), "text", pa.array(["cleaned"] + texts[1:])
    )
    out = dedup_keys(cleaned.to_batches()[0], CFG, 15, 7).to_pylist()
    assert [r["_sig_reused"] for r in out] == [False] + [True] * 7
    assert out[0]["_bands"] == band_hashes(minhash_signatures(["cleaned"], CFG), 15, 7)[0].tolist()


def test_no_url_column_and_switches(docs):
    out = dedup_keys(batch(docs, with_url=False), CFG, 14, 9).to_pylist()
    assert all(r["_url"] is None and r["_date"] is None for r in out)
    off = DedupConfig(near_dup=False, url_dedup=False)
    out = dedup_keys(batch(docs), off, 14, 9).to_pylist()
    assert all(r["_bands"] is None and r["_url"] is None for r in out)
    assert [r["_text"] for r in out] == [text_hash(d["text"]) for d in docs]


def test_verify_pairs(docs):
    a = docs[0]["text"]
    b = a.replace("the", "a", 3)
    c = docs[1]["text"]
    # x appears in three pairs (shingled once), as source and as destination
    pairs = pa.table(
        {
            "src": ["x", "y", "x", "z"],
            "dst": ["z", "w", "w", "x"],
            "text_src": [a, a, a, b],
            "text_dst": [b, c, c, a],
        }
    ).to_batches()[0]
    out = verify_pairs(pairs, CFG).to_pylist()
    assert [(r["src"], r["dst"]) for r in out] == [("x", "z"), ("y", "w"), ("x", "w"), ("z", "x")]
    assert out[0]["jaccard"] == pytest.approx(exact_jaccard(a, b, CFG))
    assert 0.5 < out[0]["jaccard"] < 1.0
    assert out[3]["jaccard"] == out[0]["jaccard"]
    assert out[1]["jaccard"] == out[2]["jaccard"] == pytest.approx(exact_jaccard(a, c, CFG))
    assert out[1]["jaccard"] < 0.05
