"""`mathmine expand` refuses what the user can fix with one line and exit code 2, before
starting Spark."""

from __future__ import annotations

import pytest

from jobs.cli import main as cli_main
from jobs.run_folder import RunFolder
from pipeline.config import load_config


def _run(argv, capsys):
    rc = cli_main(["expand", *argv])
    return rc, capsys.readouterr().err


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run"
    RunFolder(d).claim(["a.warc.gz"], load_config(), "run")
    return d


def test_not_a_run_folder(tmp_path, capsys):
    rc, err = _run(["--run", str(tmp_path / "none"), "--crawl", "CC-MAIN-2024-22"], capsys)
    assert rc == 2 and "not a mathmine run folder" in err


def test_bad_crawl_name(run_dir, capsys):
    rc, err = _run(["--run", str(run_dir), "--crawl", "2024-22"], capsys)
    assert rc == 2 and "CC-MAIN-YYYY-WW" in err


def test_no_recall_iteration_and_no_paths(run_dir, capsys):
    rc, err = _run(["--run", str(run_dir), "--crawl", "CC-MAIN-2024-22"], capsys)
    assert rc == 2 and "mathmine recall" in err and "--paths" in err


def test_paths_file_missing_or_malformed(run_dir, tmp_path, capsys):
    rc, err = _run(
        ["--run", str(run_dir), "--crawl", "CC-MAIN-2024-22", "--paths", str(tmp_path / "x")],
        capsys,
    )
    assert rc == 2 and "--paths" in err and "cannot be read" in err
    bad = tmp_path / "bad.txt"
    bad.write_text("mathoverflow.net/questions\nftp://x.org/a\n")
    rc, err = _run(
        ["--run", str(run_dir), "--crawl", "CC-MAIN-2024-22", "--paths", str(bad)], capsys
    )
    assert rc == 2 and "line 2" in err and "http(s) URL" in err
    assert err.count("\n") == 1  # one line
