"""Benchmark files for decontamination: JSONL(.gz) and Parquet, local and over HTTP, with
names, fields and user errors."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import http.server
import json
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.export_job import BUNDLED_GSM8K, build_index, load_benchmarks
from pipeline.config import load_config
from pipeline.decontam import find_contamination
from pipeline.errors import UserError


def _gsm8k_rows() -> list[dict]:
    with gzip.open(BUNDLED_GSM8K, "rt") as f:
        return [json.loads(line) for line in f]


def test_default_is_bundled_gsm8k_questions_and_answers():
    cfg = load_config().export
    b = load_benchmarks(cfg)
    assert list(b) == ["gsm8k_test"]
    assert len(b["gsm8k_test"]) == 2 * 1319
    assert not any("<<" in t for t in b["gsm8k_test"])  # calculator annotations removed


def test_parquet_and_jsonl_files_with_names_and_fields(tmp_path):
    rows = _gsm8k_rows()[:50]
    pq.write_table(
        pa.Table.from_pylist([{"problem": r["question"], "solution": r["answer"]} for r in rows]),
        tmp_path / "math_like.parquet",
    )
    (tmp_path / "plain.jsonl").write_text(
        "\n".join(json.dumps({"text": r["question"]}) for r in rows[:10]) + "\n"
    )
    cfg = load_config(
        None,
        [f"export.benchmarks=[{tmp_path / 'math_like.parquet'},q={tmp_path / 'plain.jsonl'}]"],
    ).export
    b = load_benchmarks(cfg)
    assert {k: len(v) for k, v in b.items()} == {"math_like": 100, "q": 10}
    only_q = load_config(
        None,
        [
            f"export.benchmarks=[{tmp_path / 'math_like.parquet'}]",
            "export.benchmark_fields=[problem]",
        ],
    ).export
    assert len(load_benchmarks(only_q)["math_like"]) == 50
    idx = build_index(cfg)
    assert find_contamination("Intro. " + rows[3]["question"], idx)[0][0] == "math_like"


def test_benchmark_over_http(tmp_path):
    data = BUNDLED_GSM8K.read_bytes()
    (tmp_path / "gsm8k_test.jsonl.gz").write_bytes(data)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path))
    )
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/gsm8k_test.jsonl.gz"
        cfg = load_config(None, [f"export.benchmarks=[{url}]"]).export
        remote = load_benchmarks(cfg)
    finally:
        server.shutdown()
    assert remote == {"gsm8k_test": load_benchmarks(load_config().export)["gsm8k_test"]}


def test_bad_benchmarks_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="cannot read benchmark"):
        load_benchmarks(load_config(None, [f"export.benchmarks=[{tmp_path / 'no.jsonl'}]"]).export)
    (tmp_path / "bad.jsonl").write_text('{"question": "ok"}\nnot json\n')
    with pytest.raises(UserError, match="line 2 is not JSON"):
        load_benchmarks(load_config(None, [f"export.benchmarks=[{tmp_path / 'bad.jsonl'}]"]).export)
    (tmp_path / "nofield.jsonl").write_text('{"prompt": "What is 2+2?"}\n')
    with pytest.raises(UserError, match="no text in fields"):
        load_benchmarks(
            load_config(None, [f"export.benchmarks=[{tmp_path / 'nofield.jsonl'}]"]).export
        )
    with pytest.raises(UserError, match="'export.ngram' must be >= 1, got 0"):
        build_index(load_config(None, ["export.ngram=0"]).export)


def test_export_settings_are_checked_before_any_work():
    from jobs.export_job import check_export_config

    check_export_config(load_config().export)
    check_export_config(load_config(None, ["export.compression=none"]).export)
    with pytest.raises(UserError, match="shard_bytes or export.shard_rows"):
        check_export_config(
            load_config(None, ["export.shard_bytes=0", "export.shard_rows=0"]).export
        )
    # load_config refuses codecs outside the schema's choices; a config built in code that
    # names a codec pyarrow lacks is still refused before any work
    with pytest.raises(UserError, match="one of zstd, snappy"):
        load_config(None, ["export.compression=zip"])
    with pytest.raises(UserError, match="not a Parquet codec"):
        check_export_config(dataclasses.replace(load_config().export, compression="zip"))
