"""Every policy template in infra/iam/ is valid JSON, least privilege, and renders cleanly.

A wildcard in an Allow's Action or Resource (or any NotAction/NotResource) fails the test unless
it is on the allow-list below, each entry with the reason AWS leaves no narrower choice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.policies import IAM_DIR, placeholders, policy_names, render_policy, values_for
from pipeline.errors import UserError

# (effect, action, resource) triples where a '*' is allowed, and why.
WILDCARD_ALLOW_LIST = {
    # Common Crawl WARCs: read-only, one fixed public prefix; object keys are not known upfront.
    ("Allow", "s3:GetObject", "arn:aws:s3:::commoncrawl/crawl-data/*"),
    # Common Crawl's columnar URL index (mathmine expand): read-only, one fixed public prefix.
    ("Allow", "s3:GetObject", "arn:aws:s3:::commoncrawl/cc-index/table/cc-main/warc/*"),
    # The run's own output prefix: every object the run writes lives under it.
    *{
        ("Allow", a, "arn:aws:s3:::${OUTPUT_BUCKET}/${OUTPUT_PREFIX}/*")
        for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
    },
    # RunJobFlow has no resource-level permissions (AWS requires "*"); the statement is limited
    # by a condition to requests tagged project=mathmine.
    ("Allow", "elasticmapreduce:RunJobFlow", "*"),
    # Cluster ids are only known after RunJobFlow; limited by aws:ResourceTag/project=mathmine.
    *{
        ("Allow", a, "arn:aws:elasticmapreduce:${REGION}:${ACCOUNT_ID}:cluster/*")
        for a in (
            "elasticmapreduce:AddJobFlowSteps",
            "elasticmapreduce:AddTags",
            "elasticmapreduce:DescribeCluster",
            "elasticmapreduce:DescribeStep",
            "elasticmapreduce:ListSteps",
            "elasticmapreduce:ListBootstrapActions",
        )
    },
    # EMR Serverless application ids are only known after CreateApplication.
    *{
        ("Allow", a, "arn:aws:emr-serverless:${REGION}:${ACCOUNT_ID}:/applications/*")
        for a in (
            "emr-serverless:CreateApplication",
            "emr-serverless:GetApplication",
            "emr-serverless:StartJobRun",
            "emr-serverless:GetJobRun",
            "emr-serverless:TagResource",
        )
    },
    # Deny statements of the bucket policy: deny *every* S3 action without TLS (or with the
    # wrong key); a wildcard in a Deny narrows access, it never grants any.
    ("Deny", "s3:*", "arn:aws:s3:::${OUTPUT_BUCKET}"),
    ("Deny", "s3:*", "arn:aws:s3:::${OUTPUT_BUCKET}/*"),
    ("Deny", "s3:PutObject", "arn:aws:s3:::${OUTPUT_BUCKET}/*"),
}

POLICY_FILES = sorted(IAM_DIR.glob("*.json"))


def _as_list(x):
    return x if isinstance(x, list) else [x]


def _statements(doc: dict) -> list[dict]:
    return _as_list(doc.get("Statement", []))


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_policy_json_is_valid_and_has_no_unlisted_wildcard(path: Path):
    doc = json.loads(path.read_text())
    for st in _statements(doc):
        assert "NotAction" not in st and "NotResource" not in st, (path.name, st.get("Sid"))
        assert st["Effect"] in ("Allow", "Deny")
        if st.get("Effect") == "Allow":
            # an Allow never names a public principal
            assert st.get("Principal") not in ("*", {"AWS": "*"}), (path.name, st.get("Sid"))
        if "Action" not in st:
            continue
        resources = _as_list(st.get("Resource", []))
        for action in _as_list(st["Action"]):
            for res in resources or [None]:
                if "*" in action or (res is not None and "*" in res):
                    key = (st["Effect"], action, res)
                    assert key in WILDCARD_ALLOW_LIST, f"{path.name}: wildcard {key} not allowed"


def test_checker_catches_a_wildcard(tmp_path):
    """The rule above would fail on the usual over-broad grants."""
    bad = [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::${OUTPUT_BUCKET}/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::commoncrawl/*"},
    ]
    for st in bad:
        hits = [
            (st["Effect"], a, r)
            for a in _as_list(st["Action"])
            for r in _as_list(st["Resource"])
            if ("*" in a or "*" in r) and (st["Effect"], a, r) not in WILDCARD_ALLOW_LIST
        ]
        assert hits, st


def test_bucket_policies_force_tls_and_encryption():
    pol = json.loads((IAM_DIR / "bucket_policy.json").read_text())
    tls = [
        s
        for s in pol["Statement"]
        if s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s)
    ]
    assert tls and tls[0]["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    block = json.loads((IAM_DIR / "public_access_block.json").read_text())
    assert all(
        block[k] is True
        for k in (
            "BlockPublicAcls",
            "IgnorePublicAcls",
            "BlockPublicPolicy",
            "RestrictPublicBuckets",
        )
    )
    sse = json.loads((IAM_DIR / "bucket_encryption_sse_s3.json").read_text())
    assert sse["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    kms = json.loads((IAM_DIR / "bucket_encryption_sse_kms.json").read_text())
    assert kms["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_output_access_is_scoped_to_the_prefix():
    """Writes are granted on the output prefix only, never on the whole bucket or commoncrawl."""
    for name in (
        "emr_instance_role_policy",
        "emr_serverless_execution_role_policy",
        "submitter_policy",
    ):
        doc = json.loads((IAM_DIR / f"{name}.json").read_text())
        for st in _statements(doc):
            writes = [a for a in _as_list(st["Action"]) if a in ("s3:PutObject", "s3:DeleteObject")]
            if writes:
                assert _as_list(st["Resource"]) == [
                    "arn:aws:s3:::${OUTPUT_BUCKET}/${OUTPUT_PREFIX}/*"
                ]
            if "s3:ListBucket" in _as_list(st["Action"]):
                assert "s3:prefix" in json.dumps(st["Condition"])


def test_gcp_bindings_are_scoped():
    doc = json.loads((IAM_DIR / "gcp_bucket_iam.json").read_text())
    for b in doc["bindings"]:
        assert not {"allUsers", "allAuthenticatedUsers"} & set(b["members"])
        assert b["role"] not in ("roles/owner", "roles/editor", "roles/storage.admin")
        if b["role"] == "roles/storage.objectAdmin":
            assert "${OUTPUT_PREFIX}/" in b["condition"]["expression"]
    role = json.loads((IAM_DIR / "gcp_submitter_role.json").read_text())
    assert not [p for p in role["includedPermissions"] if "*" in p]


def test_every_template_renders_for_a_real_output():
    vals = values_for(
        "s3://my-out/mathmine/run1",
        account_id="123456789012",
        region="us-east-1",
        kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/abcd-ef",
        service_account="mm@proj.iam.gserviceaccount.com",
    )
    for name in policy_names():
        doc = render_policy(name, vals)
        text = json.dumps(doc)
        assert "${" not in text
        if "OUTPUT_PREFIX" in placeholders(name) and name.startswith(("emr_", "submitter")):
            assert "arn:aws:s3:::my-out/mathmine/run1/*" in text
    with pytest.raises(UserError, match="ACCOUNT_ID"):
        render_policy("submitter_policy", values_for("s3://my-out/p"))
    with pytest.raises(UserError):
        render_policy("emr_instance_role_policy", values_for('s3://my-out/p"*'))
    with pytest.raises(UserError):
        values_for("s3://my-out")  # a whole bucket is not a run prefix
