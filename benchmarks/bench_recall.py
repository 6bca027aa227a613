"""The math classifier's quality on the held-out sets, and its scoring cost against extraction.

    python -m benchmarks.bench_recall [--warc sample/sample.warc.gz] [--model model.bin] [--repeat 3]

Quality: recall, precision (at ``recall.threshold``) and PR-AUC on each bundled held-out set,
named: ``dev`` (the defaults were chosen on it), ``test`` (no default was), and test's rows from
collections the training rows come from / from whole unseen collections. Without --model, trains
one on the bundled seeds and negatives with the config (no crawl negatives: `make sample`'s
metrics.json has the loop's figures).

Sample pages: the share of the WARC's pages scoring >= ``recall.threshold`` by their kind in
``sample/manifest.tsv`` (the default WARC's): Levin's Discrete Mathematics (MathJax ``\\(..\\)``,
no page of it in any training or held-out row), the other math pages, the non-math pages. A dev
figure: the Levin pages were looked at when the classifier's formula delimiters were chosen
(classifiers/features.py).

Cost: extracts the WARC with the pipeline's own extract_warc (timed), then scores every kept doc
with MathScorer (timed), alternating the two ``--repeat`` times so machine load hits both alike.
Prints ms per HTML page and per kept doc for each, and the ratio (issue 5 target: scoring < 10%
of extraction per document).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def time_extract(warc: Path, config) -> tuple[float, int, int, list[dict]]:
    from pipeline.extract import extract_warc
    from pipeline.records import StageStats

    stats = StageStats("extract")
    t = time.perf_counter()
    with open(warc, "rb") as f:
        docs = list(extract_warc(f, str(warc), config, stats))
    secs = time.perf_counter() - t
    html = stats.records_read - stats.dropped.get("not_response", 0)
    return secs, html, len(docs), docs


def time_score(scorer, docs: list[dict]) -> float:
    t = time.perf_counter()
    for d in docs:
        scorer.score(d["text"], d.get("formulas") or 0, d.get("math_markup") or ())
    return time.perf_counter() - t


def sample_kinds(warc: Path) -> dict[str, str]:
    """url -> levin / math / nonmath from the manifest next to ``warc`` ({} if none)."""
    import csv

    manifest = warc.parent / "manifest.tsv"
    if not manifest.exists():
        return {}
    with open(manifest) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {
        r["url"]: "levin" if "levin" in r["source"] and r["kind"] == "math" else r["kind"]
        for r in rows
    }


def sample_selection(scores: list[float], docs: list[dict], kinds: dict, threshold: float) -> dict:
    """{kind: [pages scoring >= threshold, pages]} over the extracted docs the manifest names."""
    out: dict[str, list[int]] = {}
    for score, d in zip(scores, docs):
        kind = kinds.get(d["url"])
        if kind:
            n = out.setdefault(kind, [0, 0])
            n[0] += score >= threshold
            n[1] += 1
    return out


def print_heldout(figures: dict) -> None:
    print(f"{'held-out set':26} {'pos':>5} {'neg':>5} {'recall':>7} {'precision':>9} {'PR-AUC':>7}")
    for name, m in figures.items():
        print(
            f"{name:26} {m['n_pos']:5d} {m['n_neg']:5d} {m['recall']:7.4f} "
            f"{m['precision']:9.4f} {m['pr_auc']:7.4f}"
        )


def main(argv=None) -> int:
    from classifiers.evaluate import HELDOUT_SET_NOTES, evaluate_heldout
    from classifiers.fasttext_model import MathScorer, train_classifier
    from classifiers.seeds import load_bundled_negatives, load_bundled_seeds, load_heldout
    from pipeline.config import load_config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--warc", default=str(REPO / "sample" / "sample.warc.gz"))
    p.add_argument("--model", default="")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    a = p.parse_args(argv)
    config = load_config(None, a.overrides)
    with tempfile.TemporaryDirectory() as tmp:
        model = a.model
        if not model:
            t = time.perf_counter()
            model = train_classifier(
                load_bundled_seeds(), load_bundled_negatives(), config.recall, Path(tmp) / "m.bin"
            )
            print(f"trained a model with the config in {time.perf_counter() - t:.1f} s")
        model_mb = round(Path(model).stat().st_size / 1e6, 1)
        scorer = MathScorer(model, config.recall.max_words)
        heldout = load_heldout()
        figures = evaluate_heldout(scorer.score_many(heldout), heldout, config.recall.threshold)
        ex, sc = [], []
        for _ in range(a.repeat):
            secs, html, kept, docs = time_extract(Path(a.warc), config)
            ex.append(secs)
            sc.append(time_score(scorer, docs))
        picked = sample_selection(
            scorer.score_many(docs), docs, sample_kinds(Path(a.warc)), config.recall.threshold
        )
    ex_s, sc_s = statistics.median(ex), statistics.median(sc)
    out = {
        "warc": a.warc,
        "html_pages": html,
        "docs_kept": kept,
        "max_words": config.recall.max_words,
        "dim": config.recall.dim,
        "bucket": config.recall.bucket,
        "model_mb": model_mb,
        "extract_ms_per_html_page": round(1000 * ex_s / max(1, html), 3),
        "extract_ms_per_kept_doc": round(1000 * ex_s / max(1, kept), 3),
        "score_ms_per_doc": round(1000 * sc_s / max(1, kept), 3),
        # extraction runs on every HTML page, scoring on every kept doc: compare per-stage totals
        "score_share_of_extract": round(sc_s / ex_s, 4),
        "heldout": figures,
        "heldout_sets": {k: HELDOUT_SET_NOTES[k] for k in figures},
        "sample_pages_at_threshold": picked,
    }
    print(json.dumps(out, indent=2))
    made = "the given model" if a.model else "trained on the bundled seeds and negatives"
    print(f"\nclassifier ({made}) at recall.threshold {config.recall.threshold}:")
    print_heldout(figures)
    if picked:
        print(
            "sample pages scoring >= threshold (dev signal, no loop, no crawl negatives): "
            + ", ".join(f"{k} {n}/{t}" for k, (n, t) in sorted(picked.items()))
        )
    print(
        f"scoring costs {out['score_share_of_extract']:.1%} of extraction time "
        f"({out['score_ms_per_doc']} ms/doc vs {out['extract_ms_per_kept_doc']} ms per kept doc)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
