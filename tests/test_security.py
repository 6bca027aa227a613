"""Security (issue 11): no network while processing pages; run folders are not escaped."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.fasttext_model import MathScorer, train_classifier
from classifiers.seeds import load_bundled_negatives, load_bundled_seeds
from pipeline.clean_chain import clean_partition
from pipeline.config import Config, RecallConfig
from pipeline.extract import extract_warc
from pipeline.records import StageStats

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample" / "sample.warc.gz"


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Every way to open a connection or resolve a name raises, and is recorded."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] if args else kwargs)
        raise NetworkUsed(f"network access attempted: {args[1:]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, *a))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, *a))
    yield attempts
    assert attempts == [], attempts


def test_extract_clean_and_score_the_sample_with_sockets_blocked(no_network, tmp_path):
    config = Config()
    stats = StageStats("extract")
    with open(SAMPLE, "rb") as f:
        docs = list(extract_warc(f, str(SAMPLE), config, stats))
    # 70 docs: the first pass rules out most of the sample's non-math pages before extraction
    assert stats.reconciles() and len(docs) > 50
    assert any(d["formulas"] > 0 for d in docs)

    clean_stats = StageStats("clean")
    kept = list(clean_partition(docs, config.clean, clean_stats))
    assert 0 < len(kept) <= len(docs)

    # a small model is enough to prove scoring needs no network
    cfg = RecallConfig(threads=1)  # the default settings (tiny dims can make fastText diverge)
    model = train_classifier(
        load_bundled_seeds()[:300], load_bundled_negatives()[:300], cfg, tmp_path / "m.bin"
    )
    scores = MathScorer(str(model)).score_many(kept)
    assert len(scores) == len(kept) and all(0.0 <= s <= 1.0 for s in scores)


def test_fresh_sample_never_follows_a_symlink_out_of_the_run_folder(tmp_path):
    """`mathmine sample --fresh` removes its run folder; a link inside it to a folder outside
    must be removed as a link, and what it points at must survive."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"run_id": "x"}')
    (run / "docs").symlink_to(outside, target_is_directory=True)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.cli",
            "sample",
            "--fresh",
            "--out",
            str(run),
            "--set",
            "extract.max_page_bytes=-5",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    # the bad config value is refused before anything is touched
    assert r.returncode == 2
    assert (run / "docs").is_symlink()
    from jobs.run_folder import RunFolder, remove_run_folder

    remove_run_folder(RunFolder(run))
    assert not run.exists()
    assert (outside / "precious.txt").read_text() == "keep me"


def test_symlinked_run_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    r = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "extract", "--input", str(SAMPLE), "--out", str(link)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 2 and "symlink" in r.stderr and "Traceback" not in r.stderr
    assert list(real.iterdir()) == []
