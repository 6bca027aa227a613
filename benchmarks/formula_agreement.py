"""What counts as a formula, before and after a change: per corpus, the formulas found by this
tree's :func:`pipeline.math_text.math_spans` and by the finders of another git revision, and
the disagreements by kind, with examples.

    .venv/bin/python -m benchmarks.formula_agreement [--base REV] [--warc] [--examples N]

``--base`` (default ``main``) names the revision whose finders are compared; each finder it
has is loaded from its source at that revision (``git show``): ``math_spans`` (cleaning and
masking), ``formula_spans`` (the extractor's ``formulas`` column, where present) and
``classifiers/features.py``'s ``_FORMULA`` (the classifier's formula token, where present).
Corpora (real text only): tests/data/clean/*.jsonl, classifiers/data/{seeds,heldout,
negatives}.jsonl.gz, the fast extraction of tests/data/html and tests/data/forum pages, and with
``--warc`` the fast extraction of every HTML page of sample/sample.warc.gz.
"""

from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import types
from collections import Counter, defaultdict
from pathlib import Path

from pipeline.math_text import math_spans

ROOT = Path(__file__).resolve().parent.parent


def load_revision_module(rev: str, path: str) -> types.ModuleType | None:
    """The module at ``path`` as of git revision ``rev`` (None if it did not exist)."""
    proc = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        return None
    mod = types.ModuleType(f"{rev}:{path}")
    exec(compile(proc.stdout, f"{rev}:{path}", "exec"), mod.__dict__)  # noqa: S102 - our own source
    return mod


def old_finders(rev: str) -> dict[str, callable]:
    """name -> text -> list of (start, end), for each finder the revision has."""
    out = {}
    mt = load_revision_module(rev, "pipeline/math_text.py")
    if mt is not None and hasattr(mt, "math_spans"):
        out["cleaning"] = mt.math_spans
    if mt is not None and hasattr(mt, "formula_spans"):
        out["extractor"] = lambda t, f=mt.formula_spans: [(a, b) for a, b, _ in f(t)]
    feats = load_revision_module(rev, "classifiers/features.py")
    if feats is not None and hasattr(feats, "_FORMULA"):
        # the regex matches only the opener of an environment: extend to the same span as
        # the scanners for the comparison (its count is what the classifier used)
        out["classifier"] = lambda t, r=feats._FORMULA: [_to_env_end(t, m) for m in r.finditer(t)]
    return out


def _to_env_end(text: str, m: re.Match) -> tuple[int, int]:
    if not m.group(0).startswith("\\begin"):
        return m.span()
    end = "\\end" + m.group(0)[6:]
    c = text.find(end, m.end())
    return (m.start(), c + len(end)) if c != -1 else m.span()


# --- corpora ------------------------------------------------------------------------------------


def _texts(path: Path) -> list[str]:
    from infra.storage import read_rows

    return [r["text"] for r in read_rows(path)]


def _extract_pages(pages: list[tuple[str, str]]) -> list[str]:
    from pipeline.config import ExtractConfig
    from pipeline.html_text import Extraction, extract_text

    cfg = ExtractConfig(page_timeout_s=0)
    out = []
    for url, html in pages:
        res = extract_text(html, url=url, mode="fast", config=cfg)
        if isinstance(res, Extraction):
            out.append(res.text)
    return out


def _html_files(folder: Path) -> list[tuple[str, str]]:
    pages = []
    for p in sorted(folder.rglob("*")):
        if p.name.endswith((".html", ".htm")):
            pages.append((p.name, p.read_text(errors="replace")))
        elif p.name.endswith((".html.gz", ".htm.gz")):
            pages.append((p.name, gzip.decompress(p.read_bytes()).decode("utf-8", "replace")))
    return pages


def _warc_pages(path: Path) -> list[tuple[str, str]]:
    from pipeline.charset import decode_html
    from pipeline.config import ExtractConfig
    from pipeline.records import Dropped
    from pipeline.warc import iter_records

    pages = []
    with open(path, "rb") as f:
        for rec in iter_records(f, str(path), ExtractConfig()):
            if not isinstance(rec, Dropped):
                pages.append((rec.url, decode_html(rec.body, rec.content_type)[0]))
    return pages


def load_corpora(with_warc: bool) -> dict[str, list[str]]:
    corpora = {}
    for p in sorted((ROOT / "tests" / "data" / "clean").glob("*.jsonl")):
        corpora[f"clean/{p.stem}"] = _texts(p)
    for p in sorted((ROOT / "classifiers" / "data").glob("*.jsonl.gz")):
        corpora[f"classifier/{p.name.removesuffix('.jsonl.gz')}"] = _texts(p)
    corpora["extracted tests/data/html"] = _extract_pages(_html_files(ROOT / "tests/data/html"))
    corpora["extracted tests/data/forum"] = _extract_pages(_html_files(ROOT / "tests/data/forum"))
    if with_warc:
        corpora["extracted sample.warc.gz"] = _extract_pages(
            _warc_pages(ROOT / "sample" / "sample.warc.gz")
        )
    return corpora


# --- kinds of disagreement ----------------------------------------------------------------------

_PRICE = re.compile(r"^\$\s*\d")


def kind_of(s: str) -> str:
    """A short name for what a formula span is, to group the disagreements."""
    if s.startswith("\\("):
        base = "\\(..\\)"
    elif s.startswith("\\["):
        base = "\\[..\\]"
    elif s.startswith("\\begin"):
        base = "\\begin{" + s[7 : s.find("}")] + "}"
    elif s.startswith("$$"):
        base = "$$..$$"
    elif s.startswith("$"):
        base = "$..$"
    else:
        base = "other"
    if base.startswith("$"):
        body = s.strip("$")
        if s.startswith("$$$") or s.endswith("$$$"):
            return base + " next to $$$ (a run of dollars)"
        if "\n\n" in body:
            return base + " across a blank line"
        if base == "$..$" and _PRICE.match(s):
            return base + " starting with a number (price?)"
        if base == "$..$" and "\n" in body:
            return base + " across a line break"
        if body[:1].isspace() or body[-1:].isspace():
            return base + " spaced inside"
        if not body.strip():
            return base + " empty"
    if len(s) > 2_000:
        return base + " longer than 2,000 chars"
    return base


def compare(corpora, old, examples: int) -> None:
    print(
        f"{'corpus':34s} {'docs':>6s} {'new':>7s} "
        + " ".join(f"{'old ' + k:>15s}" for k in old)
        + "   docs whose count changed"
    )
    diffs: dict[str, dict[str, Counter]] = {k: defaultdict(Counter) for k in old}
    samples: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for name, texts in corpora.items():
        new_total = 0
        old_totals = Counter()
        changed = Counter()
        for t in texts:
            new = set(math_spans(t))
            new_total += len(new)
            for k, f in old.items():
                o = set(f(t))
                old_totals[k] += len(o)
                changed[k] += len(o) != len(new)
                for side, spans in (("old only", o - new), ("new only", new - o)):
                    for a, b in sorted(spans):
                        kind = kind_of(t[a:b])
                        diffs[k][side][kind] += 1
                        key = (k, side, kind)
                        if len(samples[key]) < examples:
                            samples[key].append(f"{name}: {t[max(0, a - 30) : b + 30]!r}"[:300])
        print(
            f"{name[:34]:34s} {len(texts):6d} {new_total:7d} "
            + " ".join(f"{old_totals[k]:15d}" for k in old)
            + "   "
            + ", ".join(f"{k} {changed[k]}" for k in old)
        )
    for k in old:
        print(f"\nspans that differ from the old {k} finder, by kind:")
        for side in ("old only", "new only"):
            for kind, c in diffs[k][side].most_common():
                print(f"  {side:8s} {c:6d}  {kind}")
                for ex in samples[(k, side, kind)]:
                    print(f"        {ex}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="main", help="git revision of the old finders")
    ap.add_argument("--warc", action="store_true", help="also the bundled sample WARC's pages")
    ap.add_argument("--examples", type=int, default=2, help="examples per kind")
    a = ap.parse_args(argv)
    old = old_finders(a.base)
    if not old:
        print(f"{a.base} has no formula finder to compare with")
        return 2
    compare(load_corpora(a.warc), old, a.examples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
