"""Shard writing: sizes by rows and bytes, atomic deterministic files, a manifest whose sha256s
match, a shard folder that opens as one dataset in every common reader, and the fixed schema."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from infra.storage import folder_output
from pipeline.records import doc_id
from pipeline.shards import (
    LEGACY_MANIFEST,
    MANIFEST,
    SHARD_SCHEMA,
    ShardWriter,
    read_manifest,
    shuffle_key,
    upgrade_legacy_manifest,
    verify_manifest,
    write_manifest,
)

DATA = Path(__file__).parent / "data" / "export"


def _rows(n: int) -> list[dict]:
    texts = []
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz"):
        with gzip.open(DATA / name, "rt") as f:
            texts += [json.loads(line) for line in f]
    rows = []
    for i in range(n):
        d = texts[i % len(texts)]
        url = f"{d['id']}?copy={i}"
        text = d["text"]
        rows.append(
            {
                "id": doc_id(url, d["metadata"]["digest"]),
                "url": url,
                "text": text,
                "lang": "en",
                "math_score": None if i % 5 == 0 else i / n,
                "token_count": len(text.split()),
                "token_kind": "words",
                "warc_path": d["metadata"]["cc_segment"],
                "warc_offset": i * 1000,
                "warc_date": d["metadata"]["date_download"],
                "formulas": i % 3,
                "domain": "example.org",
                "text_source": "careful" if i % 4 else "fast_fallback:reread_failed",
            }
        )
    return sorted(rows, key=lambda r: r["id"])


def _write(tmp: Path, rows, **kw):
    out = folder_output(str(tmp))
    with ShardWriter(out, **kw) as w:
        w.write_many(rows)
    write_manifest(out, w.shards, {"token_kind": "words"})
    return w.shards


def test_shard_schema_is_fixed():
    # README "Shard schema" documents exactly this; changing it breaks data loaders
    assert [(f.name, str(f.type)) for f in SHARD_SCHEMA] == [
        ("id", "string"),
        ("url", "string"),
        ("text", "string"),
        ("lang", "string"),
        ("math_score", "double"),
        ("token_count", "int64"),
        ("token_kind", "string"),
        ("warc_path", "string"),
        ("warc_offset", "int64"),
        ("warc_date", "string"),
        ("formulas", "int32"),
        ("domain", "string"),
        ("text_source", "string"),
    ]


def test_rows_target_cuts_exact_shards(tmp_path):
    rows = _rows(53)
    shards = _write(tmp_path, rows, target_rows=10)
    assert [s.rows for s in shards] == [10, 10, 10, 10, 10, 3]
    assert [s.file for s in shards] == [f"shard-{i:05d}.parquet" for i in range(6)]
    back = pq.read_table(sorted(tmp_path.glob("shard-*.parquet"))).to_pylist()
    assert back == rows  # order, values and nulls survive
    assert sum(s.tokens for s in shards) == sum(r["token_count"] for r in rows)
    m = json.loads((tmp_path / MANIFEST).read_text())
    assert m["totals"] == {
        "shards": 6,
        "rows": 53,
        "tokens": sum(r["token_count"] for r in rows),
        "bytes": sum(os.path.getsize(tmp_path / s.file) for s in shards),
    }
    assert m["token_kind"] == "words"


def test_bytes_target_sizes_shards(tmp_path):
    rows = _rows(200)
    target = 60_000
    shards = _write(tmp_path, rows, target_bytes=target)
    assert len(shards) >= 3
    for i, s in enumerate(shards):
        md = pq.ParquetFile(tmp_path / s.file).metadata
        groups = [
            sum(md.row_group(g).column(c).total_compressed_size for c in range(md.num_columns))
            for g in range(md.num_row_groups)
        ]
        # a shard closes at the first row-group boundary at or past the target: full shards
        # reach it, and none was already full before its last row group
        if i < len(shards) - 1:
            assert s.bytes >= target, s
        assert sum(groups[:-1]) < target, (s, groups)
        assert md.row_group(0).column(2).compression == "ZSTD"
    assert sum(s.rows for s in shards) == 200


def test_manifest_sha256_matches_files_and_catches_tampering(tmp_path):
    _write(tmp_path, _rows(30), target_rows=7)
    assert verify_manifest(tmp_path) == []
    victim = tmp_path / "shard-00002.parquet"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    problems = verify_manifest(tmp_path)
    assert len(problems) == 1 and "shard-00002.parquet: sha256" in problems[0]
    (tmp_path / "shard-00099.parquet").write_bytes(b"stray")
    assert any("not in the manifest" in p for p in verify_manifest(tmp_path))


def test_same_rows_give_byte_identical_shards_and_no_temp_files(tmp_path):
    rows = _rows(40)
    a = _write(tmp_path / "a", rows, target_bytes=30_000)
    b = _write(tmp_path / "b", rows, target_bytes=30_000)
    assert [(s.file, s.sha256) for s in a] == [(s.file, s.sha256) for s in b]
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]
    # readable by others like any written file (temp files start as 0600)
    umask = os.umask(0)
    os.umask(umask)
    for p in (tmp_path / "a").iterdir():
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


def test_abort_leaves_no_partial_shard(tmp_path):
    rows = _rows(25)
    with pytest.raises(RuntimeError):
        with ShardWriter(folder_output(str(tmp_path)), target_rows=10) as w:
            for i, r in enumerate(rows):
                if i == 15:
                    raise RuntimeError("crash mid-shard")
                w.write(r)
    # shard 0 was complete; the half-written shard 1 is gone, not left under any name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard-00000.parquet"]


def _check_table(t: pa.Table, rows: list[dict]) -> None:
    assert t.num_rows == len(rows)
    assert sorted(t.column("id").to_pylist()) == [r["id"] for r in rows]
    assert sum(t.column("token_count").to_pylist()) == sum(r["token_count"] for r in rows)


@pytest.fixture(scope="module")
def shard_folder(tmp_path_factory):
    """A shard folder as export writes it: three shards and the manifest beside them."""
    folder = tmp_path_factory.mktemp("out") / "shards"
    rows = _rows(45)
    _write(folder, rows, target_rows=20)
    assert sorted(p.name for p in folder.iterdir()) == [
        MANIFEST,
        *[f"shard-{i:05d}.parquet" for i in range(3)],
    ]
    return folder, rows


def test_shard_folder_opens_as_one_dataset(shard_folder):
    """The folder itself, not a file list: the manifest's leading '_' is what these readers
    skip (pyarrow's selector_ignore_prefixes, Hadoop's hidden-file filter)."""
    import duckdb
    import pandas as pd
    import pyarrow.dataset as ds

    folder, rows = shard_folder
    d = ds.dataset(folder, format="parquet")
    assert d.schema.equals(SHARD_SCHEMA)
    _check_table(d.to_table(), rows)
    _check_table(pq.read_table(folder), rows)
    df = pd.read_parquet(folder)
    assert list(df.columns) == SHARD_SCHEMA.names and str(df["token_count"].dtype) == "int64"
    _check_table(pa.Table.from_pandas(df, preserve_index=False), rows)
    for source in (f"{folder}/*.parquet", str(folder)):
        [(n, tokens, nulls)] = duckdb.sql(
            "select count(*), sum(token_count), count(*) - count(math_score) "
            f"from read_parquet('{source}')"
        ).fetchall()
        assert (n, tokens) == (45, sum(r["token_count"] for r in rows)), source
        assert nulls == sum(1 for r in rows if r["math_score"] is None)


def test_shard_folder_opens_in_polars_and_hf_datasets(shard_folder, tmp_path, monkeypatch):
    """polars and HF ``datasets`` take the glob (their directory scans read every file, '_'
    or not); HF's folder loader infers the Parquet builder from the folder too."""
    import datasets
    import polars as pl

    folder, rows = shard_folder
    _check_table(pl.read_parquet(f"{folder}/*.parquet").to_arrow(), rows)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = str(tmp_path / "hf-cache")
    by_glob = datasets.load_dataset(
        "parquet", data_files=f"{folder}/*.parquet", split="train", cache_dir=cache
    )
    _check_table(by_glob.data.table, rows)
    by_folder = datasets.load_dataset(str(folder), split="train", cache_dir=cache)
    _check_table(by_folder.data.table, rows)


@pytest.mark.spark
@pytest.mark.slow
def test_shard_folder_opens_in_spark(spark, shard_folder):
    folder, rows = shard_folder
    df = spark.read.parquet(str(folder))
    assert df.columns == SHARD_SCHEMA.names
    got = df.orderBy("id").collect()
    assert [r["id"] for r in got] == [r["id"] for r in rows]
    assert sum(r["token_count"] for r in got) == sum(r["token_count"] for r in rows)


def test_old_manifest_name_is_read_and_upgraded(tmp_path):
    """Run folders of earlier versions have shards/manifest.json: still read, and renamed by
    the next export (which then skips its work if the shards verify)."""
    _write(tmp_path, _rows(12), target_rows=5)
    (tmp_path / MANIFEST).rename(tmp_path / LEGACY_MANIFEST)
    assert read_manifest(tmp_path)["totals"]["rows"] == 12
    assert verify_manifest(tmp_path) != []  # the verifier wants the new name
    assert upgrade_legacy_manifest(tmp_path) is True
    assert not (tmp_path / LEGACY_MANIFEST).exists()
    assert verify_manifest(tmp_path) == [] and read_manifest(tmp_path)["totals"]["rows"] == 12
    assert upgrade_legacy_manifest(tmp_path) is False
    assert read_manifest(tmp_path / "none") is None


def test_shuffle_key_is_seeded_and_independent_of_partitioning():
    ids = [r["id"] for r in _rows(60)]
    order = sorted(ids, key=lambda i: shuffle_key(42, i))
    # any partitioning/arrival order sorts to the same sequence
    parts = [ids[k::4] for k in range(4)]
    merged = sorted((i for p in reversed(parts) for i in p), key=lambda i: shuffle_key(42, i))
    assert merged == order
    assert order != sorted(ids)
    assert order != sorted(ids, key=lambda i: shuffle_key(43, i))
    assert all(-(2**63) <= shuffle_key(42, i) < 2**63 for i in ids)


def test_writer_rejects_no_target(tmp_path):
    with pytest.raises(ValueError):
        ShardWriter(folder_output(str(tmp_path)), target_bytes=0, target_rows=0)


def test_table_roundtrip_types(tmp_path):
    _write(tmp_path, _rows(5), target_rows=100)
    schema = pq.read_schema(tmp_path / "shard-00000.parquet")
    assert schema.field("formulas").type == pa.int32()
    assert schema.field("warc_offset").type == pa.int64()
