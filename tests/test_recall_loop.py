"""The recall loop end to end on a small Spark docs table of real texts (2 iterations)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.recall_helpers import FAST, PLANTED, build_recall_run

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def recall_run(spark, tmp_path_factory):
    return build_recall_run(spark, tmp_path_factory.getbasetemp())


def test_each_iteration_writes_model_metrics_paths_and_scores(recall_run):
    docs = pq.read_table(recall_run / "docs").to_pandas()
    for it in (1, 2):
        m = recall_run / "models" / f"iter={it}"
        assert (m / "model.bin").stat().st_size > 1_000_000
        metrics = json.loads((m / "metrics.json").read_text())
        for key in (
            "threshold",
            "heldout",
            "pages_selected",
            "tokens_selected",
            "new_pages_vs_previous",
            "math_domains",
            "paths_accepted",
            "train",
            "train_seconds",
            "score_seconds",
        ):
            assert key in metrics, key
        sets = {"dev", "test", "test_seed_collections", "test_unseen_collections"}
        assert set(metrics["heldout"]) == set(metrics["heldout_sets"]) == sets
        for name in sets:
            assert set(metrics["heldout"][name]) >= {"recall", "precision", "pr_auc"}
        assert (m / "url_paths.tsv").read_text().startswith("domain\tpath_prefix\tpages")
        ho = pq.read_table(m / "heldout_scores.parquet").to_pandas()
        assert set(ho["label"]) == {0, 1} and ho["score"].between(0, 1).all()
        assert ho.groupby("split").size().to_dict() == {
            "dev": metrics["heldout"]["dev"]["n_pos"] + metrics["heldout"]["dev"]["n_neg"],
            "test": metrics["heldout"]["test"]["n_pos"] + metrics["heldout"]["test"]["n_neg"],
        }
        # scores are their own table: id + score for every doc, docs untouched
        scores = pq.read_table(recall_run / "scores" / f"iter={it}").to_pandas()
        assert list(scores.columns) == ["id", "score"]
        assert sorted(scores["id"]) == sorted(docs["id"])
        above = int((scores["score"] >= metrics["threshold"]).sum())
        # iteration 2 also selects the pages found under accepted paths in iteration 1
        assert metrics["pages_selected"] >= above
        assert metrics["pages_selected"] <= above + metrics["pages_selected_by_path"]
        assert metrics["docs_scored"] == len(docs)
    assert "score" not in docs.columns


def test_classifier_separates_the_crawl(recall_run):
    docs = pq.read_table(recall_run / "docs").to_pandas()
    scores = pq.read_table(recall_run / "scores" / "iter=1").to_pandas().merge(docs, on="id")
    math = scores[
        scores.url.str.contains("planetmath|mathoverflow|columbia|openstax|cp-alg")
        & ~scores.url.str.contains("misfiled")
    ]
    other = scores[~scores.id.isin(math.id) & ~scores.url.str.contains("misfiled")]
    assert len(math) >= 30 and len(other) >= 30
    assert (math.score >= 0.5).mean() >= 0.9
    # the crawl's non-math pages are the loop's own negatives (DeepSeekMath samples them from
    # the crawl): this checks the fit; the test pages, never in the crawl, check generalisation
    assert (other.score < 0.5).mean() >= 0.9
    m1 = json.loads((recall_run / "models" / "iter=1" / "metrics.json").read_text())
    # (a small fast model: dim 64, 700 positives; measured PR-AUC 0.98, recall at 0.5 only 0.83)
    test = m1["heldout"]["test"]
    assert test["pr_auc"] >= 0.95 and test["precision"] >= 0.9, test


def test_unselected_pages_under_accepted_paths_become_positives(recall_run):
    m1 = json.loads((recall_run / "models" / "iter=1" / "metrics.json").read_text())
    m2 = json.loads((recall_run / "models" / "iter=2" / "metrics.json").read_text())
    assert "planetmath.org" in [d["domain"] for d in m1["math_domains"]]
    assert m1["paths_accepted"] == ["planetmath.org/"]  # the reviewed file replaces the rule
    paths = (recall_run / "models" / "iter=1" / "url_paths.tsv").read_text().splitlines()
    accepted = [line.split("\t")[1] for line in paths[1:] if line.endswith("\tyes")]
    assert accepted == ["planetmath.org/"]
    # the planted non-math pages score low, so they are exactly the unselected pages there
    docs = pq.read_table(recall_run / "docs").to_pandas()
    s1 = pq.read_table(recall_run / "scores" / "iter=1").to_pandas().merge(docs, on="id")
    under = s1[s1.url.str.startswith("https://planetmath.org/")]
    unselected = int((under.score < m1["threshold"]).sum())
    assert unselected >= PLANTED - 1
    assert m1["new_positives"] == unselected
    # positives are capped (max_positives=700): path positives go first, seeds fill the rest
    assert m1["train"]["path_positives"] == 0
    assert m2["train"]["path_positives"] == unselected
    assert m2["train"]["positives"] == min(700, m1["train"]["positives"] + unselected)
    assert m2["new_positives"] == 0  # already positives: not counted again


def test_selected_table_and_stats(recall_run):
    stats = json.loads((recall_run / "stats.json").read_text())["recall"]
    assert stats["records_read"] == stats["kept"] + sum(stats["dropped"].values())
    sel = pq.read_table(recall_run / "selected").to_pandas()
    assert list(sel.columns) == ["id", "math_score"]
    assert len(sel) == stats["kept"]
    m2 = json.loads((recall_run / "models" / "iter=2" / "metrics.json").read_text())
    assert stats["kept"] == m2["pages_selected"]
    # everything scoring above the threshold, plus the pages under the accepted path
    s2 = pq.read_table(recall_run / "scores" / "iter=2").to_pandas()
    docs = pq.read_table(recall_run / "docs").to_pandas()
    above = set(s2[s2.score >= m2["threshold"]].id)
    assert above <= set(sel.id)
    by_path = set(sel.id) - above
    urls = set(docs[docs.id.isin(by_path)].url)
    assert all(u.startswith("https://planetmath.org/") for u in urls)
    assert {f"https://planetmath.org/misfiled{i}" for i in range(PLANTED)} <= set(
        sel.id.map(dict(zip(docs.id, docs.url)))
    )
    # by-path pages are the iteration-1 new positives (those not also above the threshold)
    m1 = json.loads((recall_run / "models" / "iter=1" / "metrics.json").read_text())
    assert len(by_path) <= m2["pages_selected_by_path"] == m1["new_positives"]
    assert [h["iteration"] for h in stats["heldout"]] == [1, 2]
    assert stats["heldout"][1]["test"]["recall"] == m2["heldout"]["test"]["recall"]


def test_score_command_writes_a_separate_table(recall_run, tmp_path):
    from jobs.cli import main

    model = recall_run / "models" / "iter=1" / "model.bin"
    out = tmp_path / "scores_cli"
    args = ["score", "--run", str(recall_run), "--model", str(model), "--out", str(out)]
    for s in FAST:
        args += ["--set", s]
    assert main(args + ["--set", "spark.master=local[2]"]) == 0
    mine = pq.read_table(out).to_pandas().set_index("id")["score"]
    loop = pq.read_table(recall_run / "scores" / "iter=1").to_pandas().set_index("id")["score"]
    assert mine.sort_index().round(5).equals(loop.sort_index().round(5))


def test_score_command_rejects_missing_model(recall_run, capsys):
    from jobs.cli import main

    assert main(["score", "--run", str(recall_run), "--model", "/nonexistent/model.bin"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_recall_metrics_track_the_recall_change(recall_run):
    m1 = json.loads((recall_run / "models" / "iter=1" / "metrics.json").read_text())
    m2 = json.loads((recall_run / "models" / "iter=2" / "metrics.json").read_text())
    assert "heldout_recall_change" not in m1
    for name in ("dev", "test"):
        expected = round(m2["heldout"][name]["recall"] - m1["heldout"][name]["recall"], 4)
        assert m2["heldout_recall_change"][name] == expected


def test_recall_command_needs_a_run_with_docs(tmp_path, capsys):
    from jobs.cli import main

    assert main(["recall", "--run", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_executors_find_a_model_shipped_with_addfile(spark, recall_run, tmp_path):
    """On a cluster the model path is not on the executors: ArrowScorer falls back to the copy
    shipped with sc.addFile (what SparkCorpus does for a non-local master)."""
    import shutil
    import uuid

    from jobs.recall_job import ArrowScorer

    name = f"model-{uuid.uuid4().hex[:8]}.bin"
    shutil.copyfile(recall_run / "models" / "iter=1" / "model.bin", tmp_path / name)
    spark.sparkContext.addFile(str(tmp_path / name))
    # the path ArrowScorer is given does not exist, as on a cluster's executors; the source of
    # the added file stays (Spark re-checks it for every later task of the session)
    fn = ArrowScorer(str(tmp_path / "not-on-executors" / "model.bin"), name, 500)
    docs = spark.read.parquet(str(recall_run / "docs"))
    got = (
        docs.select("id", "text", "formulas", "math_markup")
        .mapInArrow(fn, "id string, score float")
        .toPandas()
        .set_index("id")["score"]
        .sort_index()
    )
    loop = pq.read_table(recall_run / "scores" / "iter=1").to_pandas().set_index("id")["score"]
    assert got.round(5).equals(loop.sort_index().round(5))
