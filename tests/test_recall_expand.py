"""The recall loop with pages `mathmine expand` fetched: positives of the iteration after the
one whose paths found them, selected and counted in that iteration's metrics (no Spark)."""

from __future__ import annotations

import dataclasses

from classifiers.recall_loop import ListCorpus, run_loop
from classifiers.seeds import load_bundled_negatives, load_bundled_seeds, load_heldout
from tests.test_recall_list import CFG, _docs


def _run(tmp_path, expanded, **cfg):
    docs = _docs()
    history = run_loop(
        ListCorpus(docs),
        dataclasses.replace(CFG, **cfg),
        tmp_path,
        load_bundled_seeds()[::6],
        load_bundled_negatives()[::2],
        load_heldout()[::8],
        expanded=expanded,
    )
    return docs, history


def test_expanded_pages_are_positives_of_the_next_iteration(tmp_path):
    docs = _docs()
    math = [d["id"] for d in docs if d["label"] == 1][:12]
    _docs_, history = _run(tmp_path, {1: math}, iterations=1)
    # iterations=1, but pages found from iteration 1's paths need an iteration 2
    assert [m["iteration"] for m in history] == [1, 2]
    first, second = history
    assert first["train"]["expand_positives"] == 0
    # the path rule may have taken some of them already (unselected pages under an accepted
    # path of iteration 1); expand adds the rest
    assert 0 < first["new_expand_positives"] <= len(math)
    assert second["train"]["expand_positives"] == len(math)
    assert second["train"]["path_positives"] >= len(math)
    # scored like every page; selected by the path rule, and counted apart
    assert second["expand"]["pages"] == len(math)
    assert second["expand"]["selected"] == len(math)
    assert 0 <= second["expand"]["above_threshold"] <= len(math)
    assert second["pages_selected_by_path"] >= len(math)
    assert first["pages_selected_by_path"] == 0


def test_the_loop_does_not_stop_before_expanded_pages_were_used(tmp_path):
    docs = _docs()
    some = [d["id"] for d in docs if d["label"] == 1][20:26]
    # stop_new_fraction 1.0 would stop after iteration 2; pages from iteration 2's paths wait
    _docs_, history = _run(tmp_path, {2: some}, iterations=2, stop_new_fraction=1.0)
    assert [m["iteration"] for m in history] == [1, 2, 3]
    assert history[2]["train"]["expand_positives"] == len(some)
    assert history[1]["train"]["expand_positives"] == 0


def test_paths_given_by_hand_make_positives_from_the_first_iteration(tmp_path):
    docs = _docs()
    some = [d["id"] for d in docs if d["label"] == 1][:5]
    _docs_, history = _run(tmp_path, {0: some}, iterations=1)
    assert len(history) == 1
    assert history[0]["train"]["expand_positives"] == len(some)
    assert history[0]["expand"]["selected"] == len(some)
