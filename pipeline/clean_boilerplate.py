"""Cross-page boilerplate lines (cc_net-style): a normalised line that recurs on many pages of
one registered domain is navigation, a footer or a banner, and is removed.

The Spark stage counts :func:`counted_line_hashes` per domain (``jobs/clean_job.py``) and hands
each page the hashes of its domain's common lines; :func:`boilerplate_lines` removes them.
:func:`domain_boilerplate` is the same count in plain Python (``mathmine explain``, the
benchmarks and the tests use it).
Lines with a formula, TeX control words, a math structure label ("Proof.", "Example 2.1.") or
plain-text arithmetic are never hashed and never removed.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

from pipeline.clean_analysis import is_markup_line
from pipeline.config import CleanConfig
from pipeline.math_text import has_arithmetic, is_math_label
from pipeline.text_norm import Line, normalize_text, split_lines

_HASH_STRIP = re.compile(r"[^\w\s]")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def line_key(text: str) -> str:
    """cc_net's line normal form: lower case, numbers as 0, punctuation removed, spaces collapsed."""
    t = _DIGITS.sub("0", text.lower())
    t = _HASH_STRIP.sub("", t)
    return _SPACES.sub(" ", t).strip()


def line_hash(text: str) -> int:
    """Signed 64-bit hash of a line's normal form (a Spark LongType)."""
    d = hashlib.blake2b(line_key(text).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(d, "big", signed=True)


def _may_be_boilerplate(ln: Line) -> bool:
    # plain-text arithmetic ("48/2 = 24") is math too: numbers normalise to 0 in the line key,
    # so two exercises differing only in their numbers would otherwise share a key
    return (
        not is_markup_line(ln)  # formulas and TeX source lines (\\begin{proof}, \\noindent)
        and not is_math_label(ln.text)
        and not has_arithmetic(ln.text)
        and bool(line_key(ln.text))
    )


def hashable_lines(lines: list[Line]) -> list[Line]:
    """Lines that may be boilerplate: no formula, no math structure label, not blank."""
    return [ln for ln in lines if _may_be_boilerplate(ln)]


def page_line_hashes(text: str) -> list[int]:
    """Distinct hashes of the page's candidate boilerplate lines (the Spark counting input)."""
    return sorted({line_hash(ln.text) for ln in hashable_lines(split_lines(text))})


def counted_line_hashes(text: str, cfg: CleanConfig) -> list[int]:
    """:func:`page_line_hashes` of the text as the clean chain sees it (normalised first when
    ``cfg.normalize_unicode``): what the clean stage counts for one page."""
    return page_line_hashes(normalize_text(text) if cfg.normalize_unicode else text)


def domain_boilerplate(
    pages: Iterable[tuple[str, str, str]], cfg: CleanConfig
) -> dict[str, list[int]]:
    """``{domain: sorted line hashes on >= cfg.boilerplate_min_pages distinct pages of it}``
    over ``(id, domain, text)`` pages, as the clean stage counts them in Spark: a page id counts
    once, pages without a domain never count."""
    counts: dict[str, Counter] = {}
    seen: set[str] = set()
    for pid, domain, text in pages:
        if not domain or pid in seen:
            continue
        seen.add(pid)
        counts.setdefault(domain, Counter()).update(counted_line_hashes(text or "", cfg))
    return {
        d: sorted(h for h, n in c.items() if n >= cfg.boilerplate_min_pages)
        for d, c in counts.items()
    }


def boilerplate_lines(
    lines: list[Line], hashes: frozenset[int] | set[int]
) -> tuple[list[Line], list[Line]]:
    """Remove lines whose hash is in this domain's boilerplate set; lines with math and math
    structure labels ("Proof.", "Example 2.1.") stay."""
    if not hashes:
        return lines, []
    kept, removed = [], []
    for ln in lines:
        if ln.text.strip() and _may_be_boilerplate(ln):
            if line_hash(ln.text) in hashes:
                removed.append(ln)
                continue
        kept.append(ln)
    return kept, removed
