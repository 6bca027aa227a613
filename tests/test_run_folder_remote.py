"""RunFolder on object stores: the same contract as a local folder, checked against a moto S3
server on 127.0.0.1 (fake credentials, nothing leaves the machine) and on file:// URIs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.run_folder import RunFolder, remove_run_folder
from pipeline.config import IOConfig, load_config
from pipeline.errors import UserError
from pipeline.records import StageStats
from tests.cloud_fakes import fake_aws_env, moto_server
from tests.recall_helpers import TINY_RUN

BUCKET = "mm-run-folders"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def s3():
    import boto3

    with fake_aws_env(), moto_server() as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield endpoint, client


def _keys(client, prefix: str) -> list[str]:
    resp = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    # pyarrow may leave empty "dir/" marker objects after a delete; they hold no data
    return sorted(o["Key"] for o in resp.get("Contents", []) if not o["Key"].endswith("/"))


def test_s3_claim_json_stats_markers(s3):
    endpoint, client = s3
    cfg = load_config(None, [])
    run = RunFolder(f"s3://{BUCKET}/runs/a", IOConfig(s3_endpoint_url=endpoint))
    assert not run.is_local and run.uri("docs") == f"s3://{BUCKET}/runs/a/docs"
    assert run.read_run() is None and not run.exists()
    rid = run.claim(["s3://in/x.warc.gz"], cfg, "run")
    assert run.read_run()["run_id"] == rid
    # the same run resumes; another run is refused without writing anything
    assert run.claim(["s3://in/x.warc.gz"], cfg, "run") == rid
    with pytest.raises(UserError, match="belongs to another run") as err:
        run.claim(["s3://in/y.warc.gz"], cfg, "run")
    assert "--fresh" not in str(err.value)
    # a sample folder of an older config (the project's defaults changed) can start over
    with pytest.raises(UserError, match="make sample FRESH=1"):
        run.claim(["s3://in/y.warc.gz"], cfg, "sample")
    run.update_stats("extract", StageStats("extract", kept=3))
    run.update_stats("clean", {"kept": 2})
    assert set(run.read_json("stats.json")) == {"extract", "clean"}
    assert run.read_json("missing.json", {"d": 1}) == {"d": 1}
    assert not run.is_done("extract", "k1")
    run.mark_done("extract", {"rows": 3}, key="k1")
    run.mark_done("clean")
    assert run.is_done("extract", "k1") and run.read_marker("extract", "k1") == {"rows": 3}
    assert run.marker("clean") == f"s3://{BUCKET}/runs/a/_markers/clean/_stage.json"
    run.clear_stage("clean")
    assert not run.is_done("clean") and run.is_done("extract", "k1")
    assert _keys(client, "runs/a/") == [
        "runs/a/_markers/extract/k1.json",
        "runs/a/run.json",
        "runs/a/stats.json",
    ]
    with pytest.raises(TypeError):
        run.sub("docs")  # pathlib on a bucket would silently write to the local disk


def test_s3_done_keys_and_parallel_marker_reads(s3):
    endpoint, _ = s3
    run = RunFolder(f"s3://{BUCKET}/runs/markers", IOConfig(s3_endpoint_url=endpoint))
    keys = [f"{i:016x}" for i in range(40)]
    for k in keys[:25]:
        run.mark_done("extract", {"key": k, "stats": {"kept": int(k, 16)}}, key=k)
    run.mark_done("clean")
    assert run.done_keys("extract") == set(keys[:25])
    assert run.done_keys("dedup") == set()
    got = run.read_markers("extract", keys[:25])
    assert list(got) == keys[:25]
    assert all(got[k] == {"key": k, "stats": {"kept": int(k, 16)}} for k in keys[:25])
    with pytest.raises(FileNotFoundError):
        run.read_markers("extract", keys[24:27])


def test_s3_refuses_non_run_prefix(s3):
    endpoint, client = s3
    client.put_object(Bucket=BUCKET, Key="other/data.csv", Body=b"x")
    run = RunFolder(f"s3://{BUCKET}/other", IOConfig(s3_endpoint_url=endpoint))
    with pytest.raises(UserError, match="not empty"):
        run.claim(["a"], load_config(None, []), "run")
    with pytest.raises(UserError, match="not a mathmine run folder"):
        remove_run_folder(run)
    assert _keys(client, "other/") == ["other/data.csv"]


def test_s3_parquet_and_streams(s3):
    endpoint, client = s3
    run = RunFolder(f"s3://{BUCKET}/runs/pq", IOConfig(s3_endpoint_url=endpoint))
    table = pa.table({"id": ["a", "b", "c"], "n": [1, 2, 3]})
    with run.open_output("docs", "part-1.parquet") as f:
        pq.write_table(table, f)
    pq.write_table(table.slice(0, 1), run.fs_path("docs", "part-2.parquet"), filesystem=run.fs)
    assert run.exists("docs") and run.has_parquet("docs") and not run.has_parquet("clean")
    assert run.listdir("docs") == ["part-1.parquet", "part-2.parquet"]
    got = pq.read_table(run.fs_path("docs"), filesystem=run.fs).sort_by("id")
    assert got.column("id").to_pylist() == ["a", "a", "b", "c"]
    # a failed write leaves no object behind (no half-written Parquet for a reader)
    with pytest.raises(RuntimeError):
        with run.open_output("docs", "part-3.parquet") as f:
            f.write(b"PAR1 half")
            raise RuntimeError("task died")
    assert not run.exists("docs", "part-3.parquet")
    run.delete("docs", "part-2.parquet")
    assert run.listdir("docs") == ["part-1.parquet"]
    run.delete("docs")
    assert not run.exists("docs") and _keys(client, "runs/pq/docs") == []


def test_s3_model_upload_download_and_pickle(s3, tmp_path):
    endpoint, _ = s3
    run = RunFolder(f"s3://{BUCKET}/runs/m", IOConfig(s3_endpoint_url=endpoint))
    with run.scratch("models") as d:
        model = d / "model.bin"
        model.write_bytes(b"\x00fasttext" * 1000)
        uri = run.upload(model, "models", "iter=1", "model.bin")
    assert not d.exists()  # remote runs do not keep driver scratch
    assert uri == f"s3://{BUCKET}/runs/m/models/iter=1/model.bin"
    back = run.download(tmp_path / "m.bin", "models", "iter=1", "model.bin")
    assert back.read_bytes() == b"\x00fasttext" * 1000
    # executors get the folder pickled: location and endpoint only, a fresh client there
    clone = pickle.loads(pickle.dumps(run))
    assert clone.read_bytes("models", "iter=1", "model.bin") == back.read_bytes()


def test_s3_shards_and_manifest(s3):
    from pipeline.shards import MANIFEST, SHARD_SCHEMA, ShardWriter, verify_manifest, write_manifest

    endpoint, client = s3
    run = RunFolder(f"s3://{BUCKET}/runs/shards", IOConfig(s3_endpoint_url=endpoint))
    rows = [
        {"id": f"{i:016x}", "url": f"https://x.org/{i}", "text": "a b c " * i, "token_count": i}
        for i in range(7)
    ]
    out = run.fs_path("shards")

    def open_output(name):
        return run.open_output("shards", name)

    with ShardWriter(open_output, target_rows=3) as w:
        w.write_many(rows)
    assert [s.rows for s in w.shards] == [3, 3, 1]
    write_manifest(open_output, w.shards, {"token_kind": "words"})
    assert verify_manifest(out, run.fs) == []
    assert run.read_json(f"shards/{MANIFEST}")["totals"]["rows"] == 7
    got = pq.read_table(run.files("shards", suffix=".parquet"), filesystem=run.fs)
    assert got.schema.names == SHARD_SCHEMA.names
    assert got.column("id").to_pylist() == [r["id"] for r in rows]
    # no temp objects on the bucket: shards are built locally and PUT once complete
    assert _keys(client, "runs/shards/") == [
        "runs/shards/shards/_manifest.json",
        *[f"runs/shards/shards/shard-{i:05d}.parquet" for i in range(3)],
    ]
    # a damaged or stray shard is reported
    client.put_object(Bucket=BUCKET, Key="runs/shards/shards/shard-00001.parquet", Body=b"x")
    client.put_object(Bucket=BUCKET, Key="runs/shards/shards/shard-00009.parquet", Body=b"x")
    problems = verify_manifest(out, run.fs)
    assert any(p.startswith("shard-00001.parquet: sha256") for p in problems)
    assert "shard-00009.parquet: on disk but not in the manifest" in problems


class _Row(dict):
    def asDict(self):  # noqa: N802 - the pyspark Row method ExportTask calls
        return dict(self)


def test_s3_extract_and_export_tasks_write_final_keys(s3, tmp_path, data_dir):
    """The executor code of extract and export, without Spark: per-WARC docs Parquet and the
    export row files land on the bucket under their final keys, equal to a local run's."""
    from jobs.export_job import TMP, ExportTask
    from jobs.extract_job import ExtractTask, task_key
    from pipeline.tokens import make_token_counter

    endpoint, client = s3
    warc = str(data_dir / "export" / "dolma_science_0.warc.gz")
    config = load_config(
        None,
        [
            f"io.s3_endpoint_url={endpoint}",
            "extract.page_timeout_s=0",
            "extract.first_pass=false",  # dolma science pages: extract them all
            "export.decontaminate=false",
        ],
    )
    remote = RunFolder(f"s3://{BUCKET}/runs/tasks", IOConfig(s3_endpoint_url=endpoint))
    local = RunFolder(tmp_path / "local")
    results = {}
    for run in (remote, local):
        results[run.location] = ExtractTask(config, run.location).extract_one(warc)
    key = task_key(warc)
    assert remote.is_done("extract", key)
    assert remote.read_marker("extract", key)["stats"]["kept"] > 0
    assert _keys(client, "runs/tasks/docs/") == [f"runs/tasks/docs/part-{key}.parquet"]
    docs_r = pq.read_table(remote.fs_path("docs"), filesystem=remote.fs).sort_by("id")
    docs_l = pq.read_table(local.fs_path("docs")).sort_by("id")
    assert docs_r.equals(docs_l)

    counter = make_token_counter(config.export.tokenizer)
    rows = sorted(docs_r.to_pylist(), key=lambda r: r["warc_offset"])
    for run in (remote, local):
        out = list(ExportTask(config, run.location, None, counter)(0, [_Row(r) for r in rows]))
        assert len(out) == 1  # one JSON summary per partition
    assert _keys(client, f"runs/tasks/{TMP}/") == [f"runs/tasks/{TMP}/rows/part-00000.parquet"]
    got = pq.read_table(remote.fs_path(TMP, "rows"), filesystem=remote.fs)
    want = pq.read_table(local.fs_path(TMP, "rows"))
    assert got.num_rows == len(rows) > 0 and got.equals(want)


def test_s3_export_replaces_shards_manifest_last(s3):
    """The object-store branch of the export's publish step: a re-export replaces every old
    shard, and the manifest is the last object written."""
    from jobs.export_job import publish_shards
    from pipeline.config import ExportConfig
    from pipeline.shards import verify_manifest

    endpoint, client = s3
    run = RunFolder(f"s3://{BUCKET}/runs/publish", IOConfig(s3_endpoint_url=endpoint))

    def rows(n):
        return (
            {"id": f"{i:016x}", "url": f"https://x.org/{i}", "text": f"t {i}", "token_count": 2}
            for i in range(n)
        )

    publish_shards(run, rows(10), ExportConfig(shard_rows=2), {"token_kind": "words"})
    assert len(run.files("shards", suffix=".parquet")) == 5
    written = []
    real_open = run.fs.open_output_stream

    class Spy:
        def __getattr__(self, name):
            return getattr(run._fs_real, name)

        def open_output_stream(self, path, *a, **kw):
            written.append(path.rsplit("/", 1)[1])
            return real_open(path, *a, **kw)

    run._fs_real, run._fs = run.fs, Spy()
    shards = publish_shards(run, rows(3), ExportConfig(shard_rows=2), {"token_kind": "words"})
    run._fs = run._fs_real
    assert [s.rows for s in shards] == [2, 1]
    assert written == ["shard-00000.parquet", "shard-00001.parquet", "_manifest.json"]
    assert _keys(client, "runs/publish/") == [
        "runs/publish/shards/_manifest.json",
        "runs/publish/shards/shard-00000.parquet",
        "runs/publish/shards/shard-00001.parquet",
    ]
    assert verify_manifest(run.fs_path("shards"), run.fs) == []


def test_file_uri_matches_local_path(tmp_path):
    cfg = load_config(None, [])
    local = RunFolder(tmp_path / "l")
    remote = RunFolder(f"file://{tmp_path}/u")
    assert remote.uri("docs") == f"file://{tmp_path}/u/docs" and not remote.is_local
    for run in (local, remote):
        run.claim(["x"], cfg, "run")
        run.mark_done("extract", {"a": 1}, key="k")
        run.write_bytes(b"abc", "docs", "f.bin")
        run.update_stats("extract", {"kept": 1})
    assert sorted(p.name for p in (tmp_path / "u").iterdir()) == sorted(
        p.name for p in (tmp_path / "l").iterdir()
    )
    assert remote.read_marker("extract", "k") == local.read_marker("extract", "k") == {"a": 1}
    assert (tmp_path / "u" / "docs" / "f.bin").read_bytes() == b"abc"
    assert remote.listdir() == local.listdir() == ["_markers", "docs", "run.json", "stats.json"]
    remove_run_folder(remote)
    assert not (tmp_path / "u").exists()


def test_bad_schemes_and_symlinks(tmp_path):
    with pytest.raises(UserError, match="unsupported scheme"):
        RunFolder("hdfs://nn/run")
    with pytest.raises(UserError, match="no bucket"):
        RunFolder("s3://")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UserError, match="symlink"):
        RunFolder(f"file://{tmp_path}/link")
    with pytest.raises(UserError, match="symlink"):
        RunFolder(tmp_path / "link")


# --- every stage on a file:// run folder (the URI code path Spark takes on a cluster) ------------


def _table(run: RunFolder, *parts: str, columns=None) -> pa.Table:
    import pyarrow.dataset as ds

    d = ds.dataset(run.fs_path(*parts), filesystem=run.fs, partitioning="hive")
    return d.to_table(columns=columns).sort_by("id")


@pytest.mark.slow
@pytest.mark.spark
def test_file_uri_run_equals_plain_path_run(spark, tmp_path, data_dir):
    from jobs.explain_cmd import explain_doc, find_docs
    from jobs.inputs import expand_inputs
    from jobs.run_job import run_pipeline
    from pipeline.config import CleanConfig
    from pipeline.shards import verify_manifest

    warcs = sorted(str(p) for p in (data_dir / "export").glob("dolma_science_*.warc.gz"))
    config = load_config(None, TINY_RUN)
    inputs = expand_inputs(warcs, config.io)
    assert len(inputs) == 2
    # the plain-path run in this process; the file:// run through the CLI, as a cluster step
    # runs it (`mathmine run --out URI`)
    plain = RunFolder(tmp_path / "plain")
    plain.claim(inputs, config, "run")
    run_pipeline(spark, plain, config, inputs)
    uri = RunFolder(f"file://{tmp_path}/uri")
    args = ["--input", *warcs, "--out", uri.location]
    for o in TINY_RUN:
        args += ["--set", o]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "run", *args],  # = `mathmine run`
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert f"run folder: {uri.location}" in proc.stdout
    assert f"in {uri.uri('shards')}" in proc.stdout
    assert uri.read_run()["run_id"] == plain.read_run()["run_id"]
    assert uri.uri("docs").startswith("file://") and not uri.is_local

    # same tables, stage by stage
    for table, cols in (
        ("docs", ["id", "url", "text"]),
        ("clean", ["id", "text"]),
        ("clean_decisions", ["id", "keep", "reason"]),
        ("dedup", ["id", "cluster_id", "keep"]),
        ("selected", ["id"]),
    ):
        a, b = _table(plain, table, columns=cols), _table(uri, table, columns=cols)
        assert a.num_rows > 0, table
        assert a.equals(b), table
    assert len(plain.files("docs", suffix=".parquet")) == len(uri.files("docs", suffix=".parquet"))
    # recall's models went through the driver-local scratch folder and were copied in
    assert uri.exists("models", "iter=1", "model.bin") and uri.exists("models", "summary.json")
    assert uri.listdir("models") == plain.listdir("models")
    # shards: same rows and texts (math_score differs run to run: fastText is not
    # reproducible), a valid manifest, and the same stats
    assert verify_manifest(uri.fs_path("shards")) == []
    cols = ["id", "text", "token_count", "url", "warc_path", "warc_offset"]
    shard_a = pq.read_table(sorted(plain.files("shards", suffix=".parquet")), columns=cols)
    shard_b = pq.read_table(sorted(uri.files("shards", suffix=".parquet")), columns=cols)
    assert shard_a.num_rows > 0 and shard_a.equals(shard_b)
    assert not uri.exists("_export_tmp")
    sa, sb = plain.read_json("stats.json"), uri.read_json("stats.json")
    assert set(sa) == set(sb) >= {"extract", "clean", "dedup", "recall", "export"}
    for stage in ("extract", "clean", "dedup"):
        assert (
            sa[stage]["kept"] == sb[stage]["kept"] and sa[stage]["dropped"] == sb[stage]["dropped"]
        )
    assert uri.listdir("_markers") == plain.listdir("_markers")
    assert uri.is_done("export") and uri.read_json("stats.json")["export"]["shards"] == 1

    # explain reads the tables through pyarrow.fs too
    doc = find_docs(uri, shard_a.column("id")[0].as_py())[0]
    e_uri = explain_doc(uri, doc, CleanConfig())
    e_plain = explain_doc(plain, find_docs(plain, doc["id"])[0], CleanConfig())
    ru, rp = e_uri["recorded"], e_plain["recorded"]
    assert ru["clean"] == rp["clean"] and ru["dedup"] == rp["dedup"]
    assert list(ru["scores"]) == list(rp["scores"]) == ["iter=1"]
    assert ru["exported"] is rp["exported"] is True
    assert e_uri["clean"] == e_plain["clean"]

    # a resumed run on the URI folder skips every stage and changes nothing
    before = uri.read_bytes("shards", "_manifest.json")
    stats_before = uri.read_json("stats.json")
    again = run_pipeline(spark, RunFolder(uri.location), config, inputs)
    assert again["export"] == stats_before["export"]
    assert uri.read_bytes("shards", "_manifest.json") == before

    # `mathmine score --model URI` fetches the model from the run folder to the driver
    from jobs.score_job import run_score

    res = run_score(spark, uri, config, uri.uri("models", "iter=1", "model.bin"))
    assert res["out"] == uri.uri("scores", "manual")
    assert res["docs_scored"] == _table(uri, "selected", columns=["id"]).num_rows
    assert res["model"] == uri.uri("models", "iter=1", "model.bin")
    with pytest.raises(UserError, match="does not exist"):
        run_score(spark, uri, config, uri.uri("models", "iter=9", "model.bin"))


# --- the storage layer's policy on the run folder: retries, credentials ------------------------


def test_s3_run_folder_retries_are_counted(s3, monkeypatch):
    """pyarrow's SDK retries a throttled PUT/HEAD inside (uncounted); a 503 on a GET surfaces
    at once (as INTERNAL_FAILURE) and a throttle it gave up on surfaces as SLOW_DOWN: both are
    asked again by the storage layer's rounds and counted into the folder's counters."""
    from infra import storage
    from tests.cloud_fakes import FaultPlan, fault_proxy

    monkeypatch.setattr(storage, "S3_OUTER_BASE_S", 0.01)
    endpoint, _ = s3
    ok = RunFolder(f"s3://{BUCKET}/runs/retry", IOConfig(s3_endpoint_url=endpoint))
    ok.mark_done("extract", {"rows": 1}, key="k1")
    plan = FaultPlan(target="k1.json", p_503=0.0, p_reset=0.0, script=("slowdown",))
    with fault_proxy(endpoint, plan) as proxy:
        counters: dict = {}
        run = RunFolder(f"s3://{BUCKET}/runs/retry", IOConfig(s3_endpoint_url=proxy), counters)
        assert run.read_marker("extract", "k1") == {"rows": 1}
    assert plan.counts["slowdown"] == 1 and counters == {"io_retries": 1}

    # every PUT throttled, one SDK attempt: our rounds, each counted, then the error
    plan = FaultPlan(target="k2.json", p_503=1.0, p_reset=0.0, methods=("PUT",))
    with fault_proxy(endpoint, plan) as proxy:
        counters = {}
        cfg = IOConfig(s3_endpoint_url=proxy, s3_max_attempts=1)
        run = RunFolder(f"s3://{BUCKET}/runs/retry", cfg, counters)
        with pytest.raises(OSError, match="SLOW_DOWN"):
            run.mark_done("extract", {"rows": 2}, key="k2")
    rounds = storage.S3_OUTER_ROUNDS
    assert counters == {"io_retries": rounds, "io_throttled": rounds}
    assert plan.counts["slowdown"] == rounds + 1
    assert not ok.is_done("extract", "k2")


def test_s3_config_credentials_reach_both_clients(s3, monkeypatch, tmp_path):
    """io.aws_access_key_id and friends are used by boto3 (inputs) and pyarrow.fs (run folder)
    alike; half a key pair is a config error."""
    from infra import storage

    endpoint, client = s3
    client.put_object(Bucket=BUCKET, Key="creds/in.txt", Body=b"input bytes")
    # no credentials anywhere but the config
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bare = IOConfig(s3_endpoint_url=endpoint)
    with pytest.raises(Exception, match="[Cc]redentials"):
        storage.read_bytes(f"s3://{BUCKET}/creds/in.txt", bare)
    cfg = IOConfig(
        s3_endpoint_url=endpoint,
        aws_access_key_id="AKIACONFIGKEY0000001",
        aws_secret_access_key="config-secret-0123456789",
    )
    assert storage.read_bytes(f"s3://{BUCKET}/creds/in.txt", cfg) == b"input bytes"
    run = RunFolder(f"s3://{BUCKET}/creds/run", cfg)
    run.write_json("stats.json", {"a": 1})
    assert run.read_json("stats.json") == {"a": 1}
    assert "config-secret" not in repr(storage.s3_settings(cfg))
    with pytest.raises(UserError, match="aws_secret_access_key"):
        storage.s3_settings(IOConfig(aws_access_key_id="AKIAONLYHALF00000001"))


def test_s3_old_manifest_name_is_upgraded(s3):
    """A bucket run folder of an earlier version: shards/manifest.json is read, then renamed
    (copy + delete: no rename on S3) so the prefix reads as one dataset."""
    from pipeline.shards import (
        LEGACY_MANIFEST,
        MANIFEST,
        ShardWriter,
        read_manifest,
        upgrade_legacy_manifest,
        verify_manifest,
        write_manifest,
    )

    endpoint, client = s3
    run = RunFolder(f"s3://{BUCKET}/runs/legacy", IOConfig(s3_endpoint_url=endpoint))

    def open_output(name):
        return run.open_output("shards", name if name != MANIFEST else LEGACY_MANIFEST)

    rows = [{"id": f"{i:016x}", "text": "t", "token_count": 1} for i in range(4)]
    with ShardWriter(open_output, target_rows=3) as w:
        w.write_many(rows)
    write_manifest(open_output, w.shards)
    out = run.fs_path("shards")
    assert read_manifest(out, run.fs)["totals"]["rows"] == 4
    assert upgrade_legacy_manifest(out, run.fs)
    assert verify_manifest(out, run.fs) == []
    assert _keys(client, "runs/legacy/shards/") == [
        f"runs/legacy/shards/{MANIFEST}",
        "runs/legacy/shards/shard-00000.parquet",
        "runs/legacy/shards/shard-00001.parquet",
    ]
