"""Reliability (issue 8) and decompression bombs (issue 11), the short form of
``make reliability``: every real WARC of tests/data/warc, broken files and generated hostile
inputs go through the extract stage; every record is accounted for (lost = 0), hostile records
are dropped with a reason, and bombs cost bounded memory.
"""

from __future__ import annotations

import io
import json
import tracemalloc
import zlib

import brotli
import pytest

from benchmarks import reliability as R
from pipeline.config import ExtractConfig
from pipeline.records import TOO_LARGE, Dropped, RawRecord
from pipeline.warc import iter_records

GiB = 1 << 30


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return R.build_hostile_warcs(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    return R.broken_files(tmp_path_factory.mktemp("broken"))


@pytest.fixture(scope="module")
def baseline_rss():
    """Peak RSS of the same isolated extractor on a small ordinary WARC."""
    r = R.extract_one_isolated(R.WARC_DIR / "dolma_science_0.warc.gz")
    return r["rss_peak_mb"]


# ---------------------------------------------------------------------------------------------
# The bombs themselves are real: valid streams that inflate past 1 GiB from little on disk


@pytest.mark.parametrize(
    "make, inflate",
    [
        (R.gzip_bomb, lambda b: zlib.decompress(b, 31)),
        (R.deflate_bomb, zlib.decompress),
        (R.brotli_bomb, brotli.decompress),
    ],
    ids=["gzip", "deflate", "br"],
)
def test_bomb_builders_make_valid_streams(make, inflate):
    assert inflate(make(5)) == bytes(5 * R.MiB)  # small instance: decoded in full, checksums ok
    big = make(R.BOMB_MIB)
    assert R.BOMB_MIB * R.MiB > GiB
    assert len(big) < 1_200_000  # ~1 KB per MiB for zlib, ~13 bytes per MiB for brotli


def test_member_bomb_is_one_valid_gzip_member():
    m = R.member_bomb_record("https://bomb.example/m", 4)
    d = zlib.decompressobj(31)
    raw = d.decompress(m)
    assert d.eof and not d.unused_data
    assert raw.startswith(b"WARC/1.0\r\n") and len(raw) > 4 * R.MiB


def test_bomb_warcs_are_small_on_disk(hostile):
    for name, (path, _) in hostile.items():
        if name.startswith("bomb_"):
            assert path.stat().st_size < 1_500_000, name


@pytest.mark.parametrize(
    "case", ["bomb_gzip_body", "bomb_deflate_body", "bomb_br_body", "bomb_warc_member"]
)
def test_bomb_is_too_large_with_bounded_python_memory(hostile, case):
    path, n_records = hostile[case]
    tracemalloc.start()
    try:
        with open(path, "rb") as fh:
            items = list(iter_records(fh, path.name, ExtractConfig()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(items) == n_records
    too_large = [i for i in items if isinstance(i, Dropped) and i.reason == TOO_LARGE]
    assert len(too_large) == 1 and too_large[0].url.startswith("https://bomb.example/")
    # the page after the bomb is still read
    assert [i.url for i in items if isinstance(i, RawRecord)] == ["https://ok.example/after"]
    # cap (5 MB) + one inflate step (1 MiB) + slack; inflating in full would be > 1 GiB
    assert peak < 40 * R.MiB, f"{case}: traced peak {peak / R.MiB:.1f} MiB"


def test_lying_content_length_member_costs_nothing_and_loses_nothing(hostile):
    path, n_records = hostile["bomb_warc_member_lying_length"]
    with open(path, "rb") as fh:
        items = list(iter_records(fh, path.name, ExtractConfig()))
    # warcinfo, the small page the record claims to be, and the page after: the GiB of zeros
    # after the claimed length is skipped as padding, never buffered
    assert len(items) == n_records
    assert [i.url for i in items if isinstance(i, RawRecord)] == [
        "https://bomb.example/liar",
        "https://ok.example/after",
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    ["bomb_gzip_body", "bomb_deflate_body", "bomb_br_body", "bomb_warc_member"],
)
def test_bomb_through_extract_in_a_fresh_process(hostile, baseline_rss, case):
    """Whole extract stage per record, own process: peak RSS is this input's alone."""
    path, n_records = hostile[case]
    r = R.extract_one_isolated(path)
    st = r["stats"]
    assert st["records_read"] == n_records
    assert st["dropped"].get(TOO_LARGE) == 1
    assert st["kept"] == 1  # the ordinary page after the bomb
    assert r["rss_peak_mb"] < baseline_rss + 150, (r["rss_peak_mb"], baseline_rss)
    print(
        f"{case}: {r['seconds']:.2f} s, peak RSS {r['rss_peak_mb']:.0f} MB (baseline {baseline_rss:.0f})"
    )


# ---------------------------------------------------------------------------------------------
# Hostile HTML


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, reason",
    [
        ("nesting_100k", "too_deep"),
        ("page_50mb", TOO_LARGE),
        ("binary_as_html", "not_html"),
        ("wrong_charset", None),
    ],
)
def test_hostile_html_is_bounded_and_accounted(hostile, baseline_rss, case, reason):
    path, n_records = hostile[case]
    # the first pass off: a hostile page that shows math evidence reaches the guards behind it
    r = R.extract_one_isolated(path, ("extract.first_pass=false",), timeout=120)
    assert not r.get("timeout"), f"{case} did not finish in 120 s"
    st = r["stats"]
    assert st["records_read"] == n_records
    assert st["records_read"] == st["kept"] + sum(st["dropped"].values())
    if reason:
        assert st["dropped"].get(reason) == 1, st["dropped"]
    assert st["kept"] >= 1  # the ordinary English page after the hostile one
    assert r["rss_peak_mb"] < baseline_rss + 400, (r["rss_peak_mb"], baseline_rss)


@pytest.mark.slow
def test_pathological_math_regex_input_is_bounded(hostile):
    path, n_records = hostile["regex_bait"]
    r = R.extract_one_isolated(path, timeout=60)
    assert not r.get("timeout"), "extract did not finish on the regex bait page"
    st = r["stats"]
    assert st["records_read"] == n_records
    assert st["records_read"] == st["kept"] + sum(st["dropped"].values())


# ---------------------------------------------------------------------------------------------
# Broken files, record-level (no Spark)


@pytest.mark.parametrize(
    "case", ["empty_file", "not_a_warc", "truncated_gzip_member", "garbage_between_members"]
)
def test_broken_files_never_raise_and_lose_nothing(broken, case):
    path, records_in = broken[case]
    with open(path, "rb") as fh:
        items = list(iter_records(fh, path.name, ExtractConfig()))
    bad = [i for i in items if isinstance(i, Dropped) and i.reason == "bad_record"]
    readable = len(items) - len(bad)
    # each record warcio frames is yielded, or is the broken one counted as bad_record
    assert readable <= records_in <= readable + len(bad)
    assert len(bad) == (0 if case == "empty_file" else 1)


# ---------------------------------------------------------------------------------------------
# The table, through the Spark extract stage


@pytest.mark.slow
@pytest.mark.spark
def test_reliability_table_through_spark(spark, tmp_path, hostile, broken, capsys):
    from jobs.extract_job import run_extract
    from jobs.run_folder import RunFolder
    from pipeline.config import load_config

    inputs = {p.name: (p, R.count_records(p)) for p in sorted(R.WARC_DIR.glob("*.warc*.gz"))}
    inputs.update(hostile)
    inputs.update(broken)
    config = load_config(None, [])
    run = RunFolder(tmp_path / "run")
    paths = [str(p) for p, _ in inputs.values()]
    out = run_extract(spark, run, config, paths)
    rows = R.collect_rows(run, inputs)
    with capsys.disabled():
        print("\n" + R.format_table(rows))
    assert all(r["lost"] == 0 for r in rows), [r for r in rows if r["lost"]]
    assert all(r["read"] == r["kept"] + sum(r["dropped"].values()) for r in rows)
    stats = json.loads((run.path / "stats.json").read_text())["extract"]
    assert stats["records_read"] == stats["kept"] + sum(stats["dropped"].values())
    assert stats["records_read"] == out["records_read"] >= sum(n for _, n in inputs.values())
    # every row kept is in docs/
    import pyarrow.parquet as pq

    n_docs = sum(pq.read_metadata(f).num_rows for f in run.sub("docs").glob("*.parquet"))
    assert n_docs == stats["kept"]
    by = {r["input"]: r for r in rows}
    assert by["bomb_warc_member"]["dropped"].get(TOO_LARGE) == 1
    assert by["page_50mb"]["dropped"].get(TOO_LARGE) == 1
    assert by["not_a_warc"]["dropped"] == {"bad_record": 1}
    # the genuine Common Crawl page is extracted
    assert by["cc_whirlwind.warc.gz"]["read"] == 4


def _table_row(name: str, read: int, dropped: int) -> dict:
    """A row of 5 records in, 2 kept, ``dropped`` dropped for reason x."""
    return {
        "input": name,
        "bytes": 10,
        "records_in": 5,
        "read": read,
        "kept": 2,
        "dropped": {"x": dropped},
        "lost": R.lost_of({"kept": 2, "dropped": {"x": dropped}}, 5),
        "seconds": 0.1,
        "peak_rss_mb": 50,
    }


def test_table_formatting_counts_lost():
    rows = [_table_row("a", read=5, dropped=3), _table_row("b", read=4, dropped=2)]
    table = R.format_table(rows)
    assert rows[0]["lost"] == 0 and rows[1]["lost"] == 1
    assert "x 3" in table and len(table.splitlines()) == 4


def test_not_html_binary_detection_on_real_pages():
    # every HTML page of the real fixtures passes; random bytes do not
    import random

    from pipeline.warc import looks_binary

    for p in sorted(R.WARC_DIR.glob("*.warc.gz")):
        with open(p, "rb") as fh:
            for item in iter_records(fh, p.name, ExtractConfig()):
                if isinstance(item, RawRecord):
                    assert not looks_binary(item.body), item.url
    rnd = random.Random(1)
    assert looks_binary(bytes(rnd.getrandbits(8) for _ in range(4096)))
    assert not looks_binary("<html>Grüße, Привет</html>".encode("utf-16"))
    assert not looks_binary(io.BytesIO(b"<html>\x1b$B plain ISO-2022-JP</html>").read())


# ---------------------------------------------------------------------------------------------
# Faults: the rows of docs/ after a killed driver (re-run) or a killed worker (Spark retry)
# equal those of an undisturbed run


FAULT_FILES = (
    "copycat_wayback-topic-02.warc.gz",  # the longest task: ~130 pages
    "dolma_sample-0000.warc.gz",
    "dolma_sample-0001.warc.gz",
    "pywb_iana.warc.gz",
    "resiliparse_warcfile.warc.gz",
)


# the fault WARCs are mostly non-math pages: without the first pass (tests/test_prefilter.py) every
# page is extracted, so the runs compared have hundreds of docs, not the few math ones
FAULT_SETTINGS = (*R.DEFAULT_SETTINGS, "extract.first_pass=false")


@pytest.fixture(scope="module")
def fault_reference(spark, tmp_path_factory):
    """The undisturbed run, in this process's Spark session (saves a JVM start)."""
    from jobs.extract_job import run_extract
    from jobs.run_folder import RunFolder
    from pipeline.config import load_config

    inputs = {n: (R.WARC_DIR / n, R.count_records(R.WARC_DIR / n)) for n in FAULT_FILES}
    out = tmp_path_factory.mktemp("faults") / "reference"
    config = load_config(None, list(FAULT_SETTINGS))
    run_extract(spark, RunFolder(out), config, [str(p) for p, _ in inputs.values()])
    return inputs, out


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["driver", "worker"])
def test_killed_driver_or_worker_gives_the_rows_of_an_undisturbed_run(
    fault_reference, tmp_path, fault
):
    inputs, reference = fault_reference
    ref_ids = R.docs_ids(reference)
    assert len(ref_ids) > 100
    paths = [str(p) for p, _ in inputs.values()]
    fn = R.fault_driver_killed if fault == "driver" else R.fault_worker_killed
    res = fn(paths, tmp_path / fault, FAULT_SETTINGS, 300)
    assert not res["problem"], res["problem"]
    if fault == "driver":
        # killed while some WARCs were done and others not; the re-run did only the rest
        assert 0 < res["done_at_kill"] < len(paths)
    else:
        assert res["killed_worker"], "no busy Python worker was found to kill"
    assert R.docs_ids(tmp_path / fault) == ref_ids
    stats = json.loads((tmp_path / fault / "stats.json").read_text())["extract"]
    assert stats["records_read"] == sum(n for _, n in inputs.values())
    assert stats["records_read"] == stats["kept"] + sum(stats["dropped"].values())
