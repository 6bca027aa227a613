"""N-gram decontamination against benchmark texts (DeepSeekMath's rule by default).

DeepSeekMath (arXiv 2402.03300, section 2.1) drops a web page that contains any 10-gram of a
benchmark question or answer; benchmark texts shorter than 10 tokens but at least 3 are matched
exactly (the page must contain the whole short text). FineMath uses 13-grams: set ``n=13``.

The index is a set of 64-bit hashes per n-gram length, held as sorted numpy arrays with a
parallel array of benchmark ids: it pickles small (8+2 bytes per n-gram) so Spark can broadcast
it, and a page is checked with one vectorised ``searchsorted`` per length instead of a Python
set lookup per n-gram. N-gram hashes are the project's polynomial hashes
(``pipeline/ngram_hash.py``) of per-token blake2b hashes (never Python's ``hash``, which is
salted per process), so driver and executors agree. Nothing stores them: the index is rebuilt
from the benchmark texts each run.

Normalisation (both sides the same): Unicode NFKC, lowercase, every run of punctuation/symbols
replaced by a space, whitespace folded. Replacing punctuation by a space (rather than deleting
it) keeps ``16-3-4=9`` as four tokens, so arithmetic matches whether the page writes it with
spaces, dollars or LaTeX-free prose.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from pipeline.config import ExportConfig
from pipeline.ngram_hash import ngram_hashes, prefix_sums, token_hashes

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
# GSM8K answers carry calculator annotations (``<<16-3-4=9>>``) that no web copy has.
_CALC_ANNOTATION = re.compile(r"<<[^<>]{0,200}>>")

DEFAULT_TEXT_FIELDS = ExportConfig.benchmark_fields


@dataclass(frozen=True)
class NormalizeConfig:
    lowercase: bool = ExportConfig.decontam_lowercase
    strip_punctuation: bool = ExportConfig.decontam_strip_punctuation


def tokenize(text: str, norm: NormalizeConfig = NormalizeConfig()) -> list[str]:
    """Normalised tokens of ``text`` (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    if norm.lowercase:
        text = text.lower()
    if norm.strip_punctuation:
        text = _PUNCT.sub(" ", text)
    return text.split()


@dataclass
class NgramIndex:
    """Hashed benchmark n-grams (length ``n``) plus exact short texts (shorter lengths).

    ``tables[k] = (sorted uint64 hashes, uint16 benchmark ids)``; ``names[id]`` is the benchmark.
    """

    n: int
    min_exact_tokens: int
    norm: NormalizeConfig
    names: tuple[str, ...]
    tables: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    texts_indexed: dict[str, int] = field(default_factory=dict)
    texts_too_short: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(h) for h, _ in self.tables.values())

    def summary(self) -> dict:
        return {
            "n": self.n,
            "min_exact_tokens": self.min_exact_tokens,
            "lowercase": self.norm.lowercase,
            "strip_punctuation": self.norm.strip_punctuation,
            "hashes": len(self),
            "benchmarks": {
                name: {
                    "texts_indexed": self.texts_indexed.get(name, 0),
                    "texts_too_short": self.texts_too_short.get(name, 0),
                }
                for name in self.names
            },
        }


def build_ngram_index(
    benchmark_texts_by_name: Mapping[str, Iterable[str]],
    n: int = ExportConfig.ngram,
    min_exact_tokens: int = ExportConfig.min_exact_tokens,
    norm: NormalizeConfig = NormalizeConfig(),
) -> NgramIndex:
    """Index every n-gram of every benchmark text; texts of ``min_exact_tokens..n-1`` tokens are
    indexed whole (matched exactly), shorter ones are skipped (too common to mean leakage)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    names = tuple(benchmark_texts_by_name)
    if len(names) > np.iinfo(np.uint16).max:
        raise ValueError("too many benchmarks for one index")
    per_len: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    indexed: dict[str, int] = {}
    too_short: dict[str, int] = {}
    for bid, name in enumerate(names):
        indexed[name] = too_short[name] = 0
        for text in benchmark_texts_by_name[name]:
            toks = tokenize(text, norm)
            if len(toks) < max(min_exact_tokens, 1):
                too_short[name] += 1
                continue
            k = min(len(toks), n)
            hs = ngram_hashes(token_hashes(toks), k)
            if k < n:
                hs = hs[:1]  # the whole short text, matched exactly
            hl, il = per_len.setdefault(k, ([], []))
            hl.append(hs)
            il.append(np.full(len(hs), bid, dtype=np.uint16))
            indexed[name] += 1
    tables = {}
    for k, (hl, il) in per_len.items():
        h = np.concatenate(hl)
        ids = np.concatenate(il)
        # stable sort + unique keeps the first benchmark an n-gram was seen in
        order = np.argsort(h, kind="stable")
        h, ids = h[order], ids[order]
        uniq, first = np.unique(h, return_index=True)
        tables[k] = (uniq, ids[first])
    return NgramIndex(n, min_exact_tokens, norm, names, tables, indexed, too_short)


def find_contamination(
    text: str, index: NgramIndex, max_matches: int = 10
) -> list[tuple[str, str]]:
    """(benchmark, matching normalised n-gram) pairs found in ``text``; empty = clean.

    Stops after ``max_matches`` distinct matches (0 = report all); any match means contaminated.
    """
    if not index.tables:
        return []
    toks = tokenize(text, index.norm)
    if not toks:
        return []
    th = token_hashes(toks)
    prefix = prefix_sums(th)  # one prefix sum serves every n-gram length
    found: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    for k in sorted(index.tables, reverse=True):
        table, ids = index.tables[k]
        hs = ngram_hashes(th, k, prefix)
        if not len(hs):
            continue
        pos = np.searchsorted(table, hs)
        pos[pos >= len(table)] = 0
        hit = np.nonzero(table[pos] == hs)[0]
        for i in hit:
            gram = " ".join(toks[i : i + k])
            if gram in seen:
                continue
            seen.add(gram)
            found.append((int(i), index.names[int(ids[pos[i]])], gram))
            if max_matches and len(found) >= max_matches:
                break
        if max_matches and len(found) >= max_matches:
            break
    found.sort()
    return [(name, gram) for _, name, gram in found]


def benchmark_texts_from_rows(
    rows: Iterable[Mapping], fields: Iterable[str] = DEFAULT_TEXT_FIELDS
) -> list[str]:
    """Benchmark texts from rows of a JSONL/Parquet benchmark: each present text field of each
    row is its own text (a page copying only the question, or only the solution, still leaks).
    Calculator annotations ``<<a*b=c>>`` are removed."""
    fields = tuple(fields)
    out = []
    for row in rows:
        for f in fields:
            v = row.get(f)
            if isinstance(v, str) and v.strip():
                out.append(_CALC_ANNOTATION.sub("", v))
    return out
