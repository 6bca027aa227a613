"""The CLI: --help everywhere, and one-line errors with exit code 2 for bad input."""

import gzip
import json
import subprocess
import sys

import pytest

from jobs.cli import COMMANDS


def mathmine(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_explains_every_command(command):
    r = mathmine(command, "--help")
    assert r.returncode == 0, r.stderr
    assert "usage: mathmine " + command in r.stdout
    assert len(r.stdout.splitlines()) > 3


def test_top_level_help_lists_commands():
    r = mathmine("--help")
    assert r.returncode == 0
    for command in COMMANDS:
        assert command in r.stdout


def assert_one_line_error(r, *needles):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_input_path(tmp_path):
    r = mathmine("run", "--input", str(tmp_path / "nope.warc.gz"), "--out", str(tmp_path / "o"))
    assert_one_line_error(r, "nope.warc.gz", "does not exist")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "text, needles",
    [
        ("dedup:\n  treshold: 0.5\n", ["treshold"]),
        # an older config file: refused with the key's new name, not run with the default
        (
            "extract:\n  fast_threads: false\n",
            ["'extract.fast_threads'", "renamed extract.fast_forum_threads"],
        ),
    ],
)
def test_unknown_or_renamed_config_key(tmp_path, text, needles):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    warc = tmp_path / "x.warc.gz"
    warc.write_bytes(gzip.compress(b""))
    r = mathmine("run", "--input", str(warc), "--out", str(tmp_path / "o"), "--config", str(cfg))
    assert_one_line_error(r, *needles)


@pytest.mark.parametrize(
    "override, needles",
    [
        ("extract.max_page_bytes=big", ["extract.max_page_bytes", "expected int"]),
        # outside what the schema accepts: the key, the range and the value
        ("dedup.threshold=1.5", ["'dedup.threshold'", "must be in (0, 1)", "got 1.5"]),
    ],
)
def test_wrong_type_or_range_override(tmp_path, override, needles):
    warc = tmp_path / "x.warc.gz"
    warc.write_bytes(gzip.compress(b""))
    r = mathmine("extract", "--input", str(warc), "--out", str(tmp_path / "o"), "--set", override)
    assert_one_line_error(r, *needles)
    assert not (tmp_path / "o").exists()


def test_refuses_foreign_output_folder(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    warc = tmp_path / "x.warc.gz"
    warc.write_bytes(gzip.compress(b""))
    r = mathmine("extract", "--input", str(warc), "--out", str(out))
    assert_one_line_error(r, "not empty", "not a mathmine run folder")
    assert (out / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["precious.txt"]


def test_refuses_run_folder_of_another_run(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    run_json = {"run_id": "0123456789abcdef", "inputs": ["/elsewhere.warc.gz"]}
    (out / "run.json").write_text(json.dumps(run_json))
    warc = tmp_path / "x.warc.gz"
    warc.write_bytes(gzip.compress(b""))
    r = mathmine("run", "--input", str(warc), "--out", str(out))
    assert_one_line_error(r, "belongs to another run")
    assert json.loads((out / "run.json").read_text()) == run_json


def test_no_command_prints_help():
    r = mathmine()
    assert r.returncode == 2
    assert "COMMAND" in r.stdout
