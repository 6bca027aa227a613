"""Shared by the EMR and Dataproc submitters: stage arguments, templates, secret scrubbing."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import yaml

from pipeline.config import Config, redact
from pipeline.errors import UserError

TEMPLATES = Path(__file__).resolve().parent / "templates"
# The stages `mathmine run` runs, in order; one cluster step / job each.
STAGES = ("extract", "clean", "dedup", "recall", "export")
# With `submit --expand CRAWL`: after the recall loop, `mathmine expand` fetches the pages under
# its accepted paths; clean, dedup and recall run again over docs/ (the next iteration trains
# on the new pages), then export.
EXPAND_STAGES = (
    "extract",
    "clean",
    "dedup",
    "recall",
    "expand",
    "clean",
    "dedup",
    "recall",
    "export",
)
# Environment variables whose values must never appear in anything we print.
SECRET_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
)
_SECRET_PATTERNS = [
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"']+", re.I),
    re.compile(r"((?:Signature|x-goog-signature|X-Goog-Credential|access_token)=)[^&\s\"']+", re.I),
]


def scrub(obj: Any) -> Any:
    """``obj`` with secret-looking keys redacted and any credential value masked in strings:
    printed requests, logs and errors go through here."""
    secrets = [v for k in SECRET_ENV if len(v := os.environ.get(k, "")) >= 8]
    obj = redact(obj)

    def clean(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, str):
            for s in secrets:
                x = x.replace(s, "***")
            for pat in _SECRET_PATTERNS:
                x = pat.sub(lambda m: (m.group(1) if m.groups() else "") + "***", x)
        return x

    return clean(obj)


def dumps_requests(requests: list[dict]) -> str:
    return json.dumps(scrub(requests), indent=2, default=str)


def load_template(path: str | Path | None, default_name: str) -> dict[str, Any]:
    p = Path(path) if path else TEMPLATES / default_name
    if not p.is_file():
        raise UserError(f"template {str(p)!r} does not exist; pass an existing YAML file")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise UserError(f"template {str(p)!r} must be a YAML mapping")
    return data


def run_flag(stage: str) -> str:
    """The option a stage's CLI takes for the run folder (``--out`` or ``--run``), read from
    the stage's own argument parser so the steps follow the CLI as it is."""
    from jobs.cli import COMMANDS

    mod = importlib.import_module(COMMANDS[stage][0])
    p = argparse.ArgumentParser(add_help=False)
    mod.add_arguments(p)
    for flag in ("--out", "--run"):
        if flag in p._option_string_actions:
            return flag
    raise UserError(f"stage {stage!r} takes neither --out nor --run; cannot build its step")


def stage_argv(
    stage: str,
    inputs: list[str],
    out: str,
    config_uri: str,
    limit: int | None = None,
    sample_fraction: float | None = None,
    expand_args: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """The ``mathmine`` arguments of one stage on the cluster."""
    argv = [stage]
    if stage in ("extract", "run"):
        argv += ["--input", *inputs]
        if limit is not None:
            argv += ["--limit", str(limit)]
        if sample_fraction is not None:
            argv += ["--sample-fraction", str(sample_fraction)]
    if stage == "expand":
        argv += list(expand_args)
    argv += ["--out" if stage == "run" else run_flag(stage), out, "--config", config_uri]
    return argv


def planned_stages(
    serverless: bool, expand: list[str] | None, inputs, out, config_uri, limit, sample_fraction,
    expand_args=(),
) -> list[tuple[str, list[str]]]:  # fmt: skip
    """(label, mathmine argv) of every step/job; a stage that runs twice (after expand) is
    labelled ``<stage>-2`` so step names and job ids stay unique."""
    if serverless and expand:
        raise UserError(
            "--expand needs a cluster (its steps run clean, dedup and recall again); drop "
            "--serverless, or submit `mathmine expand` and the later stages yourself"
        )
    stages = ("run",) if serverless else EXPAND_STAGES if expand else STAGES
    seen: dict[str, int] = {}
    out_: list[tuple[str, list[str]]] = []
    for s in stages:
        seen[s] = seen.get(s, 0) + 1
        label = s if seen[s] == 1 else f"{s}-{seen[s]}"
        argv = stage_argv(s, inputs, out, config_uri, limit, sample_fraction, expand_args)
        out_.append((label, argv))
    return out_


def expand_argv(crawls: list[str] | None, paths: str | None, index: str | None = None) -> list[str]:
    """The arguments of the expand step: its crawls, and --paths / --index when given."""
    argv: list[str] = []
    for c in crawls or ():
        argv += ["--crawl", c]
    if paths:
        argv += ["--paths", paths]
    if index:
        argv += ["--index", index]
    return argv


def describe_expand(config: Config, crawls: list[str], paths: str | None, index: str) -> str:
    """What ``--dry-run`` says of the expand step: its index query when the paths are known
    now (--expand-paths), else where they will come from; ranged reads are counted when the
    step runs (it prints them, and stats.json keeps them)."""
    from infra.storage import is_remote, read_bytes
    from pipeline.expand import describe_query, index_filter, parse_targets

    if not paths or is_remote(paths):
        source = (
            f"--expand-paths {paths} (read on the cluster)"
            if paths
            else (
                "the accepted paths of the run's last recall iteration (models/iter=N/url_paths.tsv)"
            )
        )
        return (
            f"-- expand: {source}, looked up in {', '.join(crawls)} of {index}; the step prints "
            "its query and counts its ranged reads (stats.json: expand.requests)"
        )

    try:
        text = read_bytes(paths, config.io).decode("utf-8", "replace")
    except OSError as e:
        raise UserError(f"--expand-paths {paths!r} cannot be read ({e})") from None
    flt = index_filter(config, parse_targets(text, f"--expand-paths {paths}"))
    return describe_query(flt, crawls, index) + (
        "\n-- ranged reads: one per hit (closer records share one: expand.merge_gap_bytes), "
        "counted when the step runs; `mathmine expand --dry-run` counts them ahead"
    )


def cluster_config_yaml(config: Config, master: str) -> str:
    """The run's resolved config as the cluster reads it (Spark master for the cluster).

    A config holding a credential (e.g. ``spark.conf: {spark.hadoop.fs.s3a.secret.key: ...}``)
    is refused rather than uploaded next to the code: clusters get access through their roles.
    """
    d = config.to_dict()
    leaked = sorted(_secret_keys(d))
    if leaked:
        raise UserError(
            f"config holds credential-looking keys ({', '.join(leaked)}); they would be uploaded "
            "with the job. Remove them: cluster nodes get access through their IAM role or "
            "service account (docs/cloud.md, Security)"
        )
    d["spark"]["master"] = master
    return yaml.safe_dump(d, sort_keys=False)


# Keys that hold credentials (fs.s3a.secret.key, fs.s3a.session.token, ...password,
# google.cloud.auth.service.account.json.keyfile); stricter than "contains 'token'" so that
# tokenizer / token_budget settings are not mistaken for secrets.
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|session[._-]?token|access[._-]?key|credential|private[._-]?key|keyfile)",
    re.I,
)


def _secret_keys(d: Any, path: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(d, dict):
        for k, v in d.items():
            full = f"{path}.{k}" if path else str(k)
            if isinstance(v, dict):
                out += _secret_keys(v, full)
            elif isinstance(v, str) and v and _SECRET_KEY.search(str(k)):
                out.append(full)
    return out


def stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def spark_conf_args(conf: dict[str, str]) -> list[str]:
    out: list[str] = []
    for k, v in conf.items():
        out += ["--conf", f"{k}={v}"]
    return out
