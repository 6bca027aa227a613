"""Per-rule effect of the cleaning rules on real pages, side by side with datatrove.

  make bench-clean        (or: .venv/bin/python -m benchmarks.bench_clean)

Corpora (all real text, nothing synthetic): tests/data/clean/math_pages.jsonl (44 math pages:
cp-algorithms, StackMathQA, PlanetMath, Levin's Discrete Mathematics, MathJax and Wikipedia
pages), math_pages_extracted.jsonl (19 math pages of the sample WARC as mathmine's extractor
emits them), openstax_exercises.jsonl (4 OpenStax sections with exercise sets), the recall loop's held-out positives (classifiers/data/heldout.jsonl.gz, label 1, when
present), and tests/data/clean/nonmath_pages.jsonl (91 non-math pages of every kind).

Prints, per corpus: the pages each rule family drops (each family on its own, and the whole
chain with the first failing rule), the share of lines removed by line rules, formulas kept,
and the same numbers for datatrove's GopherRepetition, GopherQuality, C4Quality and
FineWebQuality filters at their defaults (datatrove is in the ``bench`` extra; without it the
datatrove columns are skipped with a message). Speed: pages/s of both chains in this process.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

from pipeline.clean_analysis import analyse
from pipeline.clean_boilerplate import page_line_hashes
from pipeline.clean_chain import clean_document
from pipeline.clean_rules import PAGE, RULES
from pipeline.config import CleanConfig
from pipeline.math_text import formulas
from pipeline.text_norm import normalize_text, split_lines

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "clean"
HELDOUT = ROOT / "classifiers" / "data" / "heldout.jsonl.gz"
FAMILIES = ("gopher_repetition", "gopher_quality", "c4", "fineweb")


def load_corpora() -> dict[str, list[dict]]:
    def jsonl(p: Path) -> list[dict]:
        return [json.loads(x) for x in p.read_text().split("\n") if x]

    out = {
        "math fixtures": jsonl(DATA / "math_pages.jsonl"),
        "math (extractor)": jsonl(DATA / "math_pages_extracted.jsonl"),
        "OpenStax exercises": jsonl(DATA / "openstax_exercises.jsonl"),
        "non-math pages": jsonl(DATA / "nonmath_pages.jsonl"),
    }
    if HELDOUT.exists():
        with gzip.open(HELDOUT, "rt") as f:
            rows = [json.loads(x) for x in f]
        out["held-out math (recall)"] = [r for r in rows if r.get("label") == 1]
    return out


# --- mathmine -----------------------------------------------------------------------------------


def with_boilerplate(docs: list[dict], cfg: CleanConfig) -> list[dict]:
    """The docs with the cross-page boilerplate hashes of their registered domain, counted
    over the corpus as the Spark stage counts them over a run (pure Python here)."""
    from pipeline.urls import registered_domain

    doms = [registered_domain(d.get("url") or "") for d in docs]
    counts: dict[str, Counter] = {}
    for d, dom in zip(docs, doms):
        counts.setdefault(dom, Counter()).update(page_line_hashes(normalize_text(d["text"])))
    out = []
    for d, dom in zip(docs, doms):
        common = [h for h, n in counts[dom].items() if n >= cfg.boilerplate_min_pages and dom]
        out.append(dict(d, boilerplate_hashes=common))
    return out


def run_mathmine(docs: list[dict], cfg: CleanConfig) -> dict:
    """Each family alone (does it fire?), the chain's first reason, lines removed, formulas."""
    fam_of = {r.name: r.family for r in RULES if r.kind == PAGE}
    fires: Counter = Counter()
    first: Counter = Counter()
    by_source: Counter = Counter()
    lines_in = lines_removed = 0
    f_total = f_kept = 0
    t0 = time.perf_counter()
    for d in with_boilerplate(docs, cfg):
        out, dec = clean_document(d, cfg, all_rules=True)
        for v in dec.verdicts:
            if v.outcome == "drop" and v.rule in fam_of:
                fires[fam_of[v.rule]] += 1
        if not dec.keep:
            first[dec.reason] += 1
            by_source[(d.get("source") or "?").split("/")[0]] += 1
        lines_in += dec.lines_in
        lines_removed += dec.lines_in - dec.lines_out
        fs = formulas(d["text"])
        f_total += len(fs)
        if out is not None:
            f_kept += sum(1 for f in fs if f in out["text"])
    secs = time.perf_counter() - t0
    return {
        "fires": fires,
        "first": first,
        "dropped": sum(first.values()),
        "dropped_by_source": by_source,
        "lines_in": lines_in,
        "lines_removed": lines_removed,
        "formulas": f_total,
        "formulas_kept": f_kept,
        "seconds": secs,
    }


def time_mathmine(docs: list[dict], cfg: CleanConfig) -> float:
    t0 = time.perf_counter()
    for d in docs:
        clean_document(d, cfg)
    return time.perf_counter() - t0


# --- datatrove ----------------------------------------------------------------------------------


def datatrove_filters():
    """datatrove's four filters at their defaults, or None if datatrove is not installed."""
    try:
        from datatrove.pipeline.filters import (
            C4QualityFilter,
            FineWebQualityFilter,
            GopherQualityFilter,
            GopherRepetitionFilter,
        )
        from datatrove.utils.text import split_into_words

        split_into_words("warm up the spaCy tokenizer.")
    except Exception as e:  # ImportError, or spaCy missing for the word tokenizer
        print(
            f"datatrove columns skipped: {type(e).__name__}: {e}".splitlines()[0]
            + "\n  install with: .venv/bin/pip install -e '.[bench]'"
        )
        return None
    return {
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4": C4QualityFilter(),
        "fineweb": FineWebQualityFilter(),
    }


def run_datatrove(docs: list[dict], filters: dict) -> dict:
    from datatrove.data import Document

    fires: Counter = Counter()
    first: Counter = Counter()
    lines_in = lines_removed = 0
    f_total = f_kept = 0
    t0 = time.perf_counter()
    for i, d in enumerate(docs):
        # each family alone, on the raw text
        for fam in FAMILIES:
            doc = Document(text=d["text"], id=str(i), metadata={"url": d.get("url", "")})
            r = filters[fam].filter(doc)
            if r is not True and not (isinstance(r, tuple) and r[0]):
                fires[fam] += 1
        # the FineWeb chain: repetition -> quality -> C4 (edits lines) -> FineWeb
        doc = Document(text=d["text"], id=str(i), metadata={"url": d.get("url", "")})
        n0 = sum(1 for ln in d["text"].split("\n") if ln.strip())
        lines_in += n0
        reason = None
        for fam in FAMILIES:
            before = doc.text
            r = filters[fam].filter(doc)
            if r is not True and not (isinstance(r, tuple) and r[0]):
                reason = f"{fam}:{r[1] if isinstance(r, tuple) else 'drop'}"
                doc.text = before
                break
        if reason:
            first[reason] += 1
        else:
            lines_removed += n0 - sum(1 for ln in doc.text.split("\n") if ln.strip())
        fs = formulas(d["text"])
        f_total += len(fs)
        if not reason:
            f_kept += sum(1 for f in fs if f in doc.text)
    return {
        "fires": fires,
        "first": first,
        "dropped": sum(first.values()),
        "lines_in": lines_in,
        "lines_removed": lines_removed,
        "formulas": f_total,
        "formulas_kept": f_kept,
        "seconds": time.perf_counter() - t0,
    }


def time_datatrove(docs: list[dict], filters: dict) -> float:
    from datatrove.data import Document

    t0 = time.perf_counter()
    for i, d in enumerate(docs):
        doc = Document(text=d["text"], id=str(i), metadata={})
        for fam in FAMILIES:
            r = filters[fam].filter(doc)
            if r is not True and not (isinstance(r, tuple) and r[0]):
                break
    return time.perf_counter() - t0


# --- report -------------------------------------------------------------------------------------


def pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:5.1f}%" if d else "   - "


def print_report(corpora: dict, mm: dict, dt: dict | None) -> None:
    names = list(corpora)
    print("\n== pages dropped by each rule family on its own (share of pages) ==")
    header = f"{'rule family':<20}" + "".join(f"{n[:22]:>24}" for n in names)
    print(header)
    print(f"{'':<20}" + "".join(f"{'mathmine':>12}{'datatrove':>12}" for _ in names))
    for fam in FAMILIES:
        row = f"{fam:<20}"
        for n in names:
            k = len(corpora[n])
            row += f"{pct(mm[n]['fires'][fam], k):>12}"
            row += f"{pct(dt[n]['fires'][fam], k) if dt else 'skipped':>12}"
        print(row)
    row = f"{'whole chain':<20}"
    for n in names:
        k = len(corpora[n])
        row += f"{pct(mm[n]['dropped'], k):>12}"
        row += f"{pct(dt[n]['dropped'], k) if dt else 'skipped':>12}"
    print(row)
    row = f"{'lines removed':<20}"
    for n in names:
        row += f"{pct(mm[n]['lines_removed'], mm[n]['lines_in']):>12}"
        row += f"{pct(dt[n]['lines_removed'], dt[n]['lines_in']) if dt else 'skipped':>12}"
    print(row + "   (mathmine: cross-page boilerplate + C4 line rules; datatrove: C4 lines)")
    row = f"{'formulas kept':<20}"
    for n in names:
        row += f"{pct(mm[n]['formulas_kept'], mm[n]['formulas']):>12}"
        row += f"{pct(dt[n]['formulas_kept'], dt[n]['formulas']) if dt else 'skipped':>12}"
    print(row + "   (formulas present in the output, dropped pages count as lost)")
    print("pages: " + ", ".join(f"{n} {len(corpora[n])}" for n in names))

    for n in names:
        print(f"\n== {n}: first failing rule of the chain ==")
        a = mm[n]["first"]
        b = dt[n]["first"] if dt else Counter()
        w = max([len(x) for x in list(a) + list(b)] + [10])
        rows = max(len(a), len(b))
        print(f"  {'mathmine':<{w}} {'n':>4}    {'datatrove':<{w}} {'n':>4}")
        la, lb = a.most_common(), b.most_common()
        for i in range(rows):
            ra = f"{la[i][0]:<{w}} {la[i][1]:>4}" if i < len(la) else " " * (w + 5)
            rb = f"{lb[i][0]:<{w}} {lb[i][1]:>4}" if i < len(lb) else ""
            print(f"  {ra}    {rb}")


def print_targets(corpora: dict, mm: dict) -> None:
    """The issue's math-safety targets: no math page dropped, >= 99% of formulas kept."""
    print("\n== math-safety targets (no page dropped, >= 99% of formulas kept) ==")
    for n in corpora:
        if n.startswith("non"):
            continue
        r = mm[n]
        share = r["formulas_kept"] / r["formulas"] if r["formulas"] else 1.0
        ok = r["dropped"] == 0 and share >= 0.99
        print(
            f"{n}: {r['dropped']} of {len(corpora[n])} pages dropped, "
            f"{r['formulas_kept']:,} of {r['formulas']:,} formulas kept ({100 * share:.1f}%) "
            f"-> {'met' if ok else 'NOT met'}"
        )
        if r["dropped"]:
            srcs = ", ".join(f"{k} {v}" for k, v in r["dropped_by_source"].most_common())
            print(f"  dropped pages by source: {srcs}")


def main() -> int:
    cfg = CleanConfig()
    corpora = load_corpora()
    filters = datatrove_filters()
    mm = {n: run_mathmine(docs, cfg) for n, docs in corpora.items()}
    dt = {n: run_datatrove(docs, filters) for n, docs in corpora.items()} if filters else None
    print_report(corpora, mm, dt)
    print_targets(corpora, mm)

    # speed: the same pages through both chains, best of 3, this process
    pages = [d for docs in corpora.values() for d in docs]
    mb = sum(len(d["text"]) for d in pages) / 1e6
    t_mm = min(time_mathmine(pages, cfg) for _ in range(3))
    print(f"\n== speed ({len(pages)} pages, {mb:.1f} MB of text, one core) ==")
    print(f"mathmine clean_document: {len(pages) / t_mm:8.0f} pages/s  {mb / t_mm:6.2f} MB/s")
    if filters:
        t_dt = min(time_datatrove(pages, filters) for _ in range(3))
        print(f"datatrove 4-filter chain: {len(pages) / t_dt:7.0f} pages/s  {mb / t_dt:6.2f} MB/s")
        print(f"ratio mathmine / datatrove: {t_dt / t_mm:.2f}x")
    # what the analysis costs on its own (spans, lines, tokens), for the record
    t0 = time.perf_counter()
    for d in pages:
        analyse(normalize_text(d["text"]))
    t_an = time.perf_counter() - t0
    n_lines = sum(len(split_lines(d["text"])) for d in pages)
    print(f"normalise + analyse alone: {len(pages) / t_an:.0f} pages/s ({n_lines} lines)")
    print("rules: " + ", ".join(f"{r.name} ({r.kind})" for r in RULES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
