"""Held-out evaluation: precision/recall at a threshold, the PR curve and its area, per set.

The bundled held-out rows come in two sets (classifiers/build_data.py): ``dev``, the rows the
defaults were chosen on, and ``test``, rows no default was chosen on (part of it from whole
collections no training row comes from). Every figure is reported under its set's name.
"""

from __future__ import annotations

from collections.abc import Sequence

# What each figure's set is, written next to the figures (metrics.json "heldout_sets")
HELDOUT_SET_NOTES = {
    "dev": "tuned on: recall.lr, recall.max_words and the cleaning relaxations were chosen here",
    "test": "no default was chosen on these rows",
    "test_seed_collections": "test rows from the collections the bundled training rows come from",
    "test_unseen_collections": "test rows from whole collections with no training or dev row",
}


def precision_recall_at(scores: Sequence[float], labels: Sequence[int], threshold: float) -> dict:
    tp = sum(1 for s, y in zip(scores, labels) if y and s >= threshold)
    fp = sum(1 for s, y in zip(scores, labels) if not y and s >= threshold)
    fn = sum(1 for s, y in zip(scores, labels) if y and s < threshold)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": precision, "recall": recall, "tp": tp, "fp": fp, "fn": fn}


def pr_curve(scores: Sequence[float], labels: Sequence[int]) -> list[tuple[float, float, float]]:
    """(threshold, precision, recall) at every distinct score, highest threshold first."""
    pairs = sorted(zip(scores, labels), key=lambda p: -p[0])
    n_pos = sum(1 for y in labels if y)
    out: list[tuple[float, float, float]] = []
    tp = fp = 0
    i = 0
    while i < len(pairs):
        s = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == s:
            if pairs[i][1]:
                tp += 1
            else:
                fp += 1
            i += 1
        out.append((s, tp / (tp + fp), tp / n_pos if n_pos else 0.0))
    return out


def average_precision(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the PR curve as average precision (sum of precision x recall steps)."""
    ap, prev_r = 0.0, 0.0
    for _, p, r in pr_curve(scores, labels):
        ap += p * (r - prev_r)
        prev_r = r
    return ap


def evaluate(scores: Sequence[float], labels: Sequence[int], threshold: float) -> dict:
    m = precision_recall_at(scores, labels, threshold)
    return {
        "threshold": threshold,
        "precision": round(m["precision"], 4),
        "recall": round(m["recall"], 4),
        "pr_auc": round(average_precision(scores, labels), 4),
        "n_pos": sum(1 for y in labels if y),
        "n_neg": sum(1 for y in labels if not y),
        "tp": m["tp"],
        "fp": m["fp"],
        "fn": m["fn"],
    }


def heldout_sets(rows: Sequence[dict]) -> dict[str, list[int]]:
    """Row indices of each named set: dev, test, and test split into rows of collections the
    classifier trained on and rows of collections it never saw."""
    sets: dict[str, list[int]] = {"dev": [], "test": []}
    parts: dict[str, list[int]] = {"test_seed_collections": [], "test_unseen_collections": []}
    for i, r in enumerate(rows):
        split = r.get("split")
        if not split:
            raise ValueError(f"held-out row {r.get('url')!r} names no set: 'split' dev or test")
        sets.setdefault(split, []).append(i)
        if split == "test":
            unseen = r.get("unseen_collection")
            parts["test_unseen_collections" if unseen else "test_seed_collections"].append(i)
    return {k: v for k, v in {**sets, **parts}.items() if v}


def evaluate_heldout(scores: Sequence[float], rows: Sequence[dict], threshold: float) -> dict:
    """:func:`evaluate` on each named held-out set (see :func:`heldout_sets`)."""
    return {
        name: evaluate([scores[i] for i in idx], [int(rows[i]["label"]) for i in idx], threshold)
        for name, idx in heldout_sets(rows).items()
    }
