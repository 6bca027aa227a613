"""A run whose every record fails exits non-zero with the first error; a WARC without HTML is
not a failure.

The end-to-end case replays the reported one: tldextract older than 5.3 has no
``top_domain_under_public_suffix``, every page raised in ``registered_domain``, every page was
counted as ``bad_record`` and ``mathmine run`` exited 0 with nothing extracted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.extract_job import run_extract, task_key
from jobs.run_folder import RunFolder
from pipeline.config import load_config
from pipeline.errors import StageFailed

REPO = Path(__file__).resolve().parent.parent
WARC = REPO / "tests" / "data" / "warc"
TINY = ["--set", "spark.master=local[1]", "--set", "spark.driver_memory=1g"]

# Run by every Python process of the run (driver and Spark's Python workers inherit
# PYTHONPATH): tldextract as it was before 5.3, without the property pipeline.urls reads.
OLD_TLDEXTRACT = """
import tldextract.tldextract as t
delattr(t.ExtractResult, "top_domain_under_public_suffix")
"""


def _extract(spark, tmp_path: Path, warc: Path):
    config = load_config(None, [])
    run = RunFolder(tmp_path / "run")
    inputs = [str(warc)]
    run.claim(inputs, config, "extract")
    return run, inputs, lambda: run_extract(spark, run, config, inputs)


@pytest.mark.spark
def test_every_record_failing_raises_with_the_first_error(spark, tmp_path):
    not_a_warc = tmp_path / "notes.warc.gz"
    not_a_warc.write_bytes((REPO / "README.md").read_bytes())  # past the CLI's check
    run, inputs, extract = _extract(spark, tmp_path, not_a_warc)
    with pytest.raises(StageFailed) as e:
        extract()
    msg = str(e.value)
    assert "no document extracted from 1 WARC file(s)" in msg
    assert "'bad_record': 1" in msg and "no WARC record found" in msg
    assert "\n" not in msg
    # the counts are kept, the WARC is not marked done: a re-run tries it again
    assert run.read_json("stats.json")["extract"]["dropped"] == {"bad_record": 1}
    assert not run.is_done("extract", task_key(inputs[0]))


@pytest.mark.spark
def test_a_warc_without_html_is_not_a_failure(spark, tmp_path):
    # a WAT file: metadata records only, none of them a page
    run, inputs, extract = _extract(spark, tmp_path, WARC / "cc_whirlwind.warc.wat.gz")
    stats = extract()
    assert stats["kept"] == 0 and stats["dropped"] == {"not_response": 2}
    assert run.is_done("extract", task_key(inputs[0]))


@pytest.mark.slow
@pytest.mark.spark
def test_run_with_a_broken_dependency_exits_nonzero_naming_it(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(OLD_TLDEXTRACT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(REPO)])}
    env["PYSPARK_PYTHON"] = sys.executable
    out = tmp_path / "run"
    # dolma_science_1 holds two pages that extract keeps when the install is sound; they are not
    # math, so the first pass (which would rule them out before the broken call) is off
    args = ["run", "--input", str(WARC / "dolma_science_1.warc.gz"), "--out", str(out), *TINY]
    args += ["--set", "extract.first_pass=false"]
    cmd = [sys.executable, "-m", "jobs.cli", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("mathmine run: failed: no document extracted from 1 WARC file(s)")
    assert "'bad_record': 2" in last and "'not_response': 2" in last
    assert "AttributeError" in last and "top_domain_under_public_suffix" in last
    assert "Traceback" not in proc.stderr
    # the later stages did not run on the empty docs/
    assert not (out / "clean").exists() and not (out / "shards").exists()
