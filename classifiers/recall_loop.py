"""The DeepSeekMath recall loop, independent of the engine that scores the crawl.

One iteration: train (this process) -> score every doc -> select (threshold or token budget)
-> math-related domains -> URL path prefixes proposed/accepted -> unselected pages under accepted
prefixes become new positives -> stop when fewer than ``stop_new_fraction`` of the selected pages
are new. The crawl is reached through a :class:`Corpus` (a plain list here, Spark in
jobs/recall_job.py), so the loop itself runs and is tested on a list.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from classifiers.domains import (
    PathRule,
    apply_reviewed,
    domain_stats,
    is_under,
    math_domains,
    minimal_prefixes,
    path_stats,
    write_paths_tsv,
)
from classifiers.evaluate import HELDOUT_SET_NOTES, evaluate_heldout
from classifiers.fasttext_model import MathScorer, train_classifier
from classifiers.features import MAX_WORDS

HIST_DECIMALS = 4  # score histogram resolution for token-budget thresholds (10,001 buckets)


class Corpus(Protocol):
    """The crawl's docs as seen by the loop (ids, urls, domains, text, markup, scores)."""

    def count(self) -> int: ...
    def score(self, model_path: str, iteration: int) -> None: ...
    def score_histogram(self, iteration: int) -> list[tuple[float, int, int]]: ...
    def select(
        self, iteration: int, threshold: float, also: set[str] = frozenset()
    ) -> tuple[int, int]: ...
    def domain_rows(self, iteration: int) -> dict[str, dict]: ...
    def url_rows(self, iteration: int, domains: list[str]) -> list[tuple[str, str, str, bool]]: ...
    def count_selected(self, iteration: int, ids: list[str]) -> tuple[int, int]: ...
    def fetch(self, ids: list[str]) -> list[dict]: ...
    def overlap(self, iteration: int, previous: int) -> tuple[int, int]: ...
    def sample_negatives(
        self, n: int, exclude_ids: set[str], skip_math: bool, previous: int, seed: int
    ) -> list[dict]: ...


def threshold_for_budget(hist: Iterable[tuple[float, int, int]], budget: int) -> float:
    """Lowest score bucket such that docs scoring at or above it fit in ``budget`` tokens.

    ``hist`` rows are (score bucket, pages, tokens). The top bucket is always taken, so a tiny
    budget still selects something.
    """
    total = 0
    chosen = None
    for score, _pages, tokens in sorted(hist, key=lambda r: -r[0]):
        if chosen is not None and total + tokens > budget:
            break
        total += tokens
        chosen = score
    return 1.0 if chosen is None else chosen


def new_fraction(selected: int, new: int) -> float:
    return new / selected if selected else 0.0


def _doc_tokens(d: dict) -> int:
    wc = d.get("word_count")
    return int(wc) if wc else len((d.get("text") or "").split())


def _has_math_markup(d: dict) -> bool:
    return bool(d.get("formulas")) or bool(list(d.get("math_markup") or ()))


class ListCorpus:
    """A :class:`Corpus` over a list of doc dicts (id, url, domain, text, formulas, math_markup)."""

    def __init__(self, docs: list[dict], max_words: int = MAX_WORDS):
        self.docs = docs
        self.max_words = max_words
        self.by_id = {d["id"]: d for d in docs}
        self.scores: dict[int, dict[str, float]] = {}
        self.selected: dict[int, set[str]] = {}
        self.thresholds: dict[int, float] = {}

    def count(self) -> int:
        return len(self.docs)

    def score(self, model_path: str, iteration: int) -> None:
        s = MathScorer(model_path, self.max_words)
        vals = s.score_many(self.docs)
        self.scores[iteration] = {d["id"]: v for d, v in zip(self.docs, vals)}

    def score_histogram(self, iteration: int) -> list[tuple[float, int, int]]:
        agg: dict[float, list[int]] = {}
        for d in self.docs:
            b = round(self.scores[iteration][d["id"]], HIST_DECIMALS)
            a = agg.setdefault(b, [0, 0])
            a[0] += 1
            a[1] += _doc_tokens(d)
        return [(k, v[0], v[1]) for k, v in agg.items()]

    def select(
        self, iteration: int, threshold: float, also: set[str] = frozenset()
    ) -> tuple[int, int]:
        sc = self.scores[iteration]
        self.thresholds[iteration] = threshold
        sel = {i for i, v in sc.items() if v >= threshold} | (set(also) & set(sc))
        self.selected[iteration] = sel
        return len(sel), sum(_doc_tokens(self.by_id[i]) for i in sel)

    def domain_rows(self, iteration: int) -> dict[str, dict]:
        sel = self.selected[iteration]
        return domain_stats((d.get("domain") or "", d["id"] in sel) for d in self.docs)

    def url_rows(self, iteration: int, domains: list[str]) -> list[tuple[str, str, str, bool]]:
        sel, want = self.selected[iteration], set(domains)
        return [
            (d["id"], d["url"], d.get("domain") or "", d["id"] in sel)
            for d in self.docs
            if (d.get("domain") or "") in want
        ]

    def count_selected(self, iteration: int, ids: list[str]) -> tuple[int, int]:
        """(selected, scoring at or above the threshold) among ``ids``."""
        sel, sc, t = self.selected[iteration], self.scores[iteration], self.thresholds[iteration]
        return sum(i in sel for i in ids), sum(sc.get(i, -1.0) >= t for i in ids)

    def fetch(self, ids: list[str]) -> list[dict]:
        return [self.by_id[i] for i in ids if i in self.by_id]

    def overlap(self, iteration: int, previous: int) -> tuple[int, int]:
        cur, prev = self.selected[iteration], self.selected.get(previous, set())
        return len(cur - prev), len(cur & prev)

    def sample_negatives(
        self, n: int, exclude_ids: set[str], skip_math: bool, previous: int, seed: int
    ) -> list[dict]:
        prev = self.selected.get(previous, set())
        pool = [
            d
            for d in self.docs
            if d["id"] not in exclude_ids
            and d["id"] not in prev
            and not (skip_math and _has_math_markup(d))
        ]
        rnd = random.Random(seed)
        return rnd.sample(pool, min(n, len(pool)))


def _write_heldout_scores(path: Path, heldout: list[dict], scores: list[float]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "url": [r.get("url", "") for r in heldout],
            "source": [r.get("source", "") for r in heldout],
            "split": [r["split"] for r in heldout],
            "unseen_collection": [bool(r.get("unseen_collection")) for r in heldout],
            "label": pa.array([int(r["label"]) for r in heldout], pa.int8()),
            "score": pa.array(scores, pa.float32()),
        }
    )
    pq.write_table(table, path)


def run_loop(
    corpus: Corpus,
    cfg,
    models_dir: str | Path,
    seeds: list[dict],
    bundled_negatives: list[dict],
    heldout: list[dict],
    iterations: int | None = None,
    accept_paths: set[str] | None = None,
    log: Callable[[str], None] = lambda s: None,
    on_scored: Callable[[int, str], None] | None = None,
    expanded: dict[int, list[str]] | None = None,
) -> list[dict]:
    """Run the loop; returns one metrics dict per iteration (also written to metrics.json).

    ``heldout`` rows name their set (``split``: dev or test); ``metrics["heldout"]`` holds one
    evaluation per set (classifiers.evaluate.evaluate_heldout). ``cfg`` is a RecallConfig.
    ``on_scored(iteration, model_path)`` lets the engine persist the scores (scores/iter=N/)
    right after scoring. ``accept_paths`` replaces the threshold rule.
    ``expanded``: {N: ids of the docs `mathmine expand` fetched from iteration N's accepted
    paths}: like the uncollected pages under those paths they are positives from iteration
    N + 1 on (DeepSeekMath's rule; N = 0, paths given by hand: from the first), and the loop
    runs (and does not stop) until they were trained on.
    """
    models_dir = Path(models_dir)
    expanded = {n: list(ids) for n, ids in (expanded or {}).items() if ids}
    all_expanded = sorted({i for ids in expanded.values() for i in ids})
    expand_set = set(all_expanded)
    n_iter = iterations or max(cfg.iterations, max(expanded, default=0) + 1)
    rule = PathRule(cfg.path_accept_share, cfg.path_min_pages, cfg.path_depth)
    extra_pos: list[dict] = []
    extra_ids: set[str] = set()

    def take_expanded(n: int) -> int:
        docs = corpus.fetch([i for i in expanded.get(n, ()) if i not in extra_ids])
        extra_pos.extend(docs)
        extra_ids.update(d["id"] for d in docs)
        return len(docs)

    take_expanded(0)
    history: list[dict] = []
    n_docs = corpus.count()
    for it in range(1, n_iter + 1):
        out = models_dir / f"iter={it}"
        out.mkdir(parents=True, exist_ok=True)
        # path-derived positives first: a max_positives cap must not cut what the loop learned
        positives = (extra_pos + seeds)[: cfg.max_positives]
        n_path_pos = min(len(extra_pos), len(positives))
        n_expand_pos = sum(1 for d in positives[:n_path_pos] if d["id"] in expand_set)
        skip_math = cfg.negatives_skip_math
        crawl_neg = corpus.sample_negatives(
            cfg.max_negatives, extra_ids, skip_math, it - 1, cfg.seed + it
        )
        negatives = crawl_neg + (bundled_negatives if cfg.bundled_negatives else [])
        negatives = negatives[: cfg.max_negatives]
        t = time.perf_counter()
        model_path = train_classifier(positives, negatives, cfg, out / "model.bin")
        train_s = time.perf_counter() - t
        log(
            f"[recall] iter {it}: trained on {len(positives)} pos / {len(negatives)} neg "
            f"in {train_s:.1f} s"
        )

        t = time.perf_counter()
        corpus.score(model_path, it)
        if on_scored:
            on_scored(it, model_path)
        score_s = time.perf_counter() - t

        if cfg.token_budget:
            threshold = threshold_for_budget(corpus.score_histogram(it), cfg.token_budget)
        else:
            threshold = cfg.threshold
        # pages under accepted paths are math by review/rule: selected whatever their score
        forced = set(extra_ids) if cfg.select_path_pages else set()
        pages, tokens = corpus.select(it, threshold, forced)

        ho_scores = MathScorer(model_path, cfg.max_words).score_many(heldout) if heldout else []
        if heldout:
            _write_heldout_scores(out / "heldout_scores.parquet", heldout, ho_scores)
        ho = evaluate_heldout(ho_scores, heldout, threshold) if heldout else {}

        doms = math_domains(corpus.domain_rows(it), cfg.domain_share)
        dom_names = [d["domain"] for d in doms]
        url_rows = corpus.url_rows(it, dom_names) if dom_names else []
        paths = path_stats(((u, d, s) for _, u, d, s in url_rows), dom_names, rule)
        if accept_paths is not None:
            paths = apply_reviewed(paths, accept_paths)
        write_paths_tsv(out / "url_paths.tsv", paths)
        accepted = [p["path_prefix"] for p in paths if p["accepted"]]
        new_ids = [
            i for i, u, _, s in url_rows if not s and i not in extra_ids and is_under(u, accepted)
        ]
        new_pos = corpus.fetch(new_ids)
        extra_pos.extend(new_pos)
        extra_ids.update(d["id"] for d in new_pos)
        new_expand_pos = take_expanded(it)

        if it > 1:
            new_pages, common = corpus.overlap(it, it - 1)
        else:
            new_pages, common = pages, 0
        frac = new_fraction(pages, new_pages)
        metrics = {
            "iteration": it,
            "threshold": threshold,
            "selection": "token_budget" if cfg.token_budget else "threshold",
            "heldout": ho,
            "heldout_sets": {k: HELDOUT_SET_NOTES.get(k, "") for k in ho},
            "docs_scored": n_docs,
            "pages_selected": pages,
            "pages_selected_by_path": len(forced),
            "tokens_selected": tokens,
            "new_pages_vs_previous": new_pages,
            "pages_in_previous_too": common,
            "new_fraction": round(frac, 4),
            "math_domains": doms[:200],
            "paths_proposed": len(paths),
            "paths_accepted": minimal_prefixes(accepted),
            "new_positives": len(new_pos),
            "new_expand_positives": new_expand_pos,
            "train": {
                "positives": len(positives),
                "seed_positives": len(positives) - n_path_pos,
                "path_positives": n_path_pos,
                "expand_positives": n_expand_pos,
                "negatives": len(negatives),
                "crawl_negatives": len(crawl_neg),
                "bundled_negatives": len(negatives) - len(crawl_neg),
            },
            "train_seconds": round(train_s, 2),
            "score_seconds": round(score_s, 2),
            "model": str(model_path),
        }
        if all_expanded:
            # the pages expand fetched: how many this iteration selects, and how many its
            # classifier alone scores at or above the threshold (without the path rule)
            sel, above = corpus.count_selected(it, all_expanded)
            metrics["expand"] = {
                "pages": len(all_expanded),
                "selected": sel,
                "above_threshold": above,
            }
        if history and ho and history[-1]["heldout"]:
            # the issue asks that recall not fall between iterations; make a fall visible
            prev = history[-1]["heldout"]
            change = {k: round(ho[k]["recall"] - prev[k]["recall"], 4) for k in ho if k in prev}
            metrics["heldout_recall_change"] = change
            for k, delta in change.items():
                if delta < 0:
                    log(f"[recall] iter {it}: {k} recall fell by {-delta:.4f}")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
        history.append(metrics)
        figures = "; ".join(
            f"{k} recall {ho[k]['recall']} precision {ho[k]['precision']}"
            for k in ("dev", "test")
            if k in ho
        )
        log(
            f"[recall] iter {it}: selected {pages} of {n_docs} docs (threshold {threshold:.3f}); "
            f"{figures or 'no held-out set'}; {len(doms)} math domains, {len(accepted)} paths "
            f"accepted, {len(new_pos)} new positives; new pages {frac:.1%}"
        )
        pending = any(n >= it for n in expanded)  # expanded pages not trained on yet
        if it > 1 and frac < cfg.stop_new_fraction and not pending:
            log(f"[recall] stopping: new pages {frac:.1%} < {cfg.stop_new_fraction:.1%}")
            break
    return history
