"""The extraction benchmark's code paths on tiny inputs built here (no timing asserted): a
3-page WARC and a 2-page folder shaped like the article-extraction-benchmark."""

from __future__ import annotations

import gzip
import io
import json

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from benchmarks.bench_extract import bench_f1, bench_speed, main

from .test_extract_fixtures import PAGES


def _write_warc(path, pages):
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i, page in enumerate(pages):
            body = page.html().encode("utf-8")
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            rec = writer.create_warc_record(
                f"http://bench.invalid/{i}",
                "response",
                payload=io.BytesIO(body),
                http_headers=headers,
            )
            writer.write_record(rec)


def test_bench_speed_counts_every_page(tmp_path):
    warc = tmp_path / "tiny.warc.gz"
    pages = [p for p in PAGES if p.file.startswith("readability_")]
    _write_warc(warc, pages)
    out = bench_speed(warc, repeats=1)
    assert out["plain resiliparse"] > 0 and out["mathmine fast"] > 0
    assert out["extraction alone"] > 0  # the target's reference: decoded pages, no WARC
    assert out["ratio_median"] > 0


def test_bench_f1_on_an_aeb_shaped_folder(tmp_path, capsys):
    root = tmp_path / "aeb"
    (root / "html").mkdir(parents=True)
    truth = {}
    for key, page in (("a" * 64, PAGES[1]), ("b" * 64, PAGES[6])):
        (root / "html" / f"{key}.html.gz").write_bytes(gzip.compress(page.html().encode()))
        # a made-up truth (the file name): F1 is near 0 but well defined
        truth[key] = {"articleBody": page.file, "url": page.url}
    (root / "ground-truth.json.gz").write_bytes(gzip.compress(json.dumps(truth).encode()))
    out = bench_f1(root)
    assert set(out) >= {"mathmine careful", "trafilatura favor_precision", "mathmine fast"}
    assert all(0.0 <= v <= 1.0 for v in out.values())
    assert "target: careful F1 >= 0.96" in capsys.readouterr().out


def test_bench_without_data_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.delenv("MATHMINE_BENCH_DATA", raising=False)
    assert main(["--skip-formulas"]) == 0
    out = capsys.readouterr().out
    assert "[1] skipped" in out and "[2] skipped" in out and "MATHMINE_BENCH_DATA" in out
