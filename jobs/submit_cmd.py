"""Submit a run to AWS EMR (on EC2 or Serverless) or Google Dataproc (cluster or Serverless).

  mathmine submit emr --input URI --out s3://BUCKET/PREFIX [--limit N] [--cluster-id ID | --serverless]
  mathmine submit dataproc --input URI --out gs://BUCKET/PREFIX --project P --region R [--cluster NAME | --serverless]

--dry-run prints every request (service, operation, parameters, the exact spark-submit
arguments) as JSON and makes none. See docs/cloud.md for credentials, IAM and costs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

# --config/--set go on each cloud's parser (after ``emr``/``dataproc`` on the command line), not
# on ``submit``'s: a value given before the cloud's name would be overwritten by its default
CONFIG_ON_SUBPARSERS = True


def add_arguments(p) -> None:
    from jobs.cli import add_config_arguments

    sub = p.add_subparsers(dest="cloud", metavar="CLOUD", required=True)
    for name, help_text in (
        ("emr", "AWS EMR on EC2 (new cluster or --cluster-id) or EMR Serverless"),
        ("dataproc", "Google Dataproc (new cluster or --cluster) or Dataproc Serverless"),
    ):
        c = sub.add_parser(name, help=help_text, description=help_text)
        c.add_argument(
            "--input",
            nargs="+",
            required=True,
            metavar="URI",
            help="WARC URIs or a Common Crawl warc.paths.gz listing",
        )
        c.add_argument(
            "--out",
            required=True,
            metavar="URI",
            help="s3://BUCKET/PREFIX (emr) or gs://BUCKET/PREFIX (dataproc)",
        )
        c.add_argument("--limit", type=int, help="only the first N WARCs")
        c.add_argument("--sample-fraction", type=float, help="a random share of the WARCs")
        c.add_argument(
            "--serverless", action="store_true", help="EMR Serverless / Dataproc Serverless"
        )
        c.add_argument(
            "--dry-run", action="store_true", help="print every request as JSON, make none"
        )
        c.add_argument("--region", help="AWS or Google Cloud region")
        c.add_argument(
            "--template", metavar="FILE", help="cluster/batch template YAML (infra/templates/)"
        )
        c.add_argument(
            "--no-wait",
            dest="wait",
            action="store_false",
            help="return after submitting instead of polling until done",
        )
        c.add_argument("--poll", type=float, default=30.0, metavar="S", help="poll interval (s)")
        c.add_argument(
            "--kms-key", metavar="KEY", help="encrypt staged artifacts with this KMS key"
        )
        c.add_argument(
            "--expand",
            action="append",
            metavar="CC-MAIN-YYYY-WW",
            help="after the recall loop, fetch the pages under its accepted paths from this "
            "crawl's index (repeatable), then clean, dedup and recall again (mathmine expand)",
        )
        c.add_argument(
            "--expand-paths",
            metavar="URI",
            help="what --expand looks for instead of the accepted paths: a url_paths.tsv or a "
            "list of host/path prefixes, URLs or domains (s3:// or gs://: the cluster reads it)",
        )
        c.add_argument(
            "--run-dir",
            metavar="PATH",
            help="run folder on the cluster if not --out (default: --out itself, s3:// or gs://; "
            "or a filesystem all nodes share); --out still holds staging and logs",
        )
        if name == "emr":
            c.add_argument("--cluster-id", help="add the steps to this running cluster")
            c.add_argument(
                "--application-id", help="EMR Serverless application (default: create one)"
            )
            c.add_argument("--execution-role-arn", help="EMR Serverless job role")
            c.add_argument(
                "--venv-archive",
                metavar="TAR_GZ",
                help="EMR Serverless: venv built by infra/scripts/build_venv_archive.sh",
            )
            c.add_argument(
                "--release-label", help="EMR release, e.g. emr-7.5.0 (default: template)"
            )
            c.add_argument(
                "--timeout", type=float, metavar="S", help="stop polling after S seconds"
            )
        else:
            c.add_argument("--cluster", help="submit jobs to this running cluster")
            c.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT"))
            c.add_argument("--container-image", help="Dataproc Serverless custom image")
            c.add_argument("--service-account", help="the VMs'/batches' service account")
        add_config_arguments(c)


def _check_exclusive(args) -> None:
    from pipeline.errors import UserError

    existing = getattr(args, "cluster_id", None) or getattr(args, "cluster", None)
    if existing and args.serverless:
        raise UserError("pass either an existing cluster or --serverless, not both")
    local = [u for u in args.input if "://" not in u]
    if local:
        raise UserError(
            f"input {local[0]!r} is a local path, which cluster nodes cannot read; upload it "
            "(s3:// or gs://) or pass a Common Crawl listing or https:// URI"
        )


def main(args) -> int:
    from pipeline.config import load_config

    _check_exclusive(args)
    config = load_config(args.config, args.overrides)
    with tempfile.TemporaryDirectory(prefix="mathmine-submit-") as work:
        return _submit(args, config, work)


def _submit(args, config, work: str) -> int:
    from infra import common
    from infra.packaging import build_artifacts

    master = "" if args.serverless else "yarn"
    extras = ("cloud",) if args.cloud == "dataproc" else ()
    artifacts = build_artifacts(work, common.cluster_config_yaml(config, master), extras)
    paths = args.expand_paths
    if paths and "://" not in paths:
        # a local paths file travels with the job, staged like the config
        import shutil
        from pathlib import Path

        from pipeline.errors import UserError

        if not Path(paths).is_file():
            raise UserError(f"--expand-paths {paths!r} does not exist; pass a file or a URI")
        staged = Path(work) / "expand_paths.txt"
        shutil.copyfile(paths, staged)
        artifacts.extra["expand_paths"] = staged

    # progress goes to stderr, so stdout is only the JSON (requests, or the result)
    def say(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    if args.cloud == "emr":
        from infra.emr import EmrOptions, EmrSubmitter

        opts = EmrOptions(
            inputs=args.input,
            out=args.out,
            limit=args.limit,
            sample_fraction=args.sample_fraction,
            cluster_id=args.cluster_id,
            serverless=args.serverless,
            application_id=args.application_id,
            execution_role_arn=args.execution_role_arn,
            venv_archive=args.venv_archive,
            region=args.region,
            template=args.template,
            release_label=args.release_label,
            kms_key_id=args.kms_key,
            wait=args.wait,
            poll_s=args.poll,
            timeout_s=args.timeout,
            run_dir=args.run_dir,
            expand=args.expand,
        )
        submitter = EmrSubmitter(config, opts, artifacts, say=say)
    else:
        from infra.dataproc import DataprocOptions, DataprocSubmitter

        opts = DataprocOptions(
            inputs=args.input,
            out=args.out,
            project=args.project or "",
            region=args.region or "",
            limit=args.limit,
            sample_fraction=args.sample_fraction,
            cluster=args.cluster,
            serverless=args.serverless,
            container_image=args.container_image,
            service_account=args.service_account,
            template=args.template,
            kms_key=args.kms_key,
            wait=args.wait,
            poll_s=args.poll,
            run_dir=args.run_dir,
            expand=args.expand,
        )
        submitter = DataprocSubmitter(config, opts, artifacts, say=say)
    if paths:
        opts.expand_paths = submitter.uri("expand_paths") if "://" not in paths else paths
    if args.dry_run:
        print(common.dumps_requests(submitter.requests()))
        if args.expand:
            index = submitter.expand_index() or config.expand.index
            say(common.describe_expand(config, args.expand, args.expand_paths, index))
        return 0
    result = submitter.submit()
    print(json.dumps(common.scrub(result), indent=2, default=str))
    bad = {"FAILED", "CANCELLED", "INTERRUPTED", "ERROR"}
    failed = result.get("state") in bad or any(s in bad for s in result.get("steps", {}).values())
    return 1 if failed else 0
