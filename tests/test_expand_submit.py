"""`mathmine submit ... --expand CRAWL`: the expand step and the stages after it, the index
query in --dry-run, the right index for each cloud. No network: dry runs only."""

from __future__ import annotations

import json

import pytest

from tests.cloud_fakes import fake_aws_env
from tests.test_cloud_submit import _run

pytestmark = pytest.mark.cloud

LISTING = "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/warc.paths.gz"
AFTER = ["extract", "clean", "dedup", "recall", "expand", "clean", "dedup", "recall", "export"]


def test_emr_dry_run_adds_expand_and_the_stages_after_it(capsys, tmp_path):
    paths = tmp_path / "reviewed.tsv"
    paths.write_text("mathoverflow.net/questions\nplanetmath.org\n")
    with fake_aws_env():
        rc, out, err = _run(
            [
                "submit", "emr", "--input", LISTING, "--out", "s3://mm-out/x", "--dry-run",
                "--expand", "CC-MAIN-2024-22", "--expand", "CC-MAIN-2024-26",
                "--expand-paths", str(paths),
            ],
            capsys,
        )  # fmt: skip
    assert rc == 0, err
    reqs = json.loads(out)
    steps = reqs[-1]["parameters"]["Steps"]
    names = [s["Name"] for s in steps]
    assert names == [f"mathmine {s}" for s in AFTER[:5]] + [
        "mathmine clean-2",
        "mathmine dedup-2",
        "mathmine recall-2",
        "mathmine export",
    ]
    args = steps[4]["HadoopJarStep"]["Args"]
    at = args.index("expand")
    tail = args[at:]
    assert tail[:5] == ["expand", "--crawl", "CC-MAIN-2024-22", "--crawl", "CC-MAIN-2024-26"]
    staged = tail[tail.index("--paths") + 1]
    assert staged.startswith("s3://mm-out/x/_submit/") and staged.endswith("expand_paths.txt")
    assert tail[tail.index("--run") + 1] == "s3://mm-out/x"
    uploads = {r["artifact"] for r in reqs if r["operation"] == "upload_file"}
    assert "expand_paths" in uploads
    # the index query, printed without any request
    assert "crawl IN ('CC-MAIN-2024-22', 'CC-MAIN-2024-26') AND subset = 'warc'" in err
    assert "url_host_registered_domain = 'planetmath.org'" in err
    assert "url_surtkey BETWEEN 'net,mathoverflow)/questions'" in err
    assert "ranged reads" in err


def test_dataproc_reads_the_index_over_https(capsys):
    rc, out, err = _run(
        [
            "submit", "dataproc", "--input", LISTING, "--out", "gs://mm-out/x", "--dry-run",
            "--project", "p", "--region", "europe-west1", "--expand", "CC-MAIN-2024-22",
        ],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    jobs = [r for r in json.loads(out) if r["operation"] == "JobController.SubmitJob"]
    ids = [j["parameters"]["job"]["reference"]["job_id"] for j in jobs]
    assert len(ids) == len(AFTER) == len(set(ids))
    args = jobs[4]["parameters"]["job"]["pyspark_job"]["args"]
    assert args[0] == "expand"
    assert args[args.index("--index") + 1] == (
        "https://data.commoncrawl.org/cc-index/table/cc-main/warc/"
    )
    assert "models/iter=N/url_paths.tsv" in err  # the paths come from the run itself


def test_expand_with_serverless_is_refused(capsys):
    with fake_aws_env():
        rc, _, err = _run(
            [
                "submit", "emr", "--input", LISTING, "--out", "s3://mm-out/x", "--dry-run",
                "--serverless", "--execution-role-arn", "arn:aws:iam::1:role/r",
                "--venv-archive", "s3://mm-out/venv.tar.gz", "--expand", "CC-MAIN-2024-22",
            ],
            capsys,
        )  # fmt: skip
    assert rc == 2 and "--expand needs a cluster" in err
