"""64-bit polynomial hashes of n-grams: the project's one n-gram hasher.

A sequence of values (code points for MinHash shingles, per-token hashes for decontamination,
word ids for the Gopher repetition rules) is hashed as a polynomial mod 2**64,

    hash(v[s:e]) = sum((v[i] + 1) * BASE**(i - s) for i in range(s, e)) ^ (e - s) * LENGTH_MIX

computed for every span at once from one prefix sum: the hash of a span is one subtraction and
one multiplication by an inverse power, so all n-grams of a text cost O(len) numpy work
whatever n is. ``+ 1`` makes a zero value still change the hash; the length term keeps spans of
different lengths apart. Callers that need well-mixed bits (MinHash bins) apply
:func:`mix64` on top.

MinHash signatures stored in docs/ depend on these exact values (``SIGNATURE_VERSION`` in
``pipeline/minhash.py``): change the arithmetic only together with that version.
"""

from __future__ import annotations

import hashlib

import numpy as np

U64 = np.uint64
# Polynomial base: the 64-bit golden-ratio constant (splitmix64's increment); odd, so it is
# invertible mod 2**64 and a span hash can be divided out of the prefix sum.
BASE = 0x9E3779B97F4A7C15
_BASE_INV = pow(BASE, -1, 1 << 64)
LENGTH_MIX = U64(0xD6E8FEB86659FD93)
_MASK64 = 0xFFFFFFFFFFFFFFFF

_tables: dict[str, np.ndarray] = {}  # power tables, built on first use and grown, per process


def _power_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE**i and BASE**-i mod 2**64 for i < n (at least)."""
    have = _tables.get("pow")
    if have is None or len(have) < n:
        size = max(n, 4096, 0 if have is None else 2 * len(have))
        with np.errstate(over="ignore"):
            p = np.full(size, BASE, dtype=U64)
            p[0] = 1
            _tables["pow"] = np.cumprod(p, dtype=U64)
            q = np.full(size, _BASE_INV, dtype=U64)
            q[0] = 1
            _tables["inv"] = np.cumprod(q, dtype=U64)
    return _tables["pow"], _tables["inv"]


def reserve(n: int) -> None:
    """Build the power tables for sequences of ``n`` values now (a batch caller's known bound),
    instead of growing them step by step."""
    _power_tables(n)


def prefix_sums(values: np.ndarray) -> np.ndarray:
    """``prefix[j] = sum((v[i] + 1) * BASE**i for i < j)`` mod 2**64 (len(values) + 1 entries)."""
    n = len(values)
    pw, _ = _power_tables(n + 1)
    with np.errstate(over="ignore"):
        terms = np.asarray(values).astype(U64)  # int64 -1 wraps to 2**64 - 1: still a value
        terms += U64(1)
        terms *= pw[:n]
        prefix = np.zeros(n + 1, dtype=U64)
        np.cumsum(terms, out=prefix[1:])
    return prefix


def span_hashes(prefix: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Hash of ``values[s:e]`` for each (s, e), from ``prefix_sums(values)``."""
    _, inv = _power_tables(len(prefix))
    with np.errstate(over="ignore"):
        h = (prefix[ends] - prefix[starts]) * inv[starts]
        h ^= (ends - starts).astype(U64) * LENGTH_MIX
    return h


def ngram_hashes(values: np.ndarray, n: int, prefix: np.ndarray | None = None) -> np.ndarray:
    """Hash of every contiguous n-gram of ``values`` (len - n + 1 of them; none if too short).
    Pass ``prefix`` (``prefix_sums(values)``) when hashing several n of one sequence."""
    m = len(values) - n + 1
    if m <= 0 or n <= 0:
        return np.empty(0, dtype=U64)
    if prefix is None:
        prefix = prefix_sums(values)
    starts = np.arange(m, dtype=np.int64)
    return span_hashes(prefix, starts, starts + n)


def mix64(x: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 finaliser of ``x ^ seed``: avalanche so every output bit depends on every
    input bit (MinHash takes bins from the high bits and values from the low ones)."""
    with np.errstate(over="ignore"):
        x = x ^ U64(((seed + 1) * BASE) & _MASK64)
        x ^= x >> U64(30)
        x *= U64(0xBF58476D1CE4E5B9)
        x ^= x >> U64(27)
        x *= U64(0x94D049BB133111EB)
        x ^= x >> U64(31)
    return x


def token_hashes(tokens: list[str]) -> np.ndarray:
    """A 64-bit blake2b hash of each token (never Python's ``hash``, which is salted per
    process: driver and executors must agree)."""
    # hash each distinct token once (pages repeat their words), then map in one list pass
    hmap = {
        t: int.from_bytes(
            hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
        )
        for t in set(tokens)
    }
    return np.array([hmap[t] for t in tokens], dtype=U64)
