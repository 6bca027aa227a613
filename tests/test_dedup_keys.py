"""The per-batch key pass of the dedup stage (pipeline/dedup.py), on plain Arrow batches."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pytest

from pipeline.config import DedupConfig
from pipeline.dedup import dedup_keys, key_schema, verify_pairs
from pipeline.minhash import band_hashes, exact_jaccard, minhash_signatures, text_hash
from pipeline.urls import normalize_url

CFG = DedupConfig()


@pytest.fixture(scope="module")
def docs(data_dir):
    return [json.loads(x) for x in gzip.open(data_dir / "dedup" / "dolma_cc.jsonl.gz", "rt")]


def batch(docs, minhash=None, with_url=True):
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
    return t.to_batches()[0]


def test_keys_from_text(docs):
    out = dedup_keys(batch(docs), CFG, 14, 9)
    assert out.schema == key_schema()
    rows = out.to_pylist()
    assert [r["id"] for r in rows] == [d["id"] for d in docs]
    assert [r["_url"] for r in rows] == [normalize_url(d["url"]) for d in docs]
    assert all(r["_date"] == "2020-03-29" for r in rows)
    assert [r["_text"] for r in rows] == [text_hash(d["text"]) for d in docs]
    expected = band_hashes(minhash_signatures([d["text"] for d in docs], CFG), 14, 9)
    assert np.array_equal(np.array([r["_bands"] for r in rows]), expected)


def test_minhash_column_is_used_when_it_has_num_perm_values(docs):
    sigs = minhash_signatures([d["text"] for d in docs], CFG)
    # a column computed elsewhere (extract) is trusted: prove it by shifting one signature
    planted = sigs.copy()
    planted[0] = 12345
    col = [s.tolist() for s in planted]
    col[1] = [1, 2, 3]  # wrong length (another num_perm): recomputed from the text
    col[2] = None
    out = dedup_keys(batch(docs, col), CFG, 14, 9).to_pylist()
    expected = band_hashes(sigs, 14, 9)
    assert out[0]["_bands"] == band_hashes(planted[:1], 14, 9)[0].tolist()
    for i in range(1, len(docs)):
        assert out[i]["_bands"] == expected[i].tolist()
    assert out[0]["_text"] == text_hash(docs[0]["text"])


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
    pairs = pa.table(
        {"src": ["x", "y"], "dst": ["z", "w"], "text_src": [a, a], "text_dst": [b, docs[1]["text"]]}
    ).to_batches()[0]
    out = verify_pairs(pairs, CFG).to_pylist()
    assert out[0]["jaccard"] == pytest.approx(exact_jaccard(a, b, CFG))
    assert 0.5 < out[0]["jaccard"] < 1.0
    assert out[1]["jaccard"] < 0.05
