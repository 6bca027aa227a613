"""Submit a mathmine run to AWS EMR on EC2 (new cluster or ``--cluster-id``) or EMR Serverless.

Every service call is first built as a plain request (service, operation, parameters); a dry run
prints them, a real run makes them in order. Artifacts (wheel, pinned requirements, bootstrap
script, entry script, resolved config) are staged under ``<out>/_submit/<stamp>/`` so the IAM
policy only needs the output prefix; cluster logs go to ``<out>/_logs/``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import common
from infra.packaging import NODE_PYTHON, Artifacts, sha256_file
from infra.storage import split_uri
from pipeline.config import Config
from pipeline.errors import UserError

TERMINAL_STEP_STATES = {"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"}
TERMINAL_JOB_STATES = {"SUCCESS", "FAILED", "CANCELLED"}
# Placeholder for a value only known once an earlier request has run.
FROM_CREATE_APPLICATION = "<applicationId from create_application>"


@dataclass
class EmrOptions:
    inputs: list[str]
    out: str
    limit: int | None = None
    sample_fraction: float | None = None
    cluster_id: str | None = None
    serverless: bool = False
    application_id: str | None = None
    execution_role_arn: str | None = None
    venv_archive: str | None = None  # local .tar.gz or s3:// URI (EMR Serverless)
    region: str | None = None
    template: str | None = None
    release_label: str | None = None
    name: str | None = None
    kms_key_id: str | None = None
    wait: bool = True
    poll_s: float = 30.0
    timeout_s: float | None = None
    # the run folder the stages read and write, if not --out itself (the default: the run
    # folder lives on the object store, jobs/run_folder.py); e.g. a path every node shares
    run_dir: str | None = None
    expand: list[str] | None = None  # crawls: add `mathmine expand` and the stages after it
    expand_paths: str | None = None  # what expand looks for, if not the accepted paths
    stamp: str = field(default_factory=common.stamp)


class EmrSubmitter:
    """Builds (and optionally makes) every request of one EMR submission."""

    def __init__(
        self,
        config: Config,
        opts: EmrOptions,
        artifacts: Artifacts,
        say: Callable[[str], None] = print,
    ):
        if not opts.out.startswith(("s3://", "s3a://")):
            raise UserError(f"--out must be s3://BUCKET/PREFIX for EMR, got {opts.out!r}")
        _, bucket, prefix = split_uri(opts.out)
        if not bucket:
            raise UserError(f"--out {opts.out!r} has no bucket; pass s3://BUCKET/PREFIX")
        self.config = config
        self.opts = opts
        self.artifacts = artifacts
        self.say = say
        self.out = f"s3://{bucket}/{prefix.strip('/')}".rstrip("/")
        self.staging = f"{self.out}/_submit/{opts.stamp}"
        self.log_uri = f"{self.out}/_logs/"
        if opts.serverless and not opts.venv_archive:
            raise UserError(
                "--serverless needs --venv-archive (EMR Serverless has no bootstrap actions): "
                "build one with infra/scripts/build_venv_archive.sh, see docs/cloud.md"
            )

    # --- artifacts -------------------------------------------------------------------------
    def staged(self) -> dict[str, tuple[Path | None, str]]:
        """role -> (local file or None if already remote, destination URI)."""
        out: dict[str, tuple[Path | None, str]] = {}
        files = self.artifacts.files()
        if self.opts.serverless:
            files = {k: v for k, v in files.items() if k not in ("bootstrap", "requirements")}
        for role, path in files.items():
            out[role] = (path, f"{self.staging}/{Path(path).name}")
        if self.opts.serverless:
            va = self.opts.venv_archive or ""
            if "://" in va:
                out["venv_archive"] = (None, va)
            else:
                if not Path(va).is_file():
                    raise UserError(f"--venv-archive {va!r} does not exist")
                out["venv_archive"] = (Path(va), f"{self.staging}/{Path(va).name}")
        return out

    def upload_requests(self) -> list[dict]:
        reqs = []
        for role, (local, dest) in self.staged().items():
            if local is None:
                continue
            _, bucket, key = split_uri(dest)
            reqs.append(
                {
                    "service": "s3",
                    "operation": "upload_file",
                    "parameters": {
                        "Filename": str(local),
                        "Bucket": bucket,
                        "Key": key,
                        "ExtraArgs": self._sse(),
                    },
                    "artifact": role,
                    "sha256": sha256_file(local),
                    "bytes": Path(local).stat().st_size,
                }
            )
        return reqs

    def _sse(self) -> dict[str, str]:
        if self.opts.kms_key_id:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.opts.kms_key_id}
        return {"ServerSideEncryption": "AES256"}

    def uri(self, role: str) -> str:
        return self.staged()[role][1]

    # --- spark-submit ----------------------------------------------------------------------
    def stage_argvs(self) -> list[tuple[str, list[str]]]:
        o = self.opts
        return common.planned_stages(
            o.serverless,
            o.expand,
            o.inputs,
            o.run_dir or self.out,
            self.uri("config"),
            o.limit,
            o.sample_fraction,
            common.expand_argv(o.expand, o.expand_paths, self.expand_index()),
        )

    def expand_index(self) -> str | None:
        """The index the expand step reads: the config's (s3://commoncrawl/ by default)."""
        return None

    def spark_submit_args(self, argv: list[str]) -> list[str]:
        conf = {
            "spark.pyspark.python": NODE_PYTHON,
            "spark.pyspark.driver.python": NODE_PYTHON,
            "spark.yarn.appMasterEnv.PYSPARK_PYTHON": NODE_PYTHON,
            "spark.executorEnv.PYSPARK_PYTHON": NODE_PYTHON,
        }
        return [
            "spark-submit",
            "--master",
            "yarn",
            "--deploy-mode",
            "client",  # the driver's output lands in the step's stdout log
            *common.spark_conf_args(conf),
            self.uri("entry"),
            *argv,
        ]

    def steps(self) -> list[dict]:
        return [
            {
                "Name": f"mathmine {stage}",
                # a failed stage cancels the rest: each stage reads the previous one's output
                "ActionOnFailure": "CANCEL_AND_WAIT",
                "HadoopJarStep": {
                    "Jar": "command-runner.jar",
                    "Args": self.spark_submit_args(argv),
                },
            }
            for stage, argv in self.stage_argvs()
        ]

    # --- the requests ----------------------------------------------------------------------
    def run_job_flow_request(self) -> dict:
        tpl = common.load_template(self.opts.template, "emr_cluster.yaml")
        req = copy.deepcopy(tpl)
        req["Name"] = self.opts.name or f"{tpl.get('Name', 'mathmine')}-{self.opts.stamp}"
        if self.opts.release_label:
            req["ReleaseLabel"] = self.opts.release_label
        req["LogUri"] = self.log_uri
        req["BootstrapActions"] = [
            {
                "Name": "mathmine venv",
                "ScriptBootstrapAction": {
                    "Path": self.uri("bootstrap"),
                    "Args": [self.uri("wheel"), self.uri("requirements")],
                },
            }
        ]
        req["Steps"] = self.steps()
        return req

    def serverless_job_driver(self, argv: list[str]) -> dict:
        tpl = common.load_template(self.opts.template, "emr_serverless.yaml")
        env_python = "./environment/bin/python"
        params = {
            "spark.archives": f"{self.uri('venv_archive')}#environment",
            "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON": env_python,
            "spark.emr-serverless.driverEnv.PYSPARK_PYTHON": env_python,
            "spark.executorEnv.PYSPARK_PYTHON": env_python,
        }
        params.update(tpl.get("job", {}).get("sparkSubmitParameters", {}))
        return {
            "sparkSubmit": {
                "entryPoint": self.uri("entry"),
                "entryPointArguments": argv,
                "sparkSubmitParameters": " ".join(common.spark_conf_args(params)),
            }
        }

    def serverless_requests(self) -> list[dict]:
        tpl = common.load_template(self.opts.template, "emr_serverless.yaml")
        reqs = []
        app_id = self.opts.application_id
        if not app_id:
            app = copy.deepcopy(tpl.get("application", {}))
            if self.opts.release_label:
                app["releaseLabel"] = self.opts.release_label
            reqs.append(
                {"service": "emr-serverless", "operation": "create_application", "parameters": app}
            )
            app_id = FROM_CREATE_APPLICATION
        role = self.opts.execution_role_arn
        if not role:
            raise UserError(
                "--serverless needs --execution-role-arn (the job's IAM role, see "
                "infra/iam/emr_serverless_execution_role_policy.json)"
            )
        for stage, argv in self.stage_argvs():
            reqs.append(
                {
                    "service": "emr-serverless",
                    "operation": "start_job_run",
                    "parameters": {
                        "applicationId": app_id,
                        "name": f"mathmine {stage} {self.opts.stamp}",
                        "executionRoleArn": role,
                        "jobDriver": self.serverless_job_driver(argv),
                        "configurationOverrides": {
                            "monitoringConfiguration": {
                                "s3MonitoringConfiguration": {"logUri": self.log_uri}
                            }
                        },
                        "executionTimeoutMinutes": int(
                            tpl.get("job", {}).get("executionTimeoutMinutes", 720)
                        ),
                    },
                }
            )
        return reqs

    def requests(self) -> list[dict]:
        """Every request of this submission, in the order it is made."""
        reqs = self.upload_requests()
        if self.opts.serverless:
            reqs += self.serverless_requests()
        elif self.opts.cluster_id:
            reqs.append(
                {
                    "service": "emr",
                    "operation": "add_job_flow_steps",
                    "parameters": {"JobFlowId": self.opts.cluster_id, "Steps": self.steps()},
                }
            )
        else:
            reqs.append(
                {
                    "service": "emr",
                    "operation": "run_job_flow",
                    "parameters": self.run_job_flow_request(),
                }
            )
        region = self.region()
        return [{**r, "region": region} for r in reqs]

    def region(self) -> str:
        import os

        return (
            self.opts.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"  # Common Crawl's region: reading it from there is free
        )

    # --- making them -----------------------------------------------------------------------
    def submit(self, session=None) -> dict[str, Any]:
        """Make every request; returns ids and where logs and outputs are."""
        import boto3

        from infra.storage import s3_endpoint

        region = self.region()
        session = session or boto3.session.Session(region_name=region)
        endpoint = s3_endpoint(self.config.io)
        s3 = session.client("s3", region_name=region, endpoint_url=endpoint)
        result: dict[str, Any] = {"out": self.out, "logs": self.log_uri, "staging": self.staging}
        for req in self.requests():
            svc, op, params = req["service"], req["operation"], req["parameters"]
            if svc == "s3":
                self.say(
                    f"[submit] upload {req['artifact']} -> s3://{params['Bucket']}/{params['Key']}"
                )
                s3.upload_file(**params)
                continue
            client = session.client(svc, region_name=region)
            if op == "create_application":
                app_id = client.create_application(**params)["applicationId"]
                result["application_id"] = app_id
                self.say(f"[submit] created EMR Serverless application {app_id}")
                continue
            if op == "start_job_run":
                if params["applicationId"] == FROM_CREATE_APPLICATION:
                    params = {**params, "applicationId": result["application_id"]}
                result.setdefault("application_id", params["applicationId"])
                run_id = client.start_job_run(**params)["jobRunId"]
                result.setdefault("job_runs", []).append(run_id)
                self.say(f"[submit] started job run {run_id} ({params['name']})")
                if self.opts.wait:
                    state = self.wait_job_run(client, params["applicationId"], run_id)
                    result["state"] = state
                    if state != "SUCCESS":
                        break
                continue
            resp = getattr(client, op)(**params)
            if op == "run_job_flow":
                result["cluster_id"] = resp["JobFlowId"]
                steps = client.list_steps(ClusterId=resp["JobFlowId"])["Steps"]
                result["step_ids"] = [s["Id"] for s in reversed(steps)]
                self.say(f"[submit] created cluster {resp['JobFlowId']} with {len(steps)} steps")
            else:
                result["cluster_id"] = self.opts.cluster_id
                result["step_ids"] = resp["StepIds"]
                self.say(f"[submit] added {len(resp['StepIds'])} steps to {self.opts.cluster_id}")
        if "cluster_id" in result:
            result["logs"] = f"{self.log_uri}{result['cluster_id']}/steps/"
            if self.opts.wait:
                emr = session.client("emr", region_name=region)
                result["steps"] = self.wait_steps(emr, result["cluster_id"], result["step_ids"])
        elif "application_id" in result:
            result["logs"] = f"{self.log_uri}applications/{result['application_id']}/jobs/"
        self.say(f"[submit] logs: {result['logs']}")
        self.say(f"[submit] outputs: {self.out}/ (stats.json, shards/_manifest.json)")
        return result

    def wait_steps(self, emr, cluster_id: str, step_ids: list[str]) -> dict[str, str]:
        """Poll until every step is finished (or one failed); print each change of state."""
        t0 = time.monotonic()
        last: dict[str, str] = {}
        while True:
            states = {}
            for sid in step_ids:
                st = emr.describe_step(ClusterId=cluster_id, StepId=sid)["Step"]
                states[sid] = st["Status"]["State"]
                if last.get(sid) != states[sid]:
                    mins = (time.monotonic() - t0) / 60
                    self.say(f"[emr] {st['Name']}: {states[sid]} ({mins:.1f} min)")
            last = states
            done = sum(s == "COMPLETED" for s in states.values())
            if all(s in TERMINAL_STEP_STATES for s in states.values()):
                return states
            if any(s in ("FAILED", "INTERRUPTED") for s in states.values()):
                return states
            if self.opts.timeout_s is not None and time.monotonic() - t0 > self.opts.timeout_s:
                self.say(
                    f"[emr] still running after {self.opts.timeout_s:.0f} s ({done} of "
                    f"{len(step_ids)} steps done); follow it in the EMR console"
                )
                return states
            time.sleep(self.opts.poll_s)

    def wait_job_run(self, client, app_id: str, run_id: str) -> str:
        t0 = time.monotonic()
        last = None
        while True:
            state = client.get_job_run(applicationId=app_id, jobRunId=run_id)["jobRun"]["state"]
            if state != last:
                self.say(
                    f"[emr-serverless] {run_id}: {state} ({(time.monotonic() - t0) / 60:.1f} min)"
                )
                last = state
            if state in TERMINAL_JOB_STATES:
                return state
            if self.opts.timeout_s is not None and time.monotonic() - t0 > self.opts.timeout_s:
                self.say(f"[emr-serverless] {run_id} still {state}; follow it in EMR Studio")
                return state
            time.sleep(self.opts.poll_s)
