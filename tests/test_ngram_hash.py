"""The one n-gram hasher (pipeline/ngram_hash.py) against its definition, and the MinHash
signatures stored by runs made before MinHash, decontamination and the Gopher rules shared it."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from pipeline import minhash as M
from pipeline.config import DedupConfig
from pipeline.decontam import tokenize
from pipeline.ngram_hash import BASE, LENGTH_MIX, mix64, ngram_hashes, prefix_sums, token_hashes

MASK = (1 << 64) - 1


def ref_hash(values: list[int]) -> int:
    """The module docstring's formula in Python integers."""
    h = sum(((v + 1) & MASK) * pow(BASE, i, 1 << 64) for i, v in enumerate(values)) & MASK
    return h ^ ((len(values) * int(LENGTH_MIX)) & MASK)


@pytest.fixture(scope="module")
def pages(data_dir):
    return [
        json.loads(line)["text"] for line in gzip.open(data_dir / "dedup" / "pages.jsonl.gz", "rt")
    ]


@pytest.mark.parametrize("n", [1, 2, 5, 10, 13])
def test_ngram_hashes_follow_the_formula_on_real_token_hashes(pages, n):
    th = token_hashes(tokenize(pages[3]))[:200]
    vals = [int(v) for v in th]
    want = [ref_hash(vals[i : i + n]) for i in range(len(vals) - n + 1)]
    assert [int(h) for h in ngram_hashes(th, n)] == want
    # a shared prefix sum gives the same hashes
    assert [int(h) for h in ngram_hashes(th, n, prefix_sums(th))] == want


def test_word_ids_with_gaps_and_short_inputs():
    ids = np.array([0, 1, -1, 0, 1, 2], dtype=np.int64)
    got = [int(h) for h in ngram_hashes(ids, 2)]
    vals = [int(v) & MASK for v in ids]
    assert got == [ref_hash(vals[i : i + 2]) for i in range(len(vals) - 1)]
    assert got[0] == got[3]  # the same bigram "0 1" on both sides of the gap
    assert len(ngram_hashes(ids, 7)) == 0 and len(ngram_hashes(ids, 0)) == 0


def test_minhash_shingle_hashes_are_the_shared_hash_of_code_points(pages):
    """A shingle's hash is mix64 of the formula over the code points of its normalised words."""
    n, seed = 5, 11
    texts = pages[:4]
    h, owner, whole = M._batch_hashes(texts, n, seed)
    for k, t in enumerate(texts):
        words = M.normalize_for_shingles(t).split()
        want = [
            ref_hash([ord(c) for c in " ".join(words[i : i + n])])
            for i in range(len(words) - n + 1)
        ]
        got = h[owner == k]
        assert [int(x) for x in got] == [int(x) for x in mix64(np.array(want, np.uint64), seed)]
        full = ref_hash([ord(c) for c in " ".join(words)])
        assert int(whole[k]) == int(mix64(np.array([full], np.uint64), M._TEXT_SEED)[0])


def test_signatures_stored_by_earlier_runs_are_reproduced(data_dir, pages):
    """docs/ keeps MinHash signatures under a ``minhash_key`` naming SIGNATURE_VERSION 1; dedup
    reuses them, so today's code must give the very values that version stored."""
    stored = json.loads((data_dir / "dedup" / "signatures_v1.json").read_text())
    assert M.SIGNATURE_VERSION == 1
    sig, th = M.signatures_and_text_hashes(pages[:16], DedupConfig())
    assert sig.tolist() == stored["signatures"]
    assert th.tolist() == stored["text_hashes"]
