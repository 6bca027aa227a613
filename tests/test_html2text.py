"""``mathmine html2text``: every fixture page, .html and .html.gz, both modes, JSON lines."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import main as cli_main

from .test_extract_fixtures import FIXTURES, KNOWN_SHORT, PAGES, expected_formulas, recall_of

REPO = Path(__file__).resolve().parent.parent


def run_cli(args: list[str], capsys) -> tuple[int, list[dict], str]:
    rc = cli_main(["html2text", *args])
    out, err = capsys.readouterr()
    return rc, [json.loads(line) for line in out.splitlines() if line.strip()], err


@pytest.mark.parametrize("flag", ["--fast", "--careful"])
def test_every_fixture_page(flag, capsys):
    files = [str(p.path) for p in PAGES]
    rc, rows, _ = run_cli([*files, flag], capsys)
    assert rc == 0 and len(rows) == len(PAGES)
    for page, row in zip(PAGES, rows):
        assert row["path"] == str(page.path)
        assert set(row) >= {"path", "text", "formulas"}
        want = expected_formulas(page, page.html())
        found, total = recall_of(want, row["text"])
        assert total == 0 or found / total >= 0.95, page.file
        if (page.file, flag.lstrip("-")) not in KNOWN_SHORT:  # checked strictly there
            assert row["formulas"] >= 0.95 * max(total, page.min_formulas) or total == 0


def test_plain_and_gzipped_files_agree(tmp_path, capsys):
    src = FIXTURES / "snippets" / "katex.html"
    gz = tmp_path / "katex.html.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    rc, rows, _ = run_cli([str(src), str(gz), "--url", "https://example.org/euler"], capsys)
    assert rc == 0
    assert rows[0]["text"] == rows[1]["text"] and rows[0]["formulas"] == rows[1]["formulas"] == 3


def test_default_mode_is_fast(capsys):
    page = str(FIXTURES / "readability_wikipedia-3.html.gz")
    _, default, _ = run_cli([page], capsys)
    _, fast, _ = run_cli([page, "--fast"], capsys)
    _, careful, _ = run_cli([page, "--careful"], capsys)
    assert default == fast and careful[0]["text"] != fast[0]["text"]


def test_missing_file_is_one_line_error(capsys, tmp_path):
    missing = tmp_path / "nope.html"
    rc, rows, err = run_cli([str(FIXTURES / "dolma_science_math.html"), str(missing)], capsys)
    assert rc == 2 and rows == []  # nothing printed before the error
    assert err.count("\n") == 1 and "nope.html" in err and "Traceback" not in err


def test_limits_from_config_are_reported(capsys):
    page = str(FIXTURES / "readability_quanta-1.html.gz")
    rc, rows, _ = run_cli([page, "--set", "extract.max_page_bytes=1000"], capsys)
    assert rc == 0 and rows[0]["dropped"] == "too_large" and rows[0]["text"] == ""


def test_console_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "html2text", str(FIXTURES / "dolma_science_math.html")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert row["formulas"] == 2 and "\\( E = mc^2 \\)" in row["text"]


def test_gzip_bomb_is_cut_at_the_page_limit(tmp_path, capsys):
    bomb = tmp_path / "bomb.html.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        f.write(b"<html><body><p>")
        chunk = b"a" * 1_000_000
        for _ in range(200):  # 200 MB of HTML in ~200 KB on disk
            f.write(chunk)
    assert bomb.stat().st_size < 1_000_000
    rc, rows, _ = run_cli([str(bomb)], capsys)
    assert rc == 0 and rows[0]["dropped"] == "too_large"


def test_careful_reads_a_stack_exchange_page_as_a_thread(capsys):
    from .forum_gold import FORUM, score_posts, stackexchange_posts

    page = (
        FORUM
        / "howdoi"
        / "httpsstackoverflowcomquestions6508819convertdateformatsinbashanswertabvotes.html.gz"
    )
    url = "https://stackoverflow.com/questions/6508819/convert-date-formats-in-bash"
    rc, rows, _ = run_cli([str(page), "--careful"], capsys)
    assert rc == 0 and rows[0]["source"] == "thread"
    posts = stackexchange_posts(gzip.decompress(page.read_bytes()).decode("utf-8"))
    s = score_posts(rows[0]["text"], [t for _, t in posts])
    assert s.kept == s.posts and s.out_of_order == 0  # question, every answer and comment
    # the fast path reads it as a thread only when told the URL (its cheap gate)
    _, fast, _ = run_cli([str(page)], capsys)
    _, fast_url, _ = run_cli([str(page), "--url", url], capsys)
    assert fast[0]["source"] == "fast" and fast_url[0]["source"] == "thread"


def test_help_explains_the_careful_path(capsys):
    with pytest.raises(SystemExit):
        cli_main(["html2text", "--help"])
    out = capsys.readouterr().out
    assert "thread" in out and "+fast" in out and "formula" in out
