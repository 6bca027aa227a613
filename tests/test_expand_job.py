"""`mathmine expand` against a columnar index and WARCs served by a local moto S3 server,
through a proxy that answers a share of the GETs with 503 SlowDown or cuts them mid-body.

The crawl (everything real pages, gzip members copied byte for byte):
  CC-MAIN-2024-22  r.warc.gz  the run's own WARC (a genuine Common Crawl excerpt)
                   b.warc.gz  half of the sample's math book (discrete.openmathbooks.org/dmoi4)
                   c.warc.gz  the sample's django api-guide pages and one record whose bytes
                              on S3 are not a gzip member (the index still points at it)
  CC-MAIN-2024-26  d.warc.gz  re-captures of some book pages: newer ones for 5, older for 3
The run read only r.warc.gz, and its docs/ are rewritten without the ``source`` column (a run
folder of an earlier version).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cloud_fakes import FaultPlan, fake_aws_env, fault_proxy, moto_server
from tests.expand_fixtures import (
    CC_EXCERPT,
    MATH_PREFIX,
    build_cc_tree,
    cc_name,
    members,
    redate,
    split_sample,
    write_warc,
)

pytestmark = [pytest.mark.cloud, pytest.mark.spark, pytest.mark.slow]

BUCKET = "cc-test"
SEG = "1715971057216.39"
NEWER, OLDER = "2024-06-20T10:00:00Z", "2024-04-01T10:00:00Z"
API_GUIDE = "www.django-rest-framework.org/api-guide"


def _url(u: str) -> str:
    return u.split("://", 1)[-1]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The WARCs, the index, the S3 bucket behind a faulty proxy, and the run folder."""
    import boto3

    from jobs.extract_job import run_extract  # noqa: F401 - imported in the test body
    from tests.expand_fixtures import SAMPLE_WARC

    tmp = tmp_path_factory.mktemp("expand")
    _a, b, moved = split_sample(tmp)
    sample = members(SAMPLE_WARC)
    info = [m for k, _u, m in sample if k == "warcinfo"][:1]
    api = [m for _k, u, m in sample if _url(u).startswith(API_GUIDE)]
    b_recs = members(b)
    book = [(u, m) for k, u, m in b_recs if k == "response"]
    newer = [u for u, _m in book[:5]]
    older = [u for u, _m in book[5:8]]
    d = write_warc(
        tmp / "d.warc.gz",
        info + [redate(m, NEWER) for u, m in book[:5]] + [redate(m, OLDER) for u, m in book[5:8]],
    )
    # c: the api-guide pages, then one more book-like page whose member is spoiled on S3
    victim_kind, victim_url, victim = next(
        (k, u, m) for k, u, m in sample if k == "response" and "wikipedia.org" in u
    )
    c = write_warc(tmp / "c.warc.gz", info + api + [victim])
    names = {
        "r": cc_name("CC-MAIN-2024-22", SEG, 0),
        "b": cc_name("CC-MAIN-2024-22", SEG, 1),
        "c": cc_name("CC-MAIN-2024-22", SEG, 2),
        "d": cc_name("CC-MAIN-2024-26", SEG, 3),
    }
    tree = tmp / "cc"
    rows = build_cc_tree(
        tree,
        {
            "CC-MAIN-2024-22": [(CC_EXCERPT, names["r"]), (b, names["b"]), (c, names["c"])],
            "CC-MAIN-2024-26": [(d, names["d"])],
        },
        files=2,
        row_group_rows=16,
    )
    # spoil the victim on "S3": same length, not a gzip member (the index row stays)
    cpath = tree / names["c"]
    data = cpath.read_bytes()
    at = data.rindex(victim)
    cpath.write_bytes(data[:at] + b"\x00" * len(victim) + data[at + len(victim) :])
    assert victim_kind == "response"

    plan = FaultPlan(
        target=f"/{BUCKET}/",
        p_503=0.2,
        p_reset=0.2,
        seed=5,
        script=("slowdown", "reset", "slowdown", "reset", "reset"),
    )
    with fake_aws_env(), moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for f in sorted(tree.rglob("*")):
            if f.is_file():
                s3.upload_file(str(f), BUCKET, f.relative_to(tree).as_posix())
        with fault_proxy(endpoint, plan) as proxy:
            yield {
                "tmp": tmp,
                "proxy": proxy,
                "plan": plan,
                "names": names,
                "rows": rows,
                "moved": moved,
                "newer": newer,
                "older": older,
                "api": sorted(
                    {u for k, u, _m in sample if k == "response" and _url(u).startswith(API_GUIDE)}
                ),
                "victim": victim_url,
            }


def _config(proxy: str):
    from pipeline.config import load_config
    from tests.cloud_fakes import FAKE_AWS_ENV

    return load_config(
        None,
        [
            "spark.master=local[2]",
            "extract.first_pass=false",  # the run's WARC is non-math pages: extract them all
            f"io.s3_endpoint_url={proxy}",
            "io.s3_region=us-east-1",
            f"io.aws_access_key_id={FAKE_AWS_ENV['AWS_ACCESS_KEY_ID']}",
            f"io.aws_secret_access_key={FAKE_AWS_ENV['AWS_SECRET_ACCESS_KEY']}",
            "io.s3_max_attempts=6",
            f"expand.index=s3://{BUCKET}/cc-index/table/cc-main/warc/",
            "expand.records_per_task=10",
            "expand.merge_gap_bytes=0",
        ],
    )


def _expand_docs(run_dir: Path) -> list[dict]:
    import pyarrow.dataset as ds

    from pipeline.records import docs_schema

    # files of two versions: the current schema reads the old ones with source null
    d = ds.dataset(run_dir / "docs", schema=docs_schema())
    t = d.to_table(columns=["id", "url", "source", "warc_path"])
    return [r for r in t.to_pylist() if r["source"] == "expand"]


def test_expand_fetches_the_uncollected_pages_under_the_targets(spark, world):
    import pyarrow as pa

    from jobs.docs_table import read_docs
    from jobs.expand_job import run_expand
    from jobs.extract_job import run_extract
    from jobs.run_folder import RunFolder

    config = _config(world["proxy"])
    # the run: extract of its one WARC, read from the same bucket
    run_dir = world["tmp"] / "run"
    run = RunFolder(run_dir, config.io)
    r_uri = f"s3://{BUCKET}/{world['names']['r']}"
    run.claim([r_uri], config, "extract")
    ex = run_extract(spark, run, config, [r_uri])
    assert ex["kept"] > 0
    # an earlier version's docs/: no source column
    for f in (run_dir / "docs").glob("*.parquet"):
        t = pq.read_table(f)
        pq.write_table(t.drop(["source"]), f)
    run_urls = set(pq.read_table(run_dir / "docs").column("url").to_pylist())
    paths = world["tmp"] / "paths.txt"
    paths.write_text(
        f"# reviewed\n{MATH_PREFIX}\n{API_GUIDE}\n{sorted(run_urls)[0]}\n{world['victim']}\n"
    )

    stats = run_expand(spark, run, config, ["CC-MAIN-2024-22", "CC-MAIN-2024-26"], str(paths))

    hits = pq.read_table(run_dir / "expand" / "iter=0" / "hits.parquet").to_pylist()
    by_url = {h["url"]: h for h in hits}
    # exactly the uncollected captures under the targets, once each
    want = set(world["moved"]) | set(world["api"]) | {world["victim"]}
    assert set(by_url) == want and len(hits) == len(want)
    assert not run_urls & set(by_url)  # the run's own pages are not fetched again
    # the newest capture of each URL
    names = world["names"]
    for u in world["newer"]:
        assert by_url[u]["warc_filename"] == names["d"] and by_url[u]["crawl"] == "CC-MAIN-2024-26"
    for u in world["older"]:
        assert by_url[u]["warc_filename"] == names["b"]
    for u in world["api"] + [world["victim"]]:
        assert by_url[u]["warc_filename"] == names["c"]

    # every record delivered despite throttling and resets, the spoiled one counted
    st = json.loads((run_dir / "stats.json").read_text())["expand"]
    assert st["records_read"] == len(want) == st["fetched"] == st["found"]
    assert st["records_read"] == st["kept"] + sum(st["dropped"].values())
    assert st["dropped"].get("bad_record") == 1
    assert "fetch_failed" not in st["dropped"]
    q = st["iterations"]["iter=0"]
    # merge_gap_bytes=0: only records that touch share a read, no byte beyond the records
    assert st["requests"] == q["planned_requests"] <= len(want)
    assert st["bytes"] == q["planned_bytes"] == sum(h["warc_record_length"] for h in hits)
    plan = world["plan"]
    assert plan.counts["slowdown"] > 0 and plan.counts["reset"] > 0
    assert st.get("io_throttled", 0) + st.get("io_resumes", 0) > 0
    assert q["dropped"]["in_run"] >= 1 and q["dropped"]["older_capture"] == 8
    assert q["scan"]["index_requests"] >= 4 and q["scan"]["index_bytes"] > 0

    docs = _expand_docs(run_dir)
    assert len(docs) == st["kept"] == len(want) - 1
    assert {d["url"] for d in docs} == want - {world["victim"]}
    assert all(d["warc_path"].startswith(f"s3://{BUCKET}/crawl-data/") for d in docs)
    # old docs read as crawl, new ones as expand, through the Spark reader every stage uses
    src = read_docs(spark, str(run_dir / "docs")).groupBy("source").count().collect()
    counts = {r["source"]: r["count"] for r in src}
    assert counts == {"crawl": ex["kept"], "expand": len(docs)}
    assert stats["kept"] == len(docs)

    # a re-run fetches nothing new
    before = sorted(p.name for p in (run_dir / "_markers" / "expand").iterdir())
    again = run_expand(spark, run, config, ["CC-MAIN-2024-22", "CC-MAIN-2024-26"], str(paths))
    assert sorted(p.name for p in (run_dir / "_markers" / "expand").iterdir()) == before
    assert again["records_read"] == st["records_read"] and again["kept"] == st["kept"]
    assert again["iterations"]["iter=0"]["found"] == 0
    assert len(_expand_docs(run_dir)) == len(docs)
    assert pa.__version__
