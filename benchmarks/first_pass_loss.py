"""What the first pass (pipeline/prefilter.py) loses: math pages it rules out, and their formulas.

    python -m benchmarks.first_pass_loss [--seeds DIR]     (also printed by `make bench`)

- held-out math pages (classifiers/data/heldout.jsonl.gz), named sets: ``dev`` (the vocabulary
  and ``first_pass_min_math_words`` were chosen on it) and ``test`` (nothing was). Rows are
  text, not HTML, so only the text evidence (TeX, arithmetic, words, URL) can pass them: a
  harder test than the real page, whose markup would also count. Their non-math rows give the
  share of non-math pages that pass;
- the retention ledger's view on real HTML: every page of the sample WARC (math and non-math),
  the thread pages and the fixtures, extracted with the first pass off (``process_record``,
  the extract stage's own code); a page carries math when the ledger says so (markup or a
  formula); loss = math pages and formulas of the pages the first pass rules out;
- the math seeds' HTML (Levin, PlanetMath) with ``--seeds`` or ``$MATHMINE_BENCH_DATA``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def heldout_loss(min_words: int) -> dict:
    from classifiers.seeds import load_heldout
    from pipeline.prefilter import judge_page

    out: dict = {}
    for split in ("dev", "test"):
        rows = load_heldout(split)
        math = [r for r in rows if str(r["label"]) == "1"]
        other = [r for r in rows if str(r["label"]) != "1"]
        lost = [
            r["url"]
            for r in math
            if not judge_page(r["text"].encode("utf-8"), r["url"], min_words).passed
        ]
        passed_other = sum(
            judge_page(r["text"].encode("utf-8"), r["url"], min_words).passed for r in other
        )
        out[split] = {
            "math_pages": len(math),
            "ruled_out": len(lost),
            "loss": round(len(lost) / max(1, len(math)), 4),
            "lost": lost,
            "non_math_pages": len(other),
            "non_math_passed": passed_other,
        }
    return out


def html_pages(seeds: Path | None) -> dict[str, list]:
    """{kind: [Page]} of the real HTML pages we have (bench_retention's loaders)."""
    from benchmarks.bench_retention import fixture_pages, sample_pages, seed_pages, thread_pages

    kinds: dict[str, list] = {"sample WARC (all pages)": _all_sample_pages()}
    kinds["sample math"] = sample_pages()
    for p in thread_pages():
        kinds.setdefault(p.kind, []).append(p)
    kinds["fixtures"] = fixture_pages()
    if seeds is not None and seeds.is_dir():
        for p in seed_pages(seeds, 0):
            kinds.setdefault(p.kind, []).append(p)
    return kinds


def _all_sample_pages() -> list:
    from benchmarks.bench_retention import SAMPLE, Page
    from pipeline.config import ExtractConfig
    from pipeline.records import RawRecord
    from pipeline.warc import iter_records

    path = SAMPLE / "sample.warc.gz"
    with open(path, "rb") as f:
        return [
            Page("sample", r.url, r.body)
            for r in iter_records(f, str(path), ExtractConfig())
            if isinstance(r, RawRecord)
        ]


def ledger_loss(pages: list, config) -> dict:
    """Math pages and formulas (the ledger's definitions) of ``pages`` that the first pass
    rules out, from each page's fast extraction with the first pass off."""
    import dataclasses

    from pipeline.extract import process_record
    from pipeline.ledger import has_math
    from pipeline.prefilter import judge_page
    from pipeline.records import Dropped, RawRecord

    off = dataclasses.replace(config, extract=dataclasses.replace(config.extract, first_pass=False))
    fig = {"pages": len(pages), "passed": 0, "math_pages": 0, "math_lost": 0}
    fig.update(formulas=0, formulas_lost=0, lost=[])
    for p in pages:
        passed = judge_page(p.body, p.url, config.extract.first_pass_min_math_words).passed
        fig["passed"] += passed
        rec = RawRecord(p.url, "bench", 0, 0, "", "", "", 200, "text/html", p.body)
        out = process_record(rec, off, signature=False)
        if isinstance(out, Dropped):
            math, formulas = bool(out.math), out.formulas
        else:
            math, formulas = has_math(out["formulas"], out["math_markup"]), out["formulas"]
        fig["formulas"] += formulas
        fig["math_pages"] += math
        if not passed:
            fig["formulas_lost"] += formulas
            if math:
                fig["math_lost"] += 1
                fig["lost"].append(p.url)
    fig["formula_loss"] = round(fig["formulas_lost"] / max(1, fig["formulas"]), 4)
    return fig


def measure(seeds: Path | None = None) -> dict:
    from pipeline.config import load_config

    config = load_config(None, [])
    kinds = html_pages(seeds)
    return {
        "min_math_words": config.extract.first_pass_min_math_words,
        "heldout": heldout_loss(config.extract.first_pass_min_math_words),
        "html": {kind: ledger_loss(pages, config) for kind, pages in kinds.items()},
    }


def print_loss(fig: dict) -> None:
    print(f"\nfirst pass (extract.first_pass_min_math_words = {fig['min_math_words']}):")
    print(f"{'held-out set':22} {'math':>6} {'ruled out':>10} {'loss':>7} {'non-math passed':>16}")
    for split, h in fig["heldout"].items():
        name = f"{split} ({'tuned on' if split == 'dev' else 'never tuned on'})"
        print(
            f"{name:22} {h['math_pages']:6d} {h['ruled_out']:10d} {h['loss']:7.2%} "
            f"{h['non_math_passed']:>8d} of {h['non_math_pages']}"
        )
        if h["lost"]:
            print(f"    ruled out: {', '.join(h['lost'][:8])}")
    print(
        f"{'HTML pages':26} {'pages':>6} {'passed':>7} {'math':>5} {'math lost':>10} "
        f"{'formulas':>9} {'lost':>6} {'loss':>7}"
    )
    for kind, k in fig["html"].items():
        print(
            f"{kind:26} {k['pages']:6d} {k['passed']:7d} {k['math_pages']:5d} "
            f"{k['math_lost']:10d} {k['formulas']:9d} {k['formulas_lost']:6d} "
            f"{k['formula_loss']:7.2%}"
        )
        if k["lost"]:
            print(f"    math pages ruled out: {', '.join(k['lost'][:8])}")


def default_seeds() -> Path | None:
    data = os.environ.get("MATHMINE_BENCH_DATA")
    return Path(data) / "math-seeds" if data else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=Path, default=default_seeds(), help="math-seeds folder")
    args = ap.parse_args(argv)
    print_loss(measure(args.seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
