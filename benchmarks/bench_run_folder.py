"""Run-folder bookkeeping on an object store: the request patterns that matter at scale.

Against a moto S3 server on 127.0.0.1 (fake credentials; real S3 adds ~10-30 ms per request,
so the ratios here understate the gap) it measures, for --markers completion markers:

- which WARCs are done: one ``is_done`` HEAD per WARC (the naive loop) vs one listing
  (``RunFolder.done_keys``);
- reading every marker for the stage stats: serial ``read_marker`` vs ``read_markers`` (threads);
- writing a docs Parquet file through ``open_output`` (spooled, one PUT) vs the same on local disk.

  python -m benchmarks.bench_run_folder [--markers 500]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main(argv=None) -> int:
    import boto3
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.run_folder import RunFolder
    from pipeline.config import IOConfig
    from tests.cloud_fakes import fake_aws_env, moto_server

    ap = argparse.ArgumentParser()
    ap.add_argument("--markers", type=int, default=500)
    ap.add_argument("--rows", type=int, default=20_000)
    a = ap.parse_args(argv)
    figures: dict = {"markers": a.markers}
    with fake_aws_env(), moto_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="bench"
        )
        run = RunFolder("s3://bench/run", IOConfig(s3_endpoint_url=endpoint))
        keys = [f"{i:016x}" for i in range(a.markers)]
        _, t_write = _timed(
            lambda: [run.mark_done("extract", {"stats": {"kept": 1}}, key=k) for k in keys]
        )
        naive, t_naive = _timed(lambda: [k for k in keys if run.is_done("extract", k)])
        listed, t_list = _timed(lambda: run.done_keys("extract"))
        assert set(naive) == listed
        _, t_serial = _timed(lambda: [run.read_marker("extract", k) for k in keys])
        _, t_par = _timed(lambda: run.read_markers("extract", keys))
        figures.update(
            write_markers_s=round(t_write, 3),
            is_done_loop_s=round(t_naive, 3),
            done_keys_listing_s=round(t_list, 3),
            done_keys_speedup=round(t_naive / max(t_list, 1e-9), 1),
            read_marker_serial_s=round(t_serial, 3),
            read_markers_parallel_s=round(t_par, 3),
            read_markers_speedup=round(t_serial / max(t_par, 1e-9), 1),
        )
        table = pa.table(
            {"id": [f"{i:016x}" for i in range(a.rows)], "text": ["x " * 200] * a.rows}
        )

        def write(r):
            with r.open_output("docs", "part-0.parquet") as f:
                pq.write_table(table, f, compression="zstd")

        _, t_s3 = _timed(lambda: write(run))
        with tempfile.TemporaryDirectory() as d:
            _, t_local = _timed(lambda: write(RunFolder(os.path.join(d, "run"))))
        figures.update(
            parquet_rows=a.rows,
            parquet_write_s3_s=round(t_s3, 3),
            parquet_write_local_s=round(t_local, 3),
            s3_over_local=round(t_s3 / max(t_local, 1e-9), 2),
        )
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
