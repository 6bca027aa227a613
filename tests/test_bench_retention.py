"""benchmarks/bench_retention.py's code paths on the bundled real pages (no figure asserted
beyond what the pages themselves fix: counts of pages, and the bookkeeping adding up)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bench_retention import main, post_present


def test_fixture_pages_end_to_end_add_up(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MATHMINE_BENCH_DATA", raising=False)
    out = tmp_path / "r.json"
    assert main(["--kinds", "fixtures", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "math seeds skipped" in text and "MATHMINE_BENCH_DATA" in text
    figures = json.loads(out.read_text())
    assert figures["code"] == "judged shard text"
    (fx,) = figures["kinds"]
    manifest = json.loads((Path(__file__).parent / "data" / "html" / "manifest.json").read_text())
    assert fx["kind"] == "fixtures" and fx["pages"] == len(manifest["pages"])
    assert fx["formulas_fast"] > 200 and 0.0 <= fx["mean_share"] <= 1.0
    # every page is shipped (with a text_source) or dropped at a named stage
    shipped = sum(fx["text_source"].values()) - sum(
        v for k, v in fx["dropped"].items() if k.startswith("export:")
    )
    assert shipped + sum(fx["dropped"].values()) == fx["pages"]
    assert all(k.split(":")[0] in ("extract", "clean", "export") for k in fx["dropped"])
    assert "[fixtures]" in text and "mean/page" in text


def test_post_present_reads_word_runs_not_words():
    text = "Reply Quote\nI tried the integral by parts and it converged to one half.\nJoined 2019"
    assert post_present("I tried the integral by parts and it converged to one half.", text)
    assert post_present("tried the integral", text)  # shorter than a shingle: words in order
    # the same words in another order are not the post
    assert not post_present("by parts I tried the integral and one half it converged to.", text)
