"""infra.storage against a local moto server and a local HTTP server (no internet).

The fault tests put a proxy between the reader and the server that answers a share of the WARC
downloads with 503 SlowDown or resets the connection half way through the body: the reader
must still return every byte, and count what it retried.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from infra import storage
from pipeline.config import IOConfig
from pipeline.errors import UserError
from tests.cloud_fakes import FaultPlan, fake_aws_env, fault_proxy, file_server, moto_server

pytestmark = pytest.mark.cloud

DATA = Path(__file__).parent / "data"
WARC = DATA / "cloud" / "cc_2020_34_excerpt.warc.gz"
BUCKET = "mm-test-input"
KEY = "crawl-data/CC-MAIN-2020-34/segments/1/warc/cc_2020_34_excerpt.warc.gz"


@pytest.fixture(scope="module")
def s3_endpoint():
    import boto3

    with fake_aws_env(), moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(WARC), BUCKET, KEY)
        yield endpoint


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_s3_read_is_byte_identical(s3_endpoint):
    counters: dict = {}
    cfg = IOConfig(s3_endpoint_url=s3_endpoint)
    with storage.open_uri(f"s3://{BUCKET}/{KEY}", cfg, counters) as f:
        got = f.read()
    assert _sha(got) == _sha(WARC.read_bytes())
    assert counters.get("io_resumes", 0) == 0


def test_s3_endpoint_from_environment(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    with storage.open_uri(f"s3://{BUCKET}/{KEY}", IOConfig()) as f:
        assert f.read(4) == WARC.read_bytes()[:4]


def test_s3_missing_object_is_file_not_found(s3_endpoint):
    with pytest.raises(FileNotFoundError):
        storage.open_uri(f"s3://{BUCKET}/nope.warc.gz", IOConfig(s3_endpoint_url=s3_endpoint))


def test_read_range_rereads_one_record(s3_endpoint):
    data = WARC.read_bytes()
    cfg = IOConfig(s3_endpoint_url=s3_endpoint)
    assert storage.read_range(f"s3://{BUCKET}/{KEY}", 1000, 517, cfg) == data[1000:1517]
    assert storage.read_range(str(WARC), 1000, 517) == data[1000:1517]


def test_s3_survives_slowdown_and_resets(s3_endpoint):
    """A third of the downloads fail (503 SlowDown or a reset mid-body); every byte arrives."""
    plan = FaultPlan(target=KEY.rsplit("/", 1)[-1], p_503=0.2, p_reset=0.25, seed=3)
    expected = _sha(WARC.read_bytes())
    totals: dict = {}
    with fault_proxy(s3_endpoint, plan) as proxy:
        cfg = IOConfig(s3_endpoint_url=proxy, s3_max_attempts=10)
        for _ in range(6):
            counters: dict = {}
            # small reads, like FastWARC's, so resets land at many different offsets
            with storage.open_uri(f"s3://{BUCKET}/{KEY}", cfg, counters) as f:
                chunks = []
                while chunk := f.read(8192):
                    chunks.append(chunk)
            assert _sha(b"".join(chunks)) == expected
            for k, v in counters.items():
                totals[k] = totals.get(k, 0) + v
    assert plan.counts["slowdown"] > 0 and plan.counts["reset"] > 0
    # each reset mid-body is exactly one range-resume; each 503 is one retried request
    assert totals["io_resumes"] == plan.counts["reset"]
    assert totals["io_throttled"] == plan.counts["slowdown"]
    assert totals["io_retries"] == plan.counts["slowdown"]


@pytest.mark.slow
def test_s3_gives_up_with_oserror_when_always_throttled(s3_endpoint, monkeypatch):
    monkeypatch.setattr(storage, "S3_OUTER_BASE_S", 0.01)
    plan = FaultPlan(target=KEY.rsplit("/", 1)[-1], p_503=1.0, p_reset=0.0)
    with fault_proxy(s3_endpoint, plan) as proxy:
        cfg = IOConfig(s3_endpoint_url=proxy, s3_max_attempts=1)
        counters: dict = {}
        with pytest.raises(OSError, match="SlowDown"):
            storage.open_uri(f"s3://{BUCKET}/{KEY}", cfg, counters)
    # botocore's attempts, then our outer rounds: every request after the first is a counted
    # retry, and every 503 SlowDown answer is counted as a throttle
    assert counters["io_retries"] + 1 == plan.counts["slowdown"] > storage.S3_OUTER_ROUNDS
    assert counters["io_throttled"] == plan.counts["slowdown"]


def test_https_resumes_with_range_and_counts(tmp_path):
    (tmp_path / "crawl-data").mkdir()
    target = tmp_path / "crawl-data" / WARC.name
    target.write_bytes(WARC.read_bytes())
    plan = FaultPlan(target=WARC.name, p_503=0.2, p_reset=0.3, seed=11)
    totals: dict = {}
    with file_server(tmp_path, plan) as base:
        for _ in range(8):
            counters: dict = {}
            with storage.open_uri(f"{base}/crawl-data/{WARC.name}", IOConfig(), counters) as f:
                got = b"".join(iter(lambda: f.read(5000), b""))
            assert got == WARC.read_bytes()
            for k, v in counters.items():
                totals[k] = totals.get(k, 0) + v
    assert totals["io_resumes"] == plan.counts["reset"] > 0
    assert totals["io_throttled"] == plan.counts["slowdown"] > 0


def test_https_read_range_retries_throttles(tmp_path):
    (tmp_path / WARC.name).write_bytes(WARC.read_bytes())
    plan = FaultPlan(target=WARC.name, p_503=0.0, p_reset=0.0, script=("slowdown", "slowdown"))
    with file_server(tmp_path, plan) as base:
        counters: dict = {}
        got = storage.read_range(f"{base}/{WARC.name}", 1000, 517, IOConfig(), counters)
    assert got == WARC.read_bytes()[1000:1517]
    assert counters == {"io_retries": 2, "io_throttled": 2} and plan.counts["ok"] == 1


def test_https_server_without_range_support_still_resumes(tmp_path):
    (tmp_path / WARC.name).write_bytes(WARC.read_bytes())
    plan = FaultPlan(target=WARC.name, p_503=0.0, p_reset=0.5, seed=5)
    with file_server(tmp_path, plan, honour_range=False) as base:
        counters: dict = {}
        with storage.open_uri(f"{base}/{WARC.name}", IOConfig(), counters) as f:
            got = b"".join(iter(lambda: f.read(3000), b""))
    assert got == WARC.read_bytes()
    assert counters.get("io_resumes", 0) == plan.counts["reset"]


def _write_listing(path: Path, lines: list[str]) -> Path:
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


LINES = [
    f"crawl-data/CC-MAIN-2024-22/segments/17152{i:05d}.1/warc/CC-MAIN-2024-{i:05d}.warc.gz"
    for i in range(200)
]


def test_expand_listing_s3_and_https(tmp_path, s3_endpoint):
    listing = _write_listing(tmp_path / "warc.paths.gz", LINES)
    cfg = IOConfig(s3_endpoint_url=s3_endpoint)
    https = storage.expand_listing(str(listing), cfg)
    assert https[0] == "https://data.commoncrawl.org/" + LINES[0] and len(https) == 200
    s3 = storage.expand_listing(str(listing), cfg, prefer="s3")
    assert s3[5] == "s3://commoncrawl/" + LINES[5]
    # a listing on S3 resolves against its own bucket by default (a mirror, or moto here)
    storage.upload_file(listing, f"s3://{BUCKET}/crawl-data/CC-MAIN-2024-22/warc.paths.gz", cfg)
    on_s3 = storage.expand_listing(f"s3://{BUCKET}/crawl-data/CC-MAIN-2024-22/warc.paths.gz", cfg)
    assert on_s3[:2] == [f"s3://{BUCKET}/{LINES[0]}", f"s3://{BUCKET}/{LINES[1]}"]
    other = IOConfig(s3_endpoint_url=s3_endpoint, https_prefix="https://mirror.example/cc")
    assert storage.expand_listing(str(listing), other, limit=1) == [
        "https://mirror.example/cc/" + LINES[0]
    ]


def test_expand_listing_sample_is_deterministic_and_proportional(tmp_path):
    listing = _write_listing(tmp_path / "warc.paths.gz", LINES)
    a = storage.expand_listing(str(listing), IOConfig(), sample_fraction=0.25, seed=1)
    b = storage.expand_listing(str(listing), IOConfig(), sample_fraction=0.25, seed=1)
    c = storage.expand_listing(str(listing), IOConfig(), sample_fraction=0.25, seed=2)
    assert a == b and a != c
    assert 30 <= len(a) <= 70  # binomial(200, 0.25): mean 50, sd ~6
    assert storage.expand_listing(str(listing), IOConfig(), sample_fraction=0.25, limit=7) == a[:7]
    with pytest.raises(UserError):
        storage.expand_listing(str(listing), IOConfig(), sample_fraction=1.5)


def test_upload_and_list(tmp_path, s3_endpoint):
    import boto3

    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_text("a")
    (tmp_path / "d" / "sub" / "b.txt").write_text("bb")
    cfg = IOConfig(s3_endpoint_url=s3_endpoint)
    written = storage.upload_dir(tmp_path / "d", f"s3://{BUCKET}/up/", cfg)
    assert written == [f"s3://{BUCKET}/up/a.txt", f"s3://{BUCKET}/up/sub/b.txt"]
    assert storage.list_uri(f"s3://{BUCKET}/up/", cfg) == written
    head = boto3.client("s3", endpoint_url=s3_endpoint).head_object(
        Bucket=BUCKET, Key="up/sub/b.txt"
    )
    assert head["ServerSideEncryption"] == "AES256"
    assert storage.read_bytes(f"s3://{BUCKET}/up/sub/b.txt", cfg) == b"bb"
