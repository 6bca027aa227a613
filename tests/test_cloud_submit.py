"""`mathmine submit` against a local moto server (EMR, EMR Serverless, S3) and the Dataproc
requests as real google.cloud.dataproc_v1 messages. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import io
import json
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from jobs.cli import main as cli_main
from tests.cloud_fakes import FAKE_AWS_ENV, fake_aws_env, moto_server

pytestmark = pytest.mark.cloud

BUCKET = "mm-test-out"
LISTING = "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/warc.paths.gz"
STAGES = ["extract", "clean", "dedup", "recall", "export"]


@pytest.fixture(scope="module")
def aws():
    import boto3

    with fake_aws_env(), moto_server() as endpoint:
        import os

        os.environ["AWS_ENDPOINT_URL"] = endpoint
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield endpoint
        os.environ.pop("AWS_ENDPOINT_URL", None)


def _run(argv, capsys) -> tuple[int, str, str]:
    rc = cli_main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _submit_emr(out: str, *args: str, capsys) -> tuple[int, str, str]:
    """``mathmine submit emr`` of the test listing into ``out``, with ``args``."""
    return _run(["submit", "emr", "--input", LISTING, "--out", out, *args], capsys)


def _assert_no_secrets(text: str) -> None:
    for k in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"):
        assert FAKE_AWS_ENV[k] not in text, k


def _objects(prefix: str) -> dict[str, bytes]:
    import boto3

    s3 = boto3.client("s3")
    keys = [
        o["Key"]
        for pg in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        for o in pg.get("Contents", [])
    ]
    return {k.rsplit("/", 1)[-1]: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def test_submit_emr_creates_cluster_steps_and_uploads(aws, capsys):
    import boto3
    import yaml

    out = f"s3://{BUCKET}/runs/new"
    rc, stdout, stderr = _run(
        ["submit", "emr", "--input", LISTING, "--out", out, "--limit", "3", "--no-wait"], capsys
    )
    assert rc == 0, stderr
    result = json.loads(stdout)
    emr = boto3.client("emr")
    cluster = emr.describe_cluster(ClusterId=result["cluster_id"])["Cluster"]
    assert cluster["ReleaseLabel"] == "emr-7.5.0"
    assert cluster["LogUri"] == f"{out}/_logs/"
    staging = result["staging"]
    assert staging.startswith(f"{out}/_submit/")
    boot = emr.list_bootstrap_actions(ClusterId=result["cluster_id"])["BootstrapActions"]
    assert boot[0]["ScriptPath"] == f"{staging}/bootstrap.sh"
    assert boot[0]["Args"] == [
        f"{staging}/mathmine-0.1.0-py3-none-any.whl",
        f"{staging}/requirements.txt",
    ]

    steps = list(reversed(emr.list_steps(ClusterId=result["cluster_id"])["Steps"]))
    assert [s["Name"] for s in steps] == [f"mathmine {s}" for s in STAGES]
    assert {s["ActionOnFailure"] for s in steps} == {"CANCEL_AND_WAIT"}
    args = [s["Config"]["Args"] for s in steps]
    entry = f"{staging}/mathmine_entry.py"
    cfg = f"{staging}/config.yaml"
    for a in args:
        assert a[:5] == ["spark-submit", "--master", "yarn", "--deploy-mode", "client"]
        assert "spark.pyspark.python=/opt/mathmine/venv/bin/python" in a
        assert a[a.index(entry) - 1].startswith("spark.executorEnv.PYSPARK_PYTHON=")
    tails = [a[a.index(entry) + 1 :] for a in args]
    assert tails[0] == [
        "extract",
        "--input",
        LISTING,
        "--limit",
        "3",
        "--out",
        out,
        "--config",
        cfg,
    ]
    assert tails[1] == ["clean", "--run", out, "--config", cfg]
    assert tails[2] == ["dedup", "--out", out, "--config", cfg]
    assert tails[4] == ["export", "--run", out, "--config", cfg]

    objs = _objects(staging.split(f"s3://{BUCKET}/", 1)[1])
    assert set(objs) == {
        "mathmine-0.1.0-py3-none-any.whl",
        "requirements.txt",
        "bootstrap.sh",
        "mathmine_entry.py",
        "config.yaml",
    }
    wheel = zipfile.ZipFile(io.BytesIO(objs["mathmine-0.1.0-py3-none-any.whl"]))
    assert {"jobs/cli.py", "infra/storage.py", "pipeline/defaults.yaml"} <= set(wheel.namelist())
    assert yaml.safe_load(objs["config.yaml"])["spark"]["master"] == "yarn"
    reqs = objs["requirements.txt"].decode()
    pins = [ln.split("==")[0].lower() for ln in reqs.splitlines() if "==" in ln]
    assert "pyspark" not in pins and "py4j" not in pins and "fastwarc" in pins
    assert objs["bootstrap.sh"] == (Path("infra/scripts/bootstrap.sh").read_bytes())
    _assert_no_secrets(stdout + stderr)


def test_submit_emr_adds_steps_to_existing_cluster_and_polls(aws, capsys):
    import boto3

    emr = boto3.client("emr")
    cid = emr.run_job_flow(
        Name="existing",
        ReleaseLabel="emr-7.5.0",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "SlaveInstanceType": "m5.xlarge",
            "InstanceCount": 3,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="r",
        ServiceRole="s",
    )["JobFlowId"]
    rc, stdout, stderr = _run(
        [
            "submit",
            "emr",
            "--input",
            "s3://commoncrawl/x.warc.gz",
            "--out",
            f"s3://{BUCKET}/runs/old",
            "--cluster-id",
            cid,
            "--poll",
            "0.05",
            "--timeout",
            "0.2",
        ],
        capsys,
    )
    assert rc == 0, stderr
    result = json.loads(stdout)
    assert result["cluster_id"] == cid and len(result["step_ids"]) == 5
    names = [s["Name"] for s in emr.list_steps(ClusterId=cid)["Steps"]]
    assert sorted(names) == sorted(f"mathmine {s}" for s in STAGES)
    # moto never finishes a step: the poll reports progress, then gives up at the timeout
    assert "[emr] mathmine extract: RUNNING" in stderr
    assert "still running" in stderr and f"{cid}/steps/" in stderr


def test_submit_emr_serverless(aws, capsys, tmp_path):
    import boto3

    archive = tmp_path / "mathmine-venv.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        data = b"#!/bin/sh\n"
        info = tarfile.TarInfo("bin/python")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    out = f"s3://{BUCKET}/runs/sls"
    role = "arn:aws:iam::123456789012:role/mathmine-emr-serverless-job"
    rc, stdout, stderr = _submit_emr(
        out,
        "--serverless",
        "--poll",
        "0.05",
        "--execution-role-arn",
        role,
        "--venv-archive",
        str(archive),
        "--limit",
        "2",
        capsys=capsys,
    )
    assert rc == 0, stderr
    result = json.loads(stdout)
    # moto finishes a job run at once: the poll sees SUCCESS and reports where the logs are
    assert result["state"] == "SUCCESS" and "SUCCESS" in stderr
    assert result["logs"] == f"{out}/_logs/applications/{result['application_id']}/jobs/"
    sls = boto3.client("emr-serverless")
    app = sls.get_application(applicationId=result["application_id"])["application"]
    assert app["releaseLabel"] == "emr-7.5.0" and app["type"].upper() == "SPARK"
    run = sls.get_job_run(applicationId=result["application_id"], jobRunId=result["job_runs"][0])
    driver = run["jobRun"]["jobDriver"]["sparkSubmit"]
    staging = result["staging"]
    assert driver["entryPoint"] == f"{staging}/mathmine_entry.py"
    assert driver["entryPointArguments"] == [
        "run",
        "--input",
        LISTING,
        "--limit",
        "2",
        "--out",
        out,
        "--config",
        f"{staging}/config.yaml",
    ]
    params = driver["sparkSubmitParameters"]
    assert f"--conf spark.archives={staging}/mathmine-venv.tar.gz#environment" in params
    assert "spark.emr-serverless.driverEnv.PYSPARK_PYTHON=./environment/bin/python" in params
    assert run["jobRun"]["executionRole"] == role
    objs = _objects(staging.split(f"s3://{BUCKET}/", 1)[1])
    assert "mathmine-venv.tar.gz" in objs and "bootstrap.sh" not in objs


class _Listener:
    """Counts every TCP connection made to it (a dry run must make none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.stop = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.connections += 1
                c.close()
            except OSError:
                pass

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()


def test_emr_dry_run_makes_no_request_and_prints_no_secret(capsys, monkeypatch, tmp_path):
    listener = _Listener()
    try:
        with fake_aws_env():
            monkeypatch.setenv("AWS_ENDPOINT_URL", listener.url)
            cfg = tmp_path / "c.yaml"
            cfg.write_text(f"io:\n  s3_endpoint_url: {listener.url}\n")
            rc, stdout, stderr = _submit_emr(
                f"s3://{BUCKET}/dry", "--dry-run", "--config", str(cfg), capsys=capsys
            )
    finally:
        listener.close()
    assert rc == 0, stderr
    assert listener.connections == 0
    reqs = json.loads(stdout)
    assert [r["operation"] for r in reqs] == ["upload_file"] * 5 + ["run_job_flow"]
    steps = reqs[-1]["parameters"]["Steps"]
    assert [s["HadoopJarStep"]["Jar"] for s in steps] == ["command-runner.jar"] * 5
    _assert_no_secrets(stdout + stderr)


def test_emr_dry_run_request_is_valid_for_botocore(capsys):
    """The printed run_job_flow parameters pass botocore's own request validation."""
    from botocore.session import get_session
    from botocore.validate import ParamValidator

    rc, stdout, _ = _submit_emr(
        f"s3://{BUCKET}/v", "--dry-run", "--region", "eu-west-1", capsys=capsys
    )
    assert rc == 0
    reqs = json.loads(stdout)
    assert {r["region"] for r in reqs} == {"eu-west-1"}
    req = reqs[-1]
    model = get_session().get_service_model("emr").operation_model("RunJobFlow")
    report = ParamValidator().validate(req["parameters"], model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_serverless_without_archive_is_a_user_error(capsys):
    rc, _, stderr = _submit_emr(
        f"s3://{BUCKET}/x",
        "--serverless",
        "--dry-run",
        "--execution-role-arn",
        "arn:aws:iam::1:role/r",
        capsys=capsys,
    )
    assert rc == 2 and "--venv-archive" in stderr and "\n" not in stderr.strip()
    rc, _, stderr = _run(
        ["submit", "emr", "--input", LISTING, "--out", "gs://b/x", "--dry-run"], capsys
    )
    assert rc == 2 and "s3://BUCKET/PREFIX" in stderr
    rc, _, stderr = _run(
        ["submit", "emr", "--input", "sample/sample.warc.gz", "--out", "s3://b/x", "--dry-run"],
        capsys,
    )
    assert rc == 2 and "local path" in stderr


def test_config_with_a_credential_is_refused_not_uploaded(capsys, tmp_path):
    secret = "planted-s3a-secret-value-1234567890"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "spark:\n  conf:\n"
        f"    spark.hadoop.fs.s3a.secret.key: {secret}\n"
        "    spark.hadoop.fs.s3a.access.key: AKIAPLANTEDKEY000001\n"
        "export:\n  tokenizer: ''\nrecall:\n  token_budget: 1000\n"
    )
    for cloud, out in (("emr", f"s3://{BUCKET}/x"), ("dataproc", "gs://b/x")):
        extra = ["--project", "p", "--region", "r"] if cloud == "dataproc" else []
        rc, stdout, stderr = _run(
            [
                "submit",
                cloud,
                "--input",
                LISTING,
                "--out",
                out,
                "--dry-run",
                "--config",
                str(cfg),
                *extra,
            ],
            capsys,
        )
        assert rc == 2
        assert "spark.conf.spark.hadoop.fs.s3a.secret.key" in stderr
        assert "token_budget" not in stderr  # settings named 'token...' are not credentials
        assert secret not in stdout + stderr and "AKIAPLANTEDKEY000001" not in stdout + stderr


def test_dry_runs_print_no_planted_credential(capsys, monkeypatch):
    with fake_aws_env():
        monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.planted-google-token-value")
        outs = []
        for argv in (
            ["submit", "emr", "--input", LISTING, "--out", f"s3://{BUCKET}/d", "--dry-run"],
            [
                "submit",
                "emr",
                "--input",
                LISTING,
                "--out",
                f"s3://{BUCKET}/d",
                "--dry-run",
                "--cluster-id",
                "j-123",
                "--run-dir",
                "/mnt/efs/run",
            ],
            [
                "submit",
                "dataproc",
                "--input",
                LISTING,
                "--out",
                "gs://b/d",
                "--project",
                "p",
                "--region",
                "r",
                "--dry-run",
            ],
        ):
            rc, stdout, stderr = _run(argv, capsys)
            assert rc == 0, stderr
            outs.append(stdout + stderr)
    text = "\n".join(outs)
    _assert_no_secrets(text)
    assert "ya29.planted-google-token-value" not in text
    # --run-dir: the stages use the shared path, staging and logs stay under --out
    reqs = json.loads(outs[1])
    steps = reqs[-1]["parameters"]["Steps"]
    assert steps[1]["HadoopJarStep"]["Args"][-4:-2] == ["--run", "/mnt/efs/run"]


def test_scrub_masks_signed_urls_and_keys(monkeypatch):
    from infra.common import scrub

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "abcdEFGHijklMNOP1234")
    got = scrub(
        {
            "url": "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAABCDEFGHIJKLMNOP%2F2024&X-Amz-Signature=deadbeef",
            "note": "key AKIAABCDEFGHIJKLMNOP and abcdEFGHijklMNOP1234",
            "aws_secret_access_key": "whatever",
            "keep": "s3://bucket/crawl-data/x.warc.gz",
        }
    )
    text = json.dumps(got)
    for s in ("deadbeef", "AKIAABCDEFGHIJKLMNOP", "abcdEFGHijklMNOP1234", "whatever"):
        assert s not in text
    assert got["keep"] == "s3://bucket/crawl-data/x.warc.gz"


def test_wait_steps_stops_at_the_first_failure_and_reports_each_change():
    """Polling logic against botocore's own Stubber (responses validated by the EMR model)."""
    import datetime

    import boto3
    from botocore.stub import Stubber

    from infra.emr import EmrOptions, EmrSubmitter
    from infra.packaging import Artifacts
    from pipeline.config import load_config

    emr = boto3.client(
        "emr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    stub = Stubber(emr)
    now = datetime.datetime(2024, 1, 1)

    def step(sid, name, state):
        return {
            "Step": {
                "Id": sid,
                "Name": name,
                "Status": {"State": state, "Timeline": {"CreationDateTime": now}},
            }
        }

    seq = [
        ("RUNNING", "PENDING"),
        ("RUNNING", "PENDING"),
        ("COMPLETED", "RUNNING"),
        ("COMPLETED", "FAILED"),
    ]
    for a, b in seq:
        stub.add_response(
            "describe_step",
            step("s-1", "mathmine extract", a),
            {"ClusterId": "j-1", "StepId": "s-1"},
        )
        stub.add_response(
            "describe_step", step("s-2", "mathmine clean", b), {"ClusterId": "j-1", "StepId": "s-2"}
        )
    lines: list[str] = []
    art = Artifacts(*(Path("x") for _ in range(5)))
    sub = EmrSubmitter(
        load_config(), EmrOptions(inputs=[], out="s3://b/p", poll_s=0.0), art, say=lines.append
    )
    with stub:
        states = sub.wait_steps(emr, "j-1", ["s-1", "s-2"])
    stub.assert_no_pending_responses()
    assert states == {"s-1": "COMPLETED", "s-2": "FAILED"}
    changes = [ln.split(" (")[0] for ln in lines]
    assert changes == [
        "[emr] mathmine extract: RUNNING",
        "[emr] mathmine clean: PENDING",
        "[emr] mathmine extract: COMPLETED",
        "[emr] mathmine clean: RUNNING",
        "[emr] mathmine clean: FAILED",
    ]
