"""Reader overhead of infra.storage against a local moto server (loopback, no internet).

  .venv/bin/python -m benchmarks.bench_cloud_io [--mb 32] [--rounds 3]

Prints MB/s of (a) the baseline, boto3 ``get_object()['Body'].read()`` in one call, (b)
``open_uri`` read in 64 KiB pieces like FastWARC does, and (c) ``open_uri`` through a proxy that
answers 10% of the downloads with 503 SlowDown and cuts 10% mid-body, with the ratio to (a) and
the retries counted. Loopback hides network latency: this measures our overhead, not S3.
"""

from __future__ import annotations

import argparse
import os
import time

from infra import storage
from pipeline.config import IOConfig
from tests.cloud_fakes import FaultPlan, fake_aws_env, fault_proxy, moto_server


def _read_all(f, piece: int = 64 * 1024) -> int:
    n = 0
    while chunk := f.read(piece):
        n += len(chunk)
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mb", type=int, default=32, help="object size in MB (random bytes)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    import boto3

    data = os.urandom(args.mb * 1_000_000)
    with fake_aws_env(), moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="obj.warc.gz", Body=data)
        rows = []

        def timeit(label, fn):
            best = float("inf")
            totals: dict = {}
            for _ in range(args.rounds):
                t = time.perf_counter()
                n, extra = fn()
                best = min(best, time.perf_counter() - t)
                assert n == len(data)
                for k, v in extra.items():
                    totals[k] = totals.get(k, 0) + v
            rows.append((label, len(data) / 1e6 / best, totals))

        def baseline():
            return len(s3.get_object(Bucket="bench", Key="obj.warc.gz")["Body"].read()), {}

        def ours(ep=endpoint):
            counters: dict = {}
            with storage.open_uri(
                "s3://bench/obj.warc.gz", IOConfig(s3_endpoint_url=ep), counters
            ) as f:
                return _read_all(f), counters

        timeit("(a) boto3 get_object().read()", baseline)
        timeit("(b) open_uri, 64 KiB reads", ours)
        plan = FaultPlan(target="obj.warc.gz", p_503=0.1, p_reset=0.1, seed=1)
        with fault_proxy(endpoint, plan) as proxy:
            timeit("(c) open_uri via fault proxy", lambda: ours(proxy))
        base = rows[0][1]
        print(f"object {args.mb} MB on moto (loopback), best of {args.rounds}")
        for label, mbps, extra in rows:
            print(f"{label:34s} {mbps:8.1f} MB/s  x{mbps / base:4.2f} of (a)  {extra or ''}")
        print(f"fault proxy: {plan.counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
