"""Fill the IAM / bucket policy templates in ``infra/iam/`` for one output location.

Templates hold ``${OUTPUT_BUCKET}``, ``${OUTPUT_PREFIX}``, ``${ACCOUNT_ID}``, ``${REGION}``,
``${KMS_KEY_ARN}`` and ``${SERVICE_ACCOUNT}`` placeholders; ``render_policy`` substitutes them
and refuses to return a document with one left unfilled (an unfilled placeholder in a Resource
would silently grant nothing, or worse, match a literal key).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from infra.storage import split_uri
from pipeline.errors import UserError

IAM_DIR = Path(__file__).resolve().parent / "iam"
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def policy_names() -> list[str]:
    return sorted(p.stem for p in IAM_DIR.glob("*.json"))


def placeholders(name: str) -> set[str]:
    return set(_PLACEHOLDER.findall((IAM_DIR / f"{name}.json").read_text()))


def values_for(
    out_uri: str, account_id: str = "", region: str = "", **extra: str
) -> dict[str, str]:
    """Placeholder values for an ``s3://BUCKET/PREFIX`` or ``gs://BUCKET/PREFIX`` output."""
    scheme, bucket, prefix = split_uri(out_uri)
    if scheme not in ("s3", "gs") or not bucket or not prefix.strip("/"):
        raise UserError(f"output {out_uri!r}: pass s3://BUCKET/PREFIX or gs://BUCKET/PREFIX")
    vals = {"OUTPUT_BUCKET": bucket, "OUTPUT_PREFIX": prefix.strip("/")}
    if account_id:
        vals["ACCOUNT_ID"] = account_id
    if region:
        vals["REGION"] = region
    vals.update({k.upper(): v for k, v in extra.items() if v})
    return vals


def render_policy(name: str, values: dict[str, str]) -> dict[str, Any]:
    text = (IAM_DIR / f"{name}.json").read_text()
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise UserError(f"policy {name}: no value for {', '.join(missing)}")
    for k, v in values.items():
        if not re.fullmatch(r"[A-Za-z0-9._:/@+=-]*", v):
            raise UserError(f"policy value {k}={v!r} has characters not allowed in an ARN")
        text = text.replace("${" + k + "}", v)
    return json.loads(text)


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.policies --out s3://BUCKET/PREFIX --account ID --region R NAME...``:
    print the filled-in policies (all of them without NAME) as one JSON object."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m infra.policies", description=main.__doc__)
    ap.add_argument("names", nargs="*", help=f"policies (default all): {', '.join(policy_names())}")
    ap.add_argument("--out", required=True, help="the run output, s3://BUCKET/PREFIX or gs://...")
    ap.add_argument("--account", default="", help="AWS account id")
    ap.add_argument("--region", default="")
    ap.add_argument("--kms-key-arn", default="")
    ap.add_argument("--service-account", default="", help="GCP service account e-mail")
    args = ap.parse_args(argv)
    vals = values_for(
        args.out,
        args.account,
        args.region,
        kms_key_arn=args.kms_key_arn,
        service_account=args.service_account,
    )
    names = args.names or [n for n in policy_names() if placeholders(n) <= set(vals)]
    print(json.dumps({n: render_policy(n, vals) for n in names}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
