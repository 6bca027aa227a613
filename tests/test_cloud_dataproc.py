"""Dataproc requests are real google.cloud.dataproc_v1 messages: checked field by field, and
the --dry-run JSON parses back into the same messages. No network."""

from __future__ import annotations

import json
import re

import pytest
from google.cloud import dataproc_v1

from infra.dataproc import DataprocOptions, DataprocSubmitter, to_dict
from infra.packaging import NODE_PYTHON, build_artifacts
from jobs.cli import main as cli_main
from pipeline.config import load_config

LISTING = "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/warc.paths.gz"
OUT = "gs://mm-test-out/runs/r1"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    from infra.common import cluster_config_yaml

    cfg = load_config()
    return build_artifacts(
        tmp_path_factory.mktemp("art"), cluster_config_yaml(cfg, "yarn"), ("cloud",)
    )


def _submitter(artifacts, **kw):
    opts = DataprocOptions(
        inputs=[LISTING],
        out=OUT,
        project="my-proj",
        region="europe-west4",
        limit=5,
        stamp="20240601T000000Z",
        **kw,
    )
    return DataprocSubmitter(load_config(), opts, artifacts)


def test_cluster_and_jobs_field_by_field(artifacts):
    sub = _submitter(artifacts)
    msgs = sub.messages()
    assert [op for _, op, _ in msgs] == ["ClusterController.CreateCluster"] + [
        "JobController.SubmitJob"
    ] * 5
    create = msgs[0][2]
    assert isinstance(create, dataproc_v1.CreateClusterRequest)
    assert (create.project_id, create.region) == ("my-proj", "europe-west4")
    c = create.cluster
    assert c.cluster_name == "mathmine-20240601t000000z"
    assert c.config.software_config.image_version.startswith("2.2")
    assert c.config.software_config.properties["spark:spark.pyspark.python"] == NODE_PYTHON
    staging = f"{OUT}/_submit/20240601T000000Z"
    init = c.config.initialization_actions[0]
    assert init.executable_file == f"{staging}/bootstrap.sh"
    assert init.execution_timeout.seconds == 900
    md = c.config.gce_cluster_config.metadata
    assert md["mathmine-wheel"] == f"{staging}/mathmine-0.1.0-py3-none-any.whl"
    assert md["mathmine-requirements"] == f"{staging}/requirements.txt"
    assert c.config.secondary_worker_config.preemptibility == (
        dataproc_v1.InstanceGroupConfig.Preemptibility.SPOT
    )
    assert c.config.lifecycle_config.idle_delete_ttl.seconds == 1800

    jobs = [m for _, _, m in msgs[1:]]
    https = "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-22/warc.paths.gz"
    for stage, req in zip(["extract", "clean", "dedup", "recall", "export"], jobs):
        assert isinstance(req, dataproc_v1.SubmitJobRequest)
        assert (req.project_id, req.region) == ("my-proj", "europe-west4")
        job = req.job
        assert job.placement.cluster_name == c.cluster_name
        assert job.pyspark_job.main_python_file_uri == f"{staging}/mathmine_entry.py"
        assert job.pyspark_job.properties["spark.pyspark.python"] == NODE_PYTHON
        assert job.pyspark_job.args[0] == stage
        assert list(job.pyspark_job.args[-2:]) == ["--config", f"{staging}/config.yaml"]
        assert re.fullmatch(r"[a-z0-9-]{4,63}", job.reference.job_id)
        assert job.labels["stage"] == stage
    # Common Crawl over https on Google Cloud: the s3:// listing is rewritten
    assert list(jobs[0].job.pyspark_job.args) == [
        "extract",
        "--input",
        https,
        "--limit",
        "5",
        "--out",
        OUT,
        "--config",
        f"{staging}/config.yaml",
    ]


def test_existing_cluster_skips_create(artifacts):
    sub = _submitter(artifacts, cluster="team-cluster")
    msgs = sub.messages()
    assert [op for _, op, _ in msgs] == ["JobController.SubmitJob"] * 5
    assert {m.job.placement.cluster_name for _, _, m in msgs} == {"team-cluster"}


def test_serverless_batch_field_by_field(artifacts):
    image = "europe-west4-docker.pkg.dev/my-proj/mathmine/spark:0.1.0"
    sub = _submitter(
        artifacts,
        serverless=True,
        container_image=image,
        service_account="mm@my-proj.iam.gserviceaccount.com",
    )
    [(_, op, req)] = sub.messages()
    assert op == "BatchController.CreateBatch"
    assert isinstance(req, dataproc_v1.CreateBatchRequest)
    assert req.parent == "projects/my-proj/locations/europe-west4"
    assert re.fullmatch(r"[a-z0-9-]{4,63}", req.batch_id)
    b = req.batch
    assert b.runtime_config.container_image == image
    assert b.runtime_config.version == "2.2"
    assert b.environment_config.execution_config.service_account.startswith("mm@")
    assert b.environment_config.execution_config.ttl.seconds == 43200
    assert b.pyspark_batch.main_python_file_uri.endswith("/mathmine_entry.py")
    assert b.pyspark_batch.args[0] == "run"
    # serverless stages only the entry script and config: the image carries the code
    assert set(sub.staged()) == {"entry", "config"}


def submit_dataproc(*args: str) -> int:
    """``mathmine submit dataproc`` of the test listing into OUT, with ``args``."""
    return cli_main(["submit", "dataproc", "--input", LISTING, "--out", OUT, *args])


def test_dry_run_json_parses_back_into_the_same_messages(capsys):
    from google.protobuf.json_format import ParseDict

    rc = submit_dataproc("--project", "p1", "--region", "us-central1", "--dry-run")
    out = capsys.readouterr().out
    assert rc == 0
    reqs = json.loads(out)
    assert [r["operation"] for r in reqs][:5] == ["Blob.upload_from_filename"] * 5
    create = reqs[5]
    assert create["operation"] == "ClusterController.CreateCluster"
    msg = dataproc_v1.CreateClusterRequest()
    ParseDict(create["parameters"], type(msg).pb(msg))
    assert to_dict(msg) == create["parameters"]
    assert msg.cluster.config.worker_config.machine_type_uri == "n2-standard-8"
    jobs = [r for r in reqs if r["operation"] == "JobController.SubmitJob"]
    assert [j["parameters"]["job"]["pyspark_job"]["args"][0] for j in jobs] == [
        "extract",
        "clean",
        "dedup",
        "recall",
        "export",
    ]


def test_dataproc_serverless_needs_image(capsys):
    rc = submit_dataproc("--project", "p", "--region", "r", "--serverless", "--dry-run")
    assert rc == 2 and "--container-image" in capsys.readouterr().err
