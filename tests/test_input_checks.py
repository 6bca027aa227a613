"""Stage commands check their input before Spark starts: one line, exit code 2, nothing written.

Each case gives a stage command the wrong kind of input (a README where a WARC or Parquet table
belongs, Parquet without the columns the stage needs, a text file as the fastText model) and
asserts the one-line message, exit code 2, that Spark was never started and that no file
appeared or changed. The checks also accept every real input the project has.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.input_checks import (
    check_parquet_table,
    check_run_input,
    check_warc_inputs,
    warc_problem,
)
from jobs.run_folder import RunFolder
from pipeline.config import IOConfig
from pipeline.errors import UserError
from pipeline.records import docs_schema

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
WARCS = sorted((REPO / "tests" / "data" / "warc").glob("*.gz")) + [
    REPO / "sample" / "sample.warc.gz"
]


def docs_table(n: int = 3, drop: tuple[str, ...] = ()) -> pa.Table:
    """A docs/ table of ``n`` rows with the real schema, minus the ``drop`` columns."""
    schema = docs_schema()
    rows = [
        {
            "id": f"{i:016x}",
            "url": f"https://example.org/{i}",
            "domain": "example.org",
            "warc_path": "/x.warc.gz",
            "warc_offset": 100 * i,
            "warc_date": "2024-01-01T00:00:00Z",
            "text": f"Let $x_{i} = {i}$ be a number.",
            "lang": "en",
            "formulas": 1,
            "math_markup": [],
            "minhash": [1, 2, 3],
        }
        for i in range(n)
    ]
    table = pa.Table.from_pylist(rows, schema)
    return table.drop_columns(list(drop))


def make_run(root: Path, **tables: pa.Table | bytes) -> Path:
    """A run folder with run.json and one file per table (Parquet, or raw bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "run.json").write_text('{"run_id": "0123456789abcdef"}')
    for name, content in tables.items():
        (root / name).mkdir()
        target = root / name / "part-00000.parquet"
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            pq.write_table(content, target)
            (root / name / "_SUCCESS").write_text("")  # Spark's marker: not a data file
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def no_spark(monkeypatch):
    """Fail the test if a stage starts Spark: the checks must come first."""
    import jobs.session

    def refuse(*a, **k):
        raise AssertionError("Spark was started before the input was checked")

    monkeypatch.setattr(jobs.session, "get_spark", refuse)


def _cases(tmp: Path) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    """name -> (argv, substrings of the one error line); files are made under ``tmp``."""
    out = str(tmp / "out")
    gz_text = tmp / "notes.warc.gz"
    gz_text.write_bytes(gzip.compress(README.read_bytes()))
    no_text = tmp / "no_text.parquet"
    pq.write_table(docs_table(drop=("text",)), no_text)
    int_text = tmp / "int_text.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": [3]}), int_text)
    mixed = tmp / "mixed"
    mixed.mkdir()
    pq.write_table(docs_table(), mixed / "part-0.parquet")
    shutil.copy(README, mixed / "README.md")
    good = make_run(tmp / "good", docs=docs_table())
    docs = docs_table()
    ids = pa.table({"id": ["a"]})  # a table without the stage's other columns
    r1 = make_run(tmp / "r1", docs=README.read_bytes())
    r3 = make_run(tmp / "r3", docs=docs_table(drop=("url",)))
    r4 = make_run(tmp / "r4", docs=docs, dedup=ids)
    r5 = make_run(tmp / "r5", docs=docs_table(drop=("text",)))
    r6 = make_run(tmp / "r6", docs=docs_table(drop=("lang",)))
    r7 = make_run(tmp / "r7", docs=docs, selected=ids)
    r8 = make_run(tmp / "r8", docs=b"not parquet")
    return {
        "extract-readme": (
            ["extract", "--input", str(README), "--out", out],
            ("README.md", "does not start with a WARC record header", "pass WARC files"),
        ),
        "extract-gzipped-text": (
            ["extract", "--input", str(gz_text), "--out", out],
            ("notes.warc.gz", "is gzip data that does not start with a WARC record"),
        ),
        "run-readme": (
            ["run", "--input", str(README), "--out", out],
            ("README.md", "does not start with a WARC record header"),
        ),
        "sample-readme": (["sample", str(README), "--out", out], ("README.md", "WARC")),
        "dedup-readme": (
            ["dedup", "--input", str(README), "--out", out],
            ("README.md", "is not a Parquet file", "columns id, text", "docs/ or clean/"),
        ),
        "dedup-no-text": (
            ["dedup", "--input", str(no_text), "--out", out],
            ("has no column text", "it has id, url"),
        ),
        "dedup-int-text": (
            ["dedup", "--input", str(int_text), "--out", out],
            ("column text is int64, expected string",),
        ),
        "dedup-folder-with-readme": (
            ["dedup", "--input", str(mixed), "--out", out],
            ("mixed/README.md", "is not a Parquet file"),
        ),
        "clean-docs-not-parquet": (
            ["clean", "--run", str(r1)],
            ("part-00000.parquet", "not a readable Parquet file", "`mathmine clean` reads docs/"),
        ),
        "clean-no-docs": (
            ["clean", "--run", str(make_run(tmp / "r2"))],
            ("docs' does not exist", "`mathmine extract`"),
        ),
        "recall-docs-without-url": (
            ["recall", "--run", str(r3)],
            ("has no column url", "columns id, url, text"),
        ),
        "recall-dedup-without-keep": (
            ["recall", "--run", str(r4)],
            ("dedup/", "has no column keep", "columns id, keep"),
        ),
        "score-model-is-readme": (
            ["score", "--run", str(good), "--model", str(README)],
            ("README.md", "is not a fastText binary model"),
        ),
        "score-docs-without-text": (
            ["score", "--run", str(r5), "--model", str(README)],
            ("has no column text",),
        ),
        "export-docs-without-lang": (
            ["export", "--run", str(r6)],
            ("has no column lang", "`mathmine export` reads docs/"),
        ),
        "export-selected-without-score": (
            ["export", "--run", str(r7)],
            ("selected/", "has no column math_score"),
        ),
        "explain-docs-not-parquet": (
            ["explain", "0000000000000000", "--run", str(r8)],
            ("not a readable Parquet file", "`mathmine explain` reads docs/"),
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "extract-readme",
        "extract-gzipped-text",
        "run-readme",
        "sample-readme",
        "dedup-readme",
        "dedup-no-text",
        "dedup-int-text",
        "dedup-folder-with-readme",
        "clean-docs-not-parquet",
        "clean-no-docs",
        "recall-docs-without-url",
        "recall-dedup-without-keep",
        "score-model-is-readme",
        "score-docs-without-text",
        "export-docs-without-lang",
        "export-selected-without-score",
        "explain-docs-not-parquet",
    ],
)
def test_stage_command_refuses_wrong_input_before_spark(case, tmp_path, no_spark, capsys):
    from jobs.cli import main

    argv, needles = _cases(tmp_path)[case]
    before = snapshot(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"mathmine {argv[0]}: error: ")
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]
    assert snapshot(tmp_path) == before  # nothing written, nothing changed
    assert not (tmp_path / "out").exists()


def test_dedup_of_a_readme_through_the_console_is_one_line(tmp_path):
    """The reported case, end to end: no Spark task failures, no Java stack trace."""
    proc = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "dedup", "--input", str(README), "--out", str(tmp_path)]
        + ["--set", "spark.master=local[1]"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "is not a Parquet file" in proc.stderr and "Traceback" not in proc.stderr
    assert "org.apache" not in proc.stderr + proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_checks_accept_every_real_input(tmp_path):
    # every WARC of the fixtures, the truncated and broken-in-the-middle ones too: what is
    # broken after the first record is counted record by record, never refused up front
    check_warc_inputs([str(p) for p in WARCS])
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(gzip.compress(b""))  # a crawler's empty output file
    (tmp_path / "zero.warc").write_bytes(b"")
    plain = tmp_path / "plain.warc"
    plain.write_bytes(
        gzip.decompress((REPO / "tests/data/warc/dolma_science_0.warc.gz").read_bytes())
    )
    check_warc_inputs([str(empty), str(tmp_path / "zero.warc"), str(plain)])
    check_warc_inputs(["s3://bucket/CC-MAIN-x.warc.gz"])  # remote: opened by its task
    # a folder table as Spark writes it (_SUCCESS, hidden .crc files), a single file, file://
    run = make_run(
        tmp_path / "run", docs=docs_table(), dedup=pa.table({"id": ["a"], "keep": [True]})
    )
    (run / "docs" / ".part-00000.parquet.crc").write_bytes(b"crc")
    assert check_parquet_table(str(run / "docs"), ("id", "url", "text"), "x")
    assert check_parquet_table(str(run / "docs" / "part-00000.parquet"), ("id",), "x")
    assert check_parquet_table(f"file://{run}/docs", ("id", "text"), "x")
    for stage in ("clean", "recall", "score", "explain"):
        check_run_input(RunFolder(run), stage)
    from jobs.export_job import INPUT_COLUMNS

    check_run_input(RunFolder(run), "export", INPUT_COLUMNS)
    # a table that is absent is fine when the stage can do without it
    assert not check_parquet_table(str(run / "selected"), ("id",), "x", optional=True)
    # an all-null column is stored as type null: Spark reads it as the column it wants
    pq.write_table(pa.table({"id": ["a"], "text": pa.nulls(1)}), tmp_path / "nulls.parquet")
    assert check_parquet_table(str(tmp_path / "nulls.parquet"), ("id", "text"), "x")


def test_warc_problem_names_what_the_file_is(tmp_path):
    f = tmp_path / "x.warc.gz"
    f.write_bytes(b"PAR1" + b"\0" * 100)
    assert "is data that does not start with a WARC record header" in warc_problem(str(f))
    f.write_bytes(gzip.compress(b"<html>not a warc</html>"))
    assert warc_problem(str(f)).startswith("is gzip data")
    # a first gzip member that does not inflate is left to the per-record reader
    f.write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 200)
    assert warc_problem(str(f)) == ""


@pytest.mark.cloud
def test_checks_read_tables_on_s3(tmp_path):
    import boto3

    from tests.cloud_fakes import fake_aws_env, moto_server

    with fake_aws_env(), moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="runs")
        pq.write_table(docs_table(), tmp_path / "d.parquet")
        s3.upload_file(str(tmp_path / "d.parquet"), "runs", "a/docs/part-0.parquet")
        s3.put_object(Bucket="runs", Key="a/run.json", Body=b"{}")
        s3.put_object(Bucket="runs", Key="b/docs/part-0.parquet", Body=README.read_bytes())
        check_run_input(RunFolder("s3://runs/a", IOConfig(s3_endpoint_url=endpoint)), "recall")
        with pytest.raises(UserError, match="not a readable Parquet file"):
            check_run_input(RunFolder("s3://runs/b", IOConfig(s3_endpoint_url=endpoint)), "clean")
        with pytest.raises(UserError, match="does not exist"):
            check_run_input(RunFolder("s3://runs/c", IOConfig(s3_endpoint_url=endpoint)), "clean")
