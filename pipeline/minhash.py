"""MinHash signatures of word n-gram shingles, and the LSH banding arithmetic.

Speed matters (a signature per extracted page, on every page of a crawl), so a batch of texts is
hashed in a handful of numpy passes, with no Python loop over words or shingles:

1. normalise (lowercase, punctuation removed, whitespace folded to single spaces) the whole
   batch at once as one array of code points, classed by a per-process lookup table built
   with the very regular expressions of ``normalize_for_shingles`` (a regex pass per text was
   the slowest step);
2. a polynomial hash mod 2**64 over the code points as a prefix sum (``pipeline/ngram_hash.py``,
   the project's one n-gram hasher), so the hash of any span (a
   shingle is the span from the start of word i to the end of word i+n-1) is one subtraction
   and one multiplication by an inverse power: all shingles of the batch at once;
3. a splitmix64 finaliser (seeded) turns each span hash into 64 well-mixed bits;
4. one-permutation hashing (Li, Owen, Zhang 2012): the high bits pick one of ``num_perm`` bins,
   the low 32 bits are the value, and each bin keeps its minimum. That costs O(shingles)
   instead of the O(num_perm x shingles) of ``num_perm`` separate permutations;
5. empty bins (short texts) are filled by optimal densification (Shrivastava 2017): bin j
   borrows the value of the first non-empty bin in a fixed pseudo-random probe sequence of j,
   so equal shingle sets still give equal signatures and the collision probability of each
   position stays the Jaccard similarity, which is what LSH banding needs.

``mean(sig_a == sig_b)`` estimates the Jaccard similarity of the two shingle sets.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

import numpy as np

from pipeline.config import DedupConfig
from pipeline.ngram_hash import BASE, mix64, prefix_sums, reserve, span_hashes

_NON_WORD = re.compile(r"[^\w\s]+")
_U64 = np.uint64
_MASK32 = _U64(0xFFFFFFFF)
# Characters hashed at once: bounds the power tables and temporaries (~100 MB) per process.
_CHUNK_CHARS = 1 << 21
_TEXT_SEED = 0x5EED_7E47
_PROBES = 64  # densification probes tried per round before the next round
# Bump when shingling, hashing or densification change: signatures stored by an older version
# then carry another ``minhash_key`` and dedup recomputes them.
SIGNATURE_VERSION = 1

_tables: dict[str, np.ndarray] = {}  # tables built on first use, per process


def normalize_for_shingles(text: str) -> str:
    """Lowercase, drop punctuation, fold whitespace: the text that shingles are cut from."""
    return " ".join(_NON_WORD.sub("", (text or "").lower()).split())


def _char_classes() -> np.ndarray:
    """Class of every code point under the ``normalize_for_shingles`` rules: 0 kept (``\\w``),
    1 removed (neither ``\\w`` nor ``\\s``), 2 whitespace. Built once per process (~50 ms)
    with the same regular expressions, so both paths agree on every character."""
    tab = _tables.get("classes")
    if tab is None:
        cps = np.arange(0x110000, dtype="<u4")
        cps[0xD800:0xE000] = 0x20  # lone surrogates cannot be decoded; classed below
        every = cps.tobytes().decode("utf-32-le")
        tab = np.zeros(0x110000, dtype=np.uint8)
        for m in _NON_WORD.finditer(every):
            tab[m.start() : m.end()] = 1
        for m in re.finditer(r"\s+", every):
            tab[m.start() : m.end()] = 2
        tab[0xD800:0xE000] = 1
        _tables["classes"] = tab
    return tab


def _normalize_batch(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``normalize_for_shingles`` of every text at once: code points of the normalised texts
    joined by a 0 separator (whitespace as 32), and their classes (0 word, 2 space, 3 separator).
    """
    # U+0000 is punctuation to normalize_for_shingles (removed): free to mark text boundaries
    texts = [(t or "").replace("\0", "") if "\0" in (t or "") else (t or "") for t in texts]
    cp = np.frombuffer("\0".join(texts).lower().encode("utf-32-le", "surrogatepass"), "<u4")
    tab = _char_classes()
    cls = tab[cp]
    cls[cp == 0] = 3
    keep = cls != 1
    cp, cls = cp[keep], cls[keep]
    # a whitespace character survives only right after a word character (first of its run) ...
    keep = cls != 2
    keep[1:] |= cls[:-1] == 0
    if len(cls):
        keep[0] = cls[0] != 2
    cp, cls = cp[keep], cls[keep]
    # ... and not at the end of its text
    drop = cls == 2
    drop[:-1] &= cls[1:] == 3
    cp, cls = cp[~drop], cls[~drop]
    cp = np.where(cls == 2, np.uint32(32), cp)
    return cp, cls


def _span_hashes(texts: Sequence[str], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    h, owner, _ = _batch_hashes(texts, n, seed)
    return h, owner


def _batch_hashes(
    texts: Sequence[str], n: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mixed 64-bit hashes of every n-word shingle of each text (normalised as by
    ``normalize_for_shingles``), the index of the text each belongs to, and a 64-bit hash of each
    whole normalised text. A text of fewer than n words (even none) gives one shingle of the whole
    normalised text."""
    cp, cls = _normalize_batch(texts)
    ndocs = len(texts)
    word = cls == 0
    prev_word = np.zeros(len(word), dtype=bool)
    prev_word[1:] = word[:-1]
    next_word = np.zeros(len(word), dtype=bool)
    next_word[:-1] = word[1:]
    starts = np.flatnonzero(word & ~prev_word)
    ends = np.flatnonzero(word & ~next_word) + 1
    seps = np.flatnonzero(cls == 3)
    nwords = np.bincount(np.searchsorted(seps, starts), minlength=ndocs).astype(np.int64)
    first = np.cumsum(nwords) - nwords
    nsh = np.maximum(nwords - n + 1, 1)
    owner = np.repeat(np.arange(ndocs, dtype=np.int64), nsh)
    offs = np.arange(len(owner), dtype=np.int64) - np.repeat(np.cumsum(nsh) - nsh, nsh)
    w0 = np.repeat(first, nsh) + offs
    w1 = np.minimum(w0 + n - 1, np.repeat(first + nwords - 1, nsh))
    if nwords.all():
        s, e = starts[w0], ends[w1]
    else:
        has = np.repeat(nwords > 0, nsh)  # texts without words hash the empty span
        s = np.zeros(len(owner), dtype=np.int64)
        e = np.zeros(len(owner), dtype=np.int64)
        s[has] = starts[w0[has]]
        e[has] = ends[w1[has]]
    # polynomial hashes of code points (pipeline/ngram_hash.py): shingles and whole texts
    reserve(max(len(cp) + 1, _CHUNK_CHARS + 1))
    prefix = prefix_sums(cp)
    h = span_hashes(prefix, s, e)
    ds = np.empty(ndocs, dtype=np.int64)
    ds[0] = 0
    ds[1:] = seps + 1
    de = np.empty(ndocs, dtype=np.int64)
    de[:-1] = seps
    de[-1] = len(cp)
    whole = span_hashes(prefix, ds, de)
    # the whole-text hash ignores the seed: exact-text keys stay comparable across configs
    return mix64(h, seed), owner, mix64(whole, _TEXT_SEED)


def _probe_table(num_perm: int, seed: int, rounds: int) -> np.ndarray:
    """For each bin j a fixed pseudo-random sequence of bins to borrow from when j is empty."""
    key = f"probes-{num_perm}-{seed}-{rounds}"
    if key not in _tables:
        _tables[key] = _make_probe_table(num_perm, seed, rounds)
    return _tables[key]


def _make_probe_table(num_perm: int, seed: int, rounds: int) -> np.ndarray:
    j = np.arange(num_perm, dtype=_U64)[:, None]
    t = np.arange(1, rounds * _PROBES + 1, dtype=_U64)[None, :]
    with np.errstate(over="ignore"):
        x = mix64(j * _U64(0x100000001B3) + t * _U64(0xC2B2AE3D27D4EB4F), seed + 7919)
    return ((x >> _U64(32)) * _U64(num_perm) >> _U64(32)).astype(np.int64)


def _densify(sig: np.ndarray, empty: np.ndarray, seed: int) -> None:
    """Fill empty bins in place (optimal densification). Bins only ever borrow from bins that
    were non-empty before densification, so the result does not depend on fill order."""
    r_idx, j_idx = np.nonzero(empty)
    if len(r_idx) == 0:
        return
    orig = ~empty
    rounds = 1
    while len(r_idx):
        probes = _probe_table(sig.shape[1], seed, rounds)
        cand = probes[j_idx]  # (k, probes): bins tried in order
        ok = orig[r_idx[:, None], cand]
        found = ok.any(axis=1)
        pick = cand[np.arange(len(cand)), ok.argmax(axis=1)]
        sig[r_idx[found], j_idx[found]] = sig[r_idx[found], pick[found]]
        r_idx, j_idx = r_idx[~found], j_idx[~found]
        rounds *= 4
        if rounds > 4096 and len(r_idx):  # practically unreachable; stay deterministic
            for r, j in zip(r_idx, j_idx):
                sig[r, j] = sig[r, orig[r]].min()
            return


def minhash_signatures(texts: Sequence[str], cfg: DedupConfig) -> np.ndarray:
    """Signatures of many texts: a ``(len(texts), cfg.num_perm)`` uint32 array."""
    return signatures_and_text_hashes(texts, cfg)[0]


def _chunks(texts: Sequence[str]):
    i = 0
    while i < len(texts):
        j, size = i, 0
        while j < len(texts) and (j == i or size + len(texts[j] or "") < _CHUNK_CHARS):
            size += len(texts[j] or "")
            j += 1
        yield i, j
        i = j


def signatures_and_text_hashes(
    texts: Sequence[str], cfg: DedupConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Signatures (as ``minhash_signatures``) and ``text_hash`` of every text, in one pass."""
    out = np.empty((len(texts), cfg.num_perm), dtype=np.uint32)
    th = np.empty(len(texts), dtype=np.int64)
    for i, j in _chunks(texts):
        out[i:j], th[i:j] = _signatures_of(texts[i:j], cfg.shingle_size, cfg.num_perm, cfg.seed)
    return out, th


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """Signed 64-bit hashes of the normalised texts, for exact-text dedup."""
    th = np.empty(len(texts), dtype=np.int64)
    for i, j in _chunks(texts):
        th[i:j] = _batch_hashes(texts[i:j], 1, 0)[2].view(np.int64)
    return th


def _signatures_of(
    texts: Sequence[str], n: int, num_perm: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    h, owner, whole = _batch_hashes(texts, n, seed)
    # fast range reduction: the high 32 bits times num_perm, shifted down, is a uniform bin
    bins = ((h >> _U64(32)) * _U64(num_perm)) >> _U64(32)
    vals = h & _MASK32
    sig = np.full(len(texts) * num_perm, 1 << 32, dtype=_U64)
    np.minimum.at(sig, owner.astype(_U64) * _U64(num_perm) + bins, vals)
    sig = sig.reshape(len(texts), num_perm)
    empty = sig == _U64(1 << 32)
    _densify(sig, empty, seed)
    return sig.astype(np.uint32), whole.view(np.int64)


def signature_keys(text_hashes_: np.ndarray, cfg: DedupConfig) -> np.ndarray:
    """What a stored signature was computed from, as signed 64-bit values: the normalised text
    (its ``text_hash``) and the signature's parameters (``SIGNATURE_VERSION``, seed, num_perm,
    shingle size). extract stores it beside ``minhash`` as ``minhash_key``; dedup recomputes
    every signature whose key is not the one of its current text and config (another seed or
    shingle size, or text changed by clean)."""
    params = repr((SIGNATURE_VERSION, cfg.seed, cfg.num_perm, cfg.shingle_size)).encode()
    word = int.from_bytes(hashlib.blake2b(params, digest_size=8).digest(), "little")
    th = np.asarray(text_hashes_, dtype=np.int64).view(_U64)
    return mix64(th ^ _U64(word), 0x51C).view(np.int64)


def minhash_signature_and_key(text: str, cfg: DedupConfig) -> tuple[np.ndarray, int]:
    """The signature of one text and its ``signature_keys`` value, in one pass."""
    sigs, th = signatures_and_text_hashes([text], cfg)
    return sigs[0], int(signature_keys(th, cfg)[0])


def minhash_signature(text: str, cfg: DedupConfig) -> np.ndarray:
    """The MinHash signature of one text: ``cfg.num_perm`` uint32 values."""
    return minhash_signatures([text], cfg)[0]


def shingle_sets(texts: Sequence[str], cfg: DedupConfig) -> list[np.ndarray]:
    """The sorted unique 64-bit hashes of each text's shingles (for exact Jaccard), the texts
    hashed in batches like the signatures."""
    out: list[np.ndarray] = []
    for i, j in _chunks(texts):
        h, owner = _span_hashes(texts[i:j], cfg.shingle_size, cfg.seed)
        cuts = np.searchsorted(owner, np.arange(1, j - i))
        out.extend(np.unique(part) for part in np.split(h, cuts))
    return out


def shingle_set(text: str, cfg: DedupConfig) -> np.ndarray:
    """The sorted unique 64-bit hashes of the text's shingles (for exact Jaccard)."""
    return shingle_sets([text], cfg)[0]


def set_jaccard(sa: np.ndarray, sb: np.ndarray) -> float:
    """Jaccard similarity of two ``shingle_set`` arrays."""
    inter = len(np.intersect1d(sa, sb, assume_unique=True))
    return inter / (len(sa) + len(sb) - inter)


def exact_jaccard(a: str, b: str, cfg: DedupConfig) -> float:
    """Jaccard similarity of the two texts' shingle sets."""
    sa, sb = shingle_sets([a, b], cfg)
    return set_jaccard(sa, sb)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """The MinHash estimate of Jaccard similarity: the share of equal positions."""
    return float(np.mean(np.asarray(sig_a) == np.asarray(sig_b)))


def text_hash(text: str) -> int:
    """A signed 64-bit hash of the normalised text, for exact-text dedup."""
    return int(text_hashes([text])[0])


def band_hashes(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(n, bands)`` signed 64-bit hashes of each band of ``rows`` signature values; the band
    index is hashed in, so equal values in different bands never collide."""
    n = len(sigs)
    s = np.asarray(sigs, dtype=_U64)[:, : bands * rows].reshape(n, bands, rows)
    with np.errstate(over="ignore"):
        mult = np.cumprod(np.full(rows, BASE, dtype=_U64), dtype=_U64)
        h = ((s + _U64(1)) * mult).sum(axis=2, dtype=_U64)
        h ^= np.arange(bands, dtype=_U64) * _U64(0xC2B2AE3D27D4EB4F)
    return mix64(h, 0xBA4D).view(np.int64)


# --- LSH banding --------------------------------------------------------------------------


def candidate_probability(j: float, bands: int, rows: int) -> float:
    """P(two docs of Jaccard j share at least one band) = 1 - (1 - j**rows)**bands."""
    return 1.0 - (1.0 - j**rows) ** bands


def _integrate(f, a: float, b: float, steps: int = 200) -> float:
    # midpoint rule: plenty for these smooth curves, and no scipy dependency
    w = (b - a) / steps
    return sum(f(a + (i + 0.5) * w) for i in range(steps)) * w


def choose_bands_rows(
    num_perm: int, threshold: float, weights: tuple[float, float] = (0.5, 0.5)
) -> tuple[int, int]:
    """Bands x rows (bands * rows <= num_perm) minimising the weighted false-positive area
    (candidate probability integrated over J < threshold) plus false-negative area
    (1 - probability over J >= threshold): datasketch's ``_optimal_param`` criterion."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    fp_w, fn_w = weights
    best, best_err = (1, num_perm), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _integrate(lambda s, b=b, r=r: candidate_probability(s, b, r), 0.0, threshold)
            fn = _integrate(lambda s, b=b, r=r: 1 - candidate_probability(s, b, r), threshold, 1.0)
            err = fp_w * fp + fn_w * fn
            if err < best_err - 1e-12:
                best, best_err = (b, r), err
    return best


def choose_bands_for_recall(num_perm: int, threshold: float, recall: float) -> tuple[int, int]:
    """The bands x rows (bands * rows <= num_perm) with P(candidate) >= ``recall`` at J =
    ``threshold`` and the least false-positive area (candidate probability integrated over
    J < threshold: the candidate pairs to verify); ties go to fewer values used.

    When every candidate pair is verified by exact Jaccard, a false positive costs one
    verification and a false negative a near duplicate left in the corpus, so the banding is
    chosen for recall at the threshold and pays in candidates.
    """
    options = []
    for r in range(1, num_perm + 1):
        # at r rows the fewest bands reaching the target: more bands only add candidates
        b = next(
            (
                b
                for b in range(1, num_perm // r + 1)
                if candidate_probability(threshold, b, r) >= recall
            ),
            0,
        )
        if b:
            fp = _integrate(lambda s, b=b, r=r: candidate_probability(s, b, r), 0.0, threshold)
            options.append((round(fp, 12), b * r, (b, r)))
    if not options:
        from pipeline.config import ConfigError

        raise ConfigError(
            f"no bands x rows within dedup.num_perm = {num_perm} reach P(candidate) >= {recall} "
            f"at J = {threshold}; raise num_perm or lower dedup.recall_at_threshold"
        )
    return min(options)[2]


def bands_rows(cfg: DedupConfig) -> tuple[int, int]:
    """The configured bands x rows, or the chosen ones when either is 0 (see ``banding_rule``)."""
    if cfg.bands and cfg.rows:
        if cfg.bands * cfg.rows > cfg.num_perm:
            from pipeline.config import ConfigError

            raise ConfigError(
                f"dedup.bands x dedup.rows = {cfg.bands * cfg.rows} exceeds dedup.num_perm = "
                f"{cfg.num_perm}; lower them or set both to 0 to choose automatically"
            )
        return cfg.bands, cfg.rows
    if cfg.verify_jaccard and not cfg.fn_weight:
        return choose_bands_for_recall(cfg.num_perm, cfg.threshold, cfg.recall_at_threshold)
    fn = lsh_fn_weight(cfg)
    return choose_bands_rows(cfg.num_perm, cfg.threshold, (1.0 - fn, fn))


def banding_rule(cfg: DedupConfig) -> str:
    """How ``bands_rows`` chose (for ``mathmine dedup --plan`` and the report)."""
    if cfg.bands and cfg.rows:
        return "set in the config"
    if cfg.verify_jaccard and not cfg.fn_weight:
        return (
            f"the fewest candidates with P >= {cfg.recall_at_threshold} at J = {cfg.threshold}, "
            "dedup.recall_at_threshold: candidates are verified by exact Jaccard"
        )
    return f"datasketch's weighted error, false-negative weight {lsh_fn_weight(cfg)}"


def lsh_fn_weight(cfg: DedupConfig) -> float:
    """The false-negative weight of datasketch's criterion (see ``DedupConfig.fn_weight``):
    0.5 unless set. Unverified candidates become links, so recall is not bought with them."""
    return cfg.fn_weight or 0.5  # load_config holds fn_weight to [0, 1)


def s_curve(
    bands: int,
    rows: int,
    js: Sequence[float] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95),
) -> list[tuple[float, float]]:
    """(J, probability of becoming a candidate pair) at each J."""
    return [(j, candidate_probability(j, bands, rows)) for j in js]
