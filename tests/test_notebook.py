"""notebooks/classifier_recall.ipynb runs on a real run folder: no cell errors, real plots.

The run folder is built here, in tmp (tests/recall_helpers.py): never a folder a developer left
behind (out/sample), whose content the test does not know."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.recall_helpers import build_recall_run

pytestmark = [pytest.mark.spark, pytest.mark.slow]
REPO = Path(__file__).resolve().parent.parent


def execute_notebook(run: Path, monkeypatch):
    """Run notebooks/classifier_recall.ipynb on ``run``; returns (notebook, planted secrets).
    Raises CellExecutionError on any cell error."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MATHMINE_RUN", str(run))
    # planted credentials: the kernel inherits them, and no output may show them (issue 11)
    planted = {
        "AWS_SECRET_ACCESS_KEY": "nbPlantedSecret/0123456789abcdef",
        "AWS_SESSION_TOKEN": "nbPlantedSessionToken0123456789",
    }
    for k, v in planted.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(REPO / "notebooks" / "classifier_recall.ipynb", as_version=4)
    assert 'RUN = os.environ.get("MATHMINE_RUN", "out/sample")' in nb.cells[1].source
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    ).execute()
    text = nbformat.writes(nb)
    for v in planted.values():
        assert v not in text
    return nb


def ledger_plot_shown(nb) -> bool:
    """The notebook's last cell plotted the math-retention ledger."""
    import nbformat

    outs = [o for o in nb.cells[-1].outputs if o.get("output_type") != "error"]
    plotted = any(len(o.get("data", {}).get("image/png", "")) > 5000 for o in outs)
    return plotted and "ledger: top domains by formulas lost" in nbformat.writes(nb)


def test_notebook_runs_and_plots(spark, tmp_path_factory, monkeypatch):
    run = build_recall_run(spark, tmp_path_factory.getbasetemp())
    assert (run / "models" / "iter=2" / "metrics.json").exists(), f"no recall run built in {run}"
    assert not (run / "stats.json").exists() or "ledger" not in json.loads(
        (run / "stats.json").read_text()
    )
    nb = execute_notebook(run, monkeypatch)
    images = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            assert out.get("output_type") != "error"
            png = out.get("data", {}).get("image/png")
            if png:
                assert len(png) > 5000  # an empty figure is a few hundred bytes
                images += 1
    # recall/precision, PR curves, histograms, domains, crawl score histogram
    assert images >= 5
    # every figure names its held-out set: the per-iteration table has dev and test columns
    table = next(c for c in nb.cells if c.cell_type == "code" and "per_iter = " in c.source)
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in table.outputs)
    assert "dev recall" in shown and "test recall" in shown
    # no export ran on this run: the ledger cell says how to get one instead of plotting
    assert not ledger_plot_shown(nb)
    assert "no ledger in stats.json" in "".join(o.get("text", "") for o in nb.cells[-1].outputs)
