"""Shingling, MinHash signatures and LSH banding on real page texts (tests/data/dedup)."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest

from pipeline import minhash as M
from pipeline.config import DedupConfig

CFG = DedupConfig()


@pytest.fixture(scope="module")
def pages(data_dir):
    return [
        json.loads(line)["text"] for line in gzip.open(data_dir / "dedup" / "pages.jsonl.gz", "rt")
    ]


def edit_words(text: str, rate: float, rng: random.Random) -> str:
    """Replace about ``rate`` of the words with fresh ones (a derived near-duplicate)."""
    return " ".join(
        w if rng.random() >= rate else f"zq{rng.randrange(10**9)}" for w in text.split()
    )


def ref_shingles(text: str, n: int) -> set[tuple[str, ...]]:
    words = M.normalize_for_shingles(text).split()
    if len(words) < n:
        return {tuple(words)}
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def ref_jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = ref_shingles(a, n), ref_shingles(b, n)
    return len(sa & sb) / len(sa | sb)


def test_normalize_for_shingles():
    assert M.normalize_for_shingles("  Hello,  World!\n\tIt's  $x^2$ ") == "hello world its x2"
    assert M.normalize_for_shingles("") == ""
    assert M.normalize_for_shingles("...") == ""
    assert M.normalize_for_shingles("a\u00a0b\u2003c") == "a b c"  # Unicode spaces fold too


def test_batch_normalisation_matches_normalize_for_shingles(pages):
    odd = ["", "  ", "!!!", "one", " ,  x", "a\x00b", "x\u00a0y", "İstanbul ÇAĞ", "tab\tnew\nline"]
    texts = odd + pages + odd
    cp, _ = M._normalize_batch(texts)
    got = cp.astype("<u4").tobytes().decode("utf-32-le").split("\x00")
    assert got == [M.normalize_for_shingles(t) for t in texts]


def test_shingle_counts_match_a_reference(pages):
    for text in pages[:60] + ["", "two words", "exactly five words right here"]:
        assert len(M.shingle_set(text, CFG)) == len(ref_shingles(text, 5))


def test_exact_jaccard_matches_reference_on_derived_copies(pages):
    rng = random.Random(3)
    for text in pages[:40]:
        copy = edit_words(text, rng.choice([0.01, 0.05, 0.2]), rng)
        assert M.exact_jaccard(text, copy, CFG) == pytest.approx(ref_jaccard(text, copy), abs=1e-12)


def test_signature_shape_type_and_determinism(pages):
    s = M.minhash_signature(pages[0], CFG)
    assert s.dtype == np.uint32 and s.shape == (128,)
    assert np.array_equal(s, M.minhash_signature(pages[0], CFG))
    assert len(set(s.tolist())) > 100  # 128 distinct bins, not one value repeated
    other = M.minhash_signature(pages[0], DedupConfig(seed=2))
    assert M.estimate_jaccard(s, other) < 0.1  # the seed picks another hash family


def test_batch_equals_single(pages):
    texts = pages[:50] + ["", "short text", pages[60]]
    batch = M.minhash_signatures(texts, CFG)
    for i, t in enumerate(texts):
        assert np.array_equal(batch[i], M.minhash_signature(t, CFG))


def test_formatting_variants_give_equal_signatures_and_text_hashes(pages):
    text = pages[5]
    ascii_upper = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    variant = "  " + text.replace(" ", " ,  ").translate(ascii_upper) + "!!"
    assert np.array_equal(M.minhash_signature(text, CFG), M.minhash_signature(variant, CFG))
    assert M.text_hash(text) == M.text_hash(variant)
    assert M.text_hash(text) != M.text_hash(pages[6])


def test_estimate_tracks_exact_jaccard_on_real_pages(pages):
    rng = random.Random(7)
    errors = []
    long_pages = [p for p in pages if len(p.split()) > 300][:150]
    for text in long_pages:
        copy = edit_words(text, rng.uniform(0.0, 0.15), rng)
        j = M.exact_jaccard(text, copy, CFG)
        est = M.estimate_jaccard(M.minhash_signature(text, CFG), M.minhash_signature(copy, CFG))
        errors.append(est - j)
    errors = np.array(errors)
    # one estimate from 128 values has sd sqrt(J(1-J)/128) <= 0.044
    assert abs(errors.mean()) < 0.012
    assert np.sqrt((errors**2).mean()) < 0.05
    assert np.abs(errors).max() < 0.2


def test_unrelated_pages_estimate_near_zero(pages):
    sigs = M.minhash_signatures(pages[:80], CFG)
    est = [M.estimate_jaccard(sigs[i], sigs[i + 1]) for i in range(0, 78, 2)]
    assert np.mean(est) < 0.03


def test_short_texts_are_densified_consistently():
    # fewer words than the shingle size: one shingle, every bin filled (no sentinel values)
    a = M.minhash_signature("hello world", CFG)
    assert len(set(a.tolist())) == 1
    assert np.array_equal(a, M.minhash_signature("Hello,   WORLD.", CFG))
    assert not np.array_equal(a, M.minhash_signature("hello there", CFG))
    # a few shingles: few distinct values, and the estimate still tracks exact Jaccard
    x = "the cat sat on the mat and then it slept on the warm rug by the fire"
    y = "the cat sat on the mat and then it slept on the cold rug by the door"
    sx, sy = M.minhash_signature(x, CFG), M.minhash_signature(y, CFG)
    assert 0 < len(set(sx.tolist())) <= len(ref_shingles(x, 5))
    assert abs(M.estimate_jaccard(sx, sy) - ref_jaccard(x, y)) < 0.25
    assert M.minhash_signature("", CFG).shape == (128,)


def test_choose_bands_rows_matches_datasketch():
    from datasketch.lsh import _optimal_param

    for num_perm, t in ((128, 0.8), (128, 0.5), (256, 0.85), (64, 0.7), (128, 0.9)):
        assert M.choose_bands_rows(num_perm, t) == _optimal_param(t, num_perm, 0.5, 0.5)


def test_bands_rows_from_config():
    assert M.bands_rows(DedupConfig(bands=16, rows=8)) == (16, 8)
    assert M.bands_rows(DedupConfig(verify_jaccard=False)) == (9, 13)
    # verified candidates: the banding is chosen for recall at the threshold (issue 15)
    b, r = M.bands_rows(DedupConfig())
    assert (b, r) == (15, 7)
    assert M.candidate_probability(0.8, b, r) >= 0.97
    # an explicit false-negative weight keeps datasketch's criterion (the banding before)
    assert M.bands_rows(DedupConfig(fn_weight=0.9)) == (14, 9)
    assert M.bands_rows(DedupConfig(verify_jaccard=False, fn_weight=0.9)) == (14, 9)
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="exceeds"):
        M.bands_rows(DedupConfig(bands=20, rows=8))
    with pytest.raises(ConfigError, match="recall_at_threshold"):
        M.bands_rows(DedupConfig(num_perm=4, threshold=0.5, recall_at_threshold=0.99))


def _fp_area(b, r, t):
    steps = 200
    return (
        sum(M.candidate_probability(t * (i + 0.5) / steps, b, r) for i in range(steps)) / steps * t
    )


@pytest.mark.parametrize(
    "num_perm,t,recall", [(128, 0.8, 0.97), (128, 0.7, 0.99), (256, 0.85, 0.95), (64, 0.8, 0.9)]
)
def test_recall_banding_is_the_cheapest_that_reaches_the_target(num_perm, t, recall):
    b, r = M.choose_bands_for_recall(num_perm, t, recall)
    assert b * r <= num_perm and M.candidate_probability(t, b, r) >= recall
    every = [
        (bb, rr)
        for rr in range(1, num_perm + 1)
        for bb in range(1, num_perm // rr + 1)
        if M.candidate_probability(t, bb, rr) >= recall
    ]
    cheapest = min(_fp_area(bb, rr, t) for bb, rr in every)
    assert _fp_area(b, r, t) <= cheapest + 1e-9


def test_s_curve():
    curve = M.s_curve(9, 13)
    ps = [p for _, p in curve]
    assert ps == sorted(ps)
    assert [j for j, _ in curve] == [0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert ps[0] < 0.01 and ps[-1] > 0.99
    assert dict(curve)[0.8] == pytest.approx(1 - (1 - 0.8**13) ** 9)


def test_signature_key_names_text_and_parameters(pages):
    text = pages[3]
    sig, key = M.minhash_signature_and_key(text, CFG)
    assert np.array_equal(sig, M.minhash_signature(text, CFG))
    assert key == M.signature_keys(M.text_hashes([text]), CFG)[0]
    # formatting that normalisation removes gives the same shingles, hence the same key
    assert M.minhash_signature_and_key("  " + text.replace(" ", " ,  ") + " !", CFG)[1] == key
    others = [
        M.minhash_signature_and_key(text, DedupConfig(seed=2))[1],
        M.minhash_signature_and_key(text, DedupConfig(num_perm=64))[1],
        M.minhash_signature_and_key(text, DedupConfig(shingle_size=3))[1],
        M.minhash_signature_and_key(text + " one more sentence", CFG)[1],
    ]
    assert len({key, *others}) == 5
    # the threshold or banding do not change a signature: same key
    assert M.minhash_signature_and_key(text, DedupConfig(threshold=0.7, bands=10, rows=5))[1] == key


def test_shingle_sets_in_a_batch_equal_one_at_a_time(pages):
    texts = pages[:30] + ["", "two words"]
    for text, got in zip(texts, M.shingle_sets(texts, CFG)):
        assert np.array_equal(got, M.shingle_set(text, CFG))
        assert len(got) == len(ref_shingles(text, 5))


def test_band_hashes(pages):
    sigs = M.minhash_signatures(pages[:3], CFG)
    h = M.band_hashes(sigs, 9, 13)
    assert h.shape == (3, 9) and h.dtype == np.int64
    changed = sigs.copy()
    changed[0, 13] ^= 1  # a value of band 1 only
    h2 = M.band_hashes(changed, 9, 13)
    assert (h2[0] != h[0]).tolist() == [False, True] + [False] * 7
    # identical values in different bands must not collide
    same = np.full((1, 128), 7, dtype=np.uint32)
    assert len(set(M.band_hashes(same, 9, 13)[0].tolist())) == 9
