"""The recall loop on a plain list (no Spark): stop rule, token budget, files written."""

from __future__ import annotations

import dataclasses
import json

from classifiers.recall_loop import ListCorpus, run_loop
from classifiers.seeds import load_bundled_negatives, load_bundled_seeds, load_heldout
from pipeline.config import RecallConfig
from pipeline.math_text import count_formulas
from pipeline.urls import registered_domain

CFG = RecallConfig(dim=64, bucket=100_000, threads=2, max_positives=400, max_negatives=400)


def _docs() -> list[dict]:
    """The "crawl": dev pages (the loop's figures below are on test pages, never in the crawl)."""
    rows = [r for r in load_heldout("dev") if r["url"].startswith("https://")]
    rows = rows[::2]
    return [
        {
            "id": f"d{i}",
            "url": r["url"],
            "domain": registered_domain(r["url"]),
            "text": r["text"],
            "formulas": count_formulas(r["text"]),
            "math_markup": [],
            "word_count": len(r["text"].split()),
            "label": r["label"],
        }
        for i, r in enumerate(rows)
    ]


def test_list_loop_stops_when_few_pages_are_new(tmp_path):
    docs = _docs()
    cfg = dataclasses.replace(CFG, iterations=4, stop_new_fraction=0.5)
    logs: list[str] = []
    history = run_loop(
        ListCorpus(docs),
        cfg,
        tmp_path,
        load_bundled_seeds()[::6],
        load_bundled_negatives()[::2],
        load_heldout("test")[::3],
        log=logs.append,
    )
    # iteration 2 re-selects (nearly) the same pages: fewer than 50% new -> stop, not 4
    assert len(history) == 2
    assert history[1]["new_fraction"] < 0.5
    assert any("stopping" in line for line in logs)
    assert not (tmp_path / "iter=3").exists()
    for m in history:
        written = json.loads((tmp_path / f"iter={m['iteration']}" / "metrics.json").read_text())
        assert written["pages_selected"] == m["pages_selected"]
        assert set(m["heldout"]) == {"test", "test_seed_collections", "test_unseen_collections"}
        assert m["heldout"]["test"]["recall"] >= 0.9 and m["heldout"]["test"]["precision"] >= 0.9
        assert m["heldout_sets"]["test"] == "no default was chosen on these rows"
    assert set(history[1]["heldout_recall_change"]) == set(history[1]["heldout"])
    selected_math = history[0]["pages_selected"]
    n_math = sum(d["label"] for d in docs)
    assert 0.8 * n_math <= selected_math <= 1.1 * n_math


def test_token_budget_selects_the_top_docs_within_budget(tmp_path):
    docs = _docs()
    budget = sum(d["word_count"] for d in docs) // 5
    cfg = dataclasses.replace(CFG, iterations=1, token_budget=budget)
    corpus = ListCorpus(docs)
    (m,) = run_loop(
        corpus, cfg, tmp_path, load_bundled_seeds()[::6], load_bundled_negatives()[::2], []
    )
    assert m["selection"] == "token_budget"
    assert 0 < m["tokens_selected"] <= budget
    scores = corpus.scores[1]
    chosen = corpus.selected[1]
    # everything selected scores at least as high as everything left out
    assert min(scores[i] for i in chosen) >= max(
        (s for i, s in scores.items() if i not in chosen), default=0
    )
    assert m["heldout"] == {}  # no held-out set given: no metrics invented
