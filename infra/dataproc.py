"""Submit a mathmine run to Google Dataproc: a new or existing cluster, or Serverless batches.

Requests are real ``google.cloud.dataproc_v1`` messages (CreateClusterRequest, SubmitJobRequest,
CreateBatchRequest); ``--dry-run`` prints them with ``MessageToDict``. Artifacts are staged to
``<out>/_submit/<stamp>/`` with google-cloud-storage. Common Crawl is read over
``https://data.commoncrawl.org/`` here (no AWS credentials on Google Cloud): an
``s3://commoncrawl/...`` input is rewritten to it.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import common
from infra.packaging import NODE_PYTHON, Artifacts, sha256_file
from infra.storage import COMMONCRAWL_S3, split_uri
from pipeline.config import Config
from pipeline.errors import UserError

JOB_DONE_STATES = {"DONE", "ERROR", "CANCELLED"}


@dataclass
class DataprocOptions:
    inputs: list[str]
    out: str
    project: str
    region: str
    limit: int | None = None
    sample_fraction: float | None = None
    cluster: str | None = None  # existing cluster name; None = create one
    serverless: bool = False
    container_image: str | None = None
    service_account: str | None = None
    template: str | None = None
    kms_key: str | None = None
    wait: bool = True
    poll_s: float = 30.0
    # the run folder the stages read and write, if not --out itself (the default: the run
    # folder lives on the object store, jobs/run_folder.py); e.g. a path every node shares
    run_dir: str | None = None
    expand: list[str] | None = None  # crawls: add `mathmine expand` and the stages after it
    expand_paths: str | None = None  # what expand looks for, if not the accepted paths
    stamp: str = field(default_factory=common.stamp)


def _id(text: str) -> str:
    """Dataproc cluster/batch ids: lowercase letters, digits and '-', 4..63 characters."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63]


def to_dict(message) -> dict:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(type(message).pb(message), preserving_proto_field_name=True)


class DataprocSubmitter:
    def __init__(
        self,
        config: Config,
        opts: DataprocOptions,
        artifacts: Artifacts,
        say: Callable[[str], None] = print,
    ):
        if not opts.out.startswith("gs://"):
            raise UserError(f"--out must be gs://BUCKET/PREFIX for Dataproc, got {opts.out!r}")
        if not opts.project or not opts.region:
            raise UserError("Dataproc needs --project and --region (or GOOGLE_CLOUD_PROJECT)")
        _, bucket, prefix = split_uri(opts.out)
        self.config, self.opts, self.artifacts, self.say = config, opts, artifacts, say
        self.out = f"gs://{bucket}/{prefix.strip('/')}".rstrip("/")
        self.staging = f"{self.out}/_submit/{opts.stamp}"
        self.cluster_name = opts.cluster or _id(f"mathmine-{opts.stamp}")

    # --- artifacts -------------------------------------------------------------------------
    def staged(self) -> dict[str, tuple[Path, str]]:
        files = self.artifacts.files()
        if self.opts.serverless:  # the container image carries the code and dependencies
            files = {k: v for k, v in files.items() if k in ("entry", "config")}
        return {role: (p, f"{self.staging}/{Path(p).name}") for role, p in files.items()}

    def uri(self, role: str) -> str:
        return self.staged()[role][1]

    def inputs(self) -> list[str]:
        prefix = self.config.io.https_prefix.rstrip("/") + "/"
        return [
            prefix + u[len(COMMONCRAWL_S3) :] if u.startswith(COMMONCRAWL_S3) else u
            for u in self.opts.inputs
        ]

    def expand_index(self) -> str | None:
        """Common Crawl's index over https (no AWS credentials here), like the inputs."""
        index = self.config.expand.index
        if index.startswith(COMMONCRAWL_S3):
            return self.config.io.https_prefix.rstrip("/") + "/" + index[len(COMMONCRAWL_S3) :]
        return None

    def stage_argvs(self) -> list[tuple[str, list[str]]]:
        o = self.opts
        return common.planned_stages(
            o.serverless,
            o.expand,
            self.inputs(),
            o.run_dir or self.out,
            self.uri("config"),
            o.limit,
            o.sample_fraction,
            common.expand_argv(o.expand, o.expand_paths, self.expand_index()),
        )

    # --- messages --------------------------------------------------------------------------
    def create_cluster_request(self):
        from google.cloud import dataproc_v1

        tpl = copy.deepcopy(common.load_template(self.opts.template, "dataproc_cluster.yaml"))
        cfg = tpl.setdefault("config", {})
        inits = cfg.get("initialization_actions") or [{}]
        cfg["initialization_actions"] = [{**inits[0], "executable_file": self.uri("bootstrap")}]
        gce = cfg.setdefault("gce_cluster_config", {})
        gce.setdefault("metadata", {}).update(
            {"mathmine-wheel": self.uri("wheel"), "mathmine-requirements": self.uri("requirements")}
        )
        if self.opts.service_account:
            gce["service_account"] = self.opts.service_account
        if self.opts.kms_key:
            cfg["encryption_config"] = {"gce_pd_kms_key_name": self.opts.kms_key}
        cluster = dataproc_v1.Cluster(
            project_id=self.opts.project,
            cluster_name=self.cluster_name,
            config=dataproc_v1.ClusterConfig(cfg),
            labels=tpl.get("labels", {}),
        )
        return dataproc_v1.CreateClusterRequest(
            project_id=self.opts.project, region=self.opts.region, cluster=cluster
        )

    def submit_job_requests(self) -> list:
        from google.cloud import dataproc_v1

        props = {"spark.pyspark.python": NODE_PYTHON, "spark.pyspark.driver.python": NODE_PYTHON}
        out = []
        for stage, argv in self.stage_argvs():
            job = dataproc_v1.Job(
                reference=dataproc_v1.JobReference(
                    job_id=_id(f"mathmine-{stage}-{self.opts.stamp}")
                ),
                placement=dataproc_v1.JobPlacement(cluster_name=self.cluster_name),
                pyspark_job=dataproc_v1.PySparkJob(
                    main_python_file_uri=self.uri("entry"), args=argv, properties=props
                ),
                labels={"project": "mathmine", "stage": stage},
            )
            out.append(
                dataproc_v1.SubmitJobRequest(
                    project_id=self.opts.project, region=self.opts.region, job=job
                )
            )
        return out

    def create_batch_requests(self) -> list:
        from google.cloud import dataproc_v1

        if not self.opts.container_image:
            raise UserError(
                "--serverless needs --container-image (Dataproc Serverless has no init actions): "
                "build one from infra/templates/Dockerfile.dataproc, see docs/cloud.md"
            )
        tpl = copy.deepcopy(common.load_template(self.opts.template, "dataproc_batch.yaml"))
        runtime = tpl.get("runtime_config", {})
        runtime["container_image"] = self.opts.container_image
        props = runtime.setdefault("properties", {})
        props.setdefault("spark.pyspark.python", NODE_PYTHON)
        env = tpl.get("environment_config", {})
        exe = env.setdefault("execution_config", {})
        if self.opts.service_account:
            exe["service_account"] = self.opts.service_account
        if self.opts.kms_key:
            exe["kms_key"] = self.opts.kms_key
        out = []
        for stage, argv in self.stage_argvs():
            batch = dataproc_v1.Batch(
                pyspark_batch=dataproc_v1.PySparkBatch(
                    main_python_file_uri=self.uri("entry"), args=argv
                ),
                runtime_config=dataproc_v1.RuntimeConfig(runtime),
                environment_config=dataproc_v1.EnvironmentConfig(env),
                labels={**tpl.get("labels", {}), "stage": stage},
            )
            out.append(
                dataproc_v1.CreateBatchRequest(
                    parent=f"projects/{self.opts.project}/locations/{self.opts.region}",
                    batch=batch,
                    batch_id=_id(f"mathmine-{stage}-{self.opts.stamp}"),
                )
            )
        return out

    def messages(self) -> list[tuple[str, str, Any]]:
        """(service, operation, dataproc_v1 request message) in the order they are made."""
        if self.opts.serverless:
            return [
                ("dataproc", "BatchController.CreateBatch", m) for m in self.create_batch_requests()
            ]
        out = []
        if not self.opts.cluster:
            out.append(
                ("dataproc", "ClusterController.CreateCluster", self.create_cluster_request())
            )
        out += [("dataproc", "JobController.SubmitJob", m) for m in self.submit_job_requests()]
        return out

    def upload_requests(self) -> list[dict]:
        return [
            {
                "service": "storage",
                "operation": "Blob.upload_from_filename",
                "parameters": {"filename": str(local), "destination": dest},
                "artifact": role,
                "sha256": sha256_file(local),
                "bytes": Path(local).stat().st_size,
            }
            for role, (local, dest) in self.staged().items()
        ]

    def requests(self) -> list[dict]:
        reqs = self.upload_requests()
        for svc, op, msg in self.messages():
            reqs.append({"service": svc, "operation": op, "parameters": to_dict(msg)})
        return reqs

    # --- making them -----------------------------------------------------------------------
    def submit(self) -> dict[str, Any]:
        from google.cloud import dataproc_v1

        from infra.storage import upload_file

        for req in self.upload_requests():
            self.say(f"[submit] upload {req['artifact']} -> {req['parameters']['destination']}")
            upload_file(
                req["parameters"]["filename"],
                req["parameters"]["destination"],
                kms_key_id=self.opts.kms_key,
            )
        endpoint = {"api_endpoint": f"{self.opts.region}-dataproc.googleapis.com:443"}
        result: dict[str, Any] = {"out": self.out, "staging": self.staging}
        for _, op, msg in self.messages():
            if op == "ClusterController.CreateCluster":
                client = dataproc_v1.ClusterControllerClient(client_options=endpoint)
                self.say(f"[submit] creating cluster {self.cluster_name} (a few minutes)")
                client.create_cluster(request=msg).result()
                result["cluster"] = self.cluster_name
            elif op == "JobController.SubmitJob":
                client = dataproc_v1.JobControllerClient(client_options=endpoint)
                job = client.submit_job(request=msg)
                jid = job.reference.job_id
                result.setdefault("jobs", []).append(jid)
                self.say(f"[submit] job {jid}; driver output: {job.driver_output_resource_uri}")
                if not self.opts.wait:
                    # stages depend on each other: without waiting only the first one is sent
                    self.say("[submit] --no-wait: later stages were not submitted")
                    break
                state = self.wait_job(client, jid)
                if state != "DONE":
                    result["state"] = state
                    break
            else:
                client = dataproc_v1.BatchControllerClient(client_options=endpoint)
                op_ = client.create_batch(request=msg)
                result.setdefault("batches", []).append(msg.batch_id)
                self.say(f"[submit] batch {msg.batch_id} submitted")
                if self.opts.wait:
                    batch = op_.result()
                    result["state"] = batch.state.name
        self.say(f"[submit] outputs: {self.out}/ (stats.json, shards/_manifest.json)")
        return result

    def wait_job(self, client, job_id: str) -> str:
        t0, last = time.monotonic(), None
        while True:
            job = client.get_job(
                project_id=self.opts.project, region=self.opts.region, job_id=job_id
            )
            state = job.status.state.name
            if state != last:
                self.say(f"[dataproc] {job_id}: {state} ({(time.monotonic() - t0) / 60:.1f} min)")
                last = state
            if state in JOB_DONE_STATES:
                return state
            time.sleep(self.opts.poll_s)
