"""Which engine answers expand's index query: ours (pyarrow row groups via ranged reads) vs
pyarrow.dataset vs DuckDB vs Spark SQL, on a local index of Common Crawl's shape.

    python -m benchmarks.bench_expand_index [--files 4] [--rows-per-file 1000000]
        [--row-group-rows 250000] [--targets 40] [--repeat 2] [--out DIR]

The index: Common Crawl's exact schema (pipeline.cc_index), Hive layout crawl=/subset=warc,
zstd, page indexes, rows sorted by url_surtkey across files and row groups (as the real one:
cc-index-table checks it). Rows are synthetic at the real shape (a Zipf-like number of pages
per domain, www and sub-domain hosts, 2-3 level paths, random digests and record ids, 90,000
WARC names): a real crawl's index is 300 files of ~700 MB, ~10 M rows and a few 128 MB row
groups each; the row group, not the file, is what a query reads, so the figures here scale by
row groups read. The query is expand's: a set of accepted host/path prefixes of math-like
domains, HTTP 200, HTML, English or unknown language.

Printed per engine: wall seconds (median of --repeat), CPU seconds, bytes read from the
files (``rchar`` of /proc/<pid>/io of the reading process: this one, or Spark's JVM; the
median run, so the JVM's first class loading does not count) and rows returned. Every engine
reads the same columns (pipeline.cc_index.QUERY_COLUMNS) and must return the same captures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

CRAWL = "CC-MAIN-2024-22"
TLDS = ("com", "org", "net", "edu", "de", "io", "co.uk", "fr", "ru", "info")
WORDS = (
    "questions answers blog news wiki article topics category tag product shop item docs "
    "math algebra calculus lecture notes chapter section exercises solutions forum thread "
    "users page archive search about help"
).split()


def _rchar(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def build_index(root: Path, files: int, rows_per_file: int, rg_rows: int, seed: int = 1) -> dict:
    """Write the synthetic index; returns its size and the prefixes that exist in it."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.cc_index import index_schema, partition_dir

    rng = np.random.default_rng(seed)
    n = files * rows_per_file
    n_domains = max(1000, n // 40)
    # pages per domain: Zipf-like, most domains have a few pages, some have thousands
    dom = np.minimum(rng.zipf(1.3, n) - 1, n_domains - 1)
    tld = np.array(TLDS)[dom % len(TLDS)]
    name = np.char.add("site", dom.astype(str))
    sub = rng.integers(0, 6, n)  # 0-3: www, 4: math., 5: forum.
    subs = np.array(["www", "www", "www", "www", "math", "forum"])[sub]
    w = np.array(WORDS)
    s1, s2 = w[rng.integers(0, len(w), n)], w[rng.integers(0, len(w), n)]
    page = rng.integers(0, 100_000, n).astype(str)
    deep = rng.random(n) < 0.6
    path = np.where(
        deep,
        np.char.add(np.char.add(np.char.add(np.char.add("/", s1), "/"), s2), "/"),
        np.char.add(np.char.add("/", s1), "/"),
    )
    path = np.char.add(np.char.add(path, page), ".html")
    domain = np.char.add(np.char.add(name, "."), tld)
    host = np.char.add(np.char.add(subs, "."), domain)
    tld_rev = np.array([",".join(reversed(t.split("."))) for t in TLDS])[dom % len(TLDS)]
    rev_dom = np.char.add(np.char.add(tld_rev, ","), name)
    surt_host = np.where(sub < 4, rev_dom, np.char.add(np.char.add(rev_dom, ","), subs))
    surt = np.char.add(np.char.add(surt_host, ")"), path)
    url = np.char.add(np.char.add("https://", host), path)
    order = np.argsort(surt, kind="stable")
    b32 = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", dtype="S1")
    digest = b32[rng.integers(0, 32, (n, 32))].view("S32").ravel().astype(str)
    status = np.where(rng.random(n) < 0.97, 200, 404).astype("int16")
    mime = np.where(rng.random(n) < 0.9, "text/html", "application/pdf")
    langs = np.array(["eng", "eng", "eng", "deu", "fra", "eng,fra", "rus", None], dtype=object)
    lang = langs[rng.integers(0, len(langs), n)]
    warc_no = rng.integers(0, 90_000, n)
    warc = np.char.add(
        f"crawl-data/{CRAWL}/segments/1715971057216.{0}/warc/CC-MAIN-20240518000000-",
        np.char.zfill(warc_no.astype(str), 5),
    )
    warc = np.char.add(warc, ".warc.gz")
    ms = 1_716_000_000_000 + rng.integers(0, 14 * 86_400_000, n)
    cols = {
        "url_surtkey": surt,
        "url": url,
        "url_host_name": host,
        "url_host_tld": np.array([t.rsplit(".", 1)[-1] for t in TLDS])[dom % len(TLDS)],
        "url_host_2nd_last_part": name,
        "url_host_3rd_last_part": subs,
        "url_host_4th_last_part": np.full(n, None, dtype=object),
        "url_host_5th_last_part": np.full(n, None, dtype=object),
        "url_host_registry_suffix": tld,
        "url_host_registered_domain": domain,
        "url_host_private_suffix": tld,
        "url_host_private_domain": domain,
        "url_host_name_reversed": np.char.add(
            np.char.add(np.char.add(np.char.replace(tld_rev, ",", "."), "."), name),
            np.char.add(".", subs),
        ),
        "url_protocol": np.full(n, "https"),
        "url_port": np.full(n, None, dtype=object),
        "url_path": path,
        "url_query": np.full(n, None, dtype=object),
        "fetch_time": ms,
        "fetch_status": status,
        "fetch_redirect": np.full(n, None, dtype=object),
        "content_digest": digest,
        "content_mime_type": mime,
        "content_mime_detected": mime,
        "content_charset": np.full(n, "UTF-8"),
        "content_languages": lang,
        "content_truncated": np.full(n, None, dtype=object),
        "warc_record_id": [rng.bytes(16) for _ in range(n)],
        "warc_filename": warc,
        "warc_record_offset": rng.integers(0, 1_200_000_000, n).astype("int32"),
        "warc_record_length": rng.integers(800, 90_000, n).astype("int32"),
        "warc_segment": np.full(n, "1715971057216.0"),
    }
    schema = index_schema()
    part = root / partition_dir(CRAWL)
    part.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        sl = order[i * rows_per_file : (i + 1) * rows_per_file]
        arrays = []
        for field in schema:
            col = cols[field.name]
            if field.name == "warc_record_id":
                arrays.append(pa.array([col[j] for j in sl], field.type))
            elif field.name == "fetch_time":
                arrays.append(pa.array(col[sl], pa.int64()).cast(field.type))
            else:
                arrays.append(pa.array(np.asarray(col)[sl], field.type))
        table = pa.Table.from_arrays(arrays, schema=schema)
        pq.write_table(
            table,
            part / f"part-{i:05d}-bench.c000.zstd.parquet",
            compression="zstd",
            row_group_size=rg_rows,
            write_page_index=True,
        )
    # prefixes of the big math-like hosts: what a run's recall loop would accept
    big = np.unique(dom[sub == 4], return_counts=True)
    top = big[0][np.argsort(-big[1])]
    size = sum(f.stat().st_size for f in part.iterdir())
    return {"rows": n, "bytes": size, "math_domains": top.tolist(), "tld": TLDS, "words": WORDS}


def targets_for(info: dict, k: int):
    from pipeline.cc_index import PREFIX, Target

    out = []
    for d in info["math_domains"]:
        host = f"math.site{d}.{TLDS[d % len(TLDS)]}"
        out.append(Target(PREFIX, f"{host}/{WORDS[(d * 7) % len(WORDS)]}"))
        if len(out) >= k:
            break
    return out


OURS_COUNTERS: dict = {}


def q_ours(root: Path, flt) -> list[tuple]:
    from infra.index_files import index_files, open_index_file
    from pipeline.cc_index import query_index_file
    from pipeline.config import IOConfig

    rows = []
    counters: dict = {}
    for _c, uri in index_files(str(root), [CRAWL], IOConfig()):
        rows += query_index_file(open_index_file(uri, IOConfig(), counters), flt, counters)
    OURS_COUNTERS.clear()
    OURS_COUNTERS.update(counters)
    return sorted((r["url"], r["warc_filename"], r["warc_record_offset"]) for r in rows)


def _sql_where(flt) -> str:
    conds = []
    for t in flt.targets:
        p = t.path
        conds.append(
            f"(url_host_name = '{t.host}' AND (url_path = '{p}' OR url_path LIKE '{p}/%'))"
        )
    ranges = " OR ".join(f"(url_surtkey >= '{a}' AND url_surtkey < '{b}')" for a, b in flt.ranges())
    langs = " OR ".join(f"content_languages LIKE '%{lang}%'" for lang in flt.languages)
    return (
        f"crawl = '{CRAWL}' AND subset = 'warc' AND ({ranges}) AND fetch_status = 200 "
        f"AND content_mime_detected IN ('text/html', 'application/xhtml+xml') "
        f"AND (content_languages IS NULL OR {langs}) AND ({' OR '.join(conds)})"
    )


def q_dataset(root: Path, flt) -> list[tuple]:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from pipeline.cc_index import QUERY_COLUMNS

    d = ds.dataset(str(root), format="parquet", partitioning="hive")
    f = (ds.field("crawl") == CRAWL) & (ds.field("subset") == "warc")
    rng = None
    for a, b in flt.ranges():
        r = (ds.field("url_surtkey") >= a) & (ds.field("url_surtkey") < b)
        rng = r if rng is None else rng | r
    f = f & rng & (ds.field("fetch_status") == 200)
    f = f & ds.field("content_mime_detected").isin(list(flt.mimes))
    lang = ds.field("content_languages").is_null()
    for code in flt.languages:
        lang = lang | pc.match_substring(ds.field("content_languages"), code)
    f = f & lang
    tgt = None
    for t in flt.targets:
        c = (ds.field("url_host_name") == t.host) & (
            (ds.field("url_path") == t.path) | pc.starts_with(ds.field("url_path"), t.path + "/")
        )
        tgt = c if tgt is None else tgt | c
    table = d.to_table(columns=list(QUERY_COLUMNS), filter=f & tgt)
    return sorted(
        zip(
            table.column("url").to_pylist(),
            table.column("warc_filename").to_pylist(),
            table.column("warc_record_offset").to_pylist(),
        )
    )


def q_duckdb(root: Path, flt) -> list[tuple]:
    import duckdb

    from pipeline.cc_index import QUERY_COLUMNS

    con = duckdb.connect()
    sql = (
        f"SELECT {', '.join(QUERY_COLUMNS)} FROM read_parquet("
        f"'{root}/*/*/*.parquet', hive_partitioning = true) WHERE {_sql_where(flt)}"
    )
    rows = con.execute(sql).fetchall()
    con.close()
    i, j, k = (QUERY_COLUMNS.index(c) for c in ("url", "warc_filename", "warc_record_offset"))
    return sorted((r[i], r[j], r[k]) for r in rows)


def q_spark(spark, root: Path, flt) -> list[tuple]:
    from pipeline.cc_index import QUERY_COLUMNS

    df = spark.read.parquet(str(root)).where(_sql_where(flt)).select(*QUERY_COLUMNS)
    rows = df.collect()
    return sorted((r["url"], r["warc_filename"], r["warc_record_offset"]) for r in rows)


def measure(fn, pid="self", repeat=2) -> dict:
    walls, cpus, reads, out = [], [], [], None
    for _ in range(repeat):
        r0, c0, t0 = _rchar(pid), _cpu(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
        reads.append(_rchar(pid) - r0)
    return {
        "seconds": round(statistics.median(walls), 3),
        "cpu_seconds_this_process": round(statistics.median(cpus), 3),
        "mb_read": round(statistics.median(reads) / 1e6, 2),
        "rows": len(out),
        "_result": out,
    }


def main(argv=None) -> int:
    from pipeline.cc_index import IndexFilter

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=4)
    p.add_argument("--rows-per-file", type=int, default=1_000_000)
    p.add_argument("--row-group-rows", type=int, default=250_000)
    p.add_argument("--targets", type=int, default=40)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--out", help="keep the index here (default: a temp folder)")
    p.add_argument("--no-spark", action="store_true")
    a = p.parse_args(argv)
    work = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="mathmine-bench-index-"))
    root = work / "cc-index" / "table" / "cc-main" / "warc"
    try:
        t = time.perf_counter()
        kept = work / "index.json"
        if a.out and kept.exists():  # --out holding an index built before: reuse it
            info = json.loads(kept.read_text())
        else:
            info = build_index(root, a.files, a.rows_per_file, a.row_group_rows)
            kept.write_text(json.dumps(info))
        built = time.perf_counter() - t
        flt = IndexFilter(tuple(targets_for(info, a.targets)), languages=("eng",))
        report = {
            "index": {
                "files": a.files,
                "rows": info["rows"],
                "row_groups_per_file": -(-a.rows_per_file // a.row_group_rows),
                "mb": round(info["bytes"] / 1e6, 1),
                "build_seconds": round(built, 1),
            },
            "targets": len(flt.targets),
        }
        engines = {
            "ours (pyarrow row groups, ranged reads)": (lambda: q_ours(root, flt), "self"),
            "pyarrow.dataset filter": (lambda: q_dataset(root, flt), "self"),
            "duckdb read_parquet": (lambda: q_duckdb(root, flt), "self"),
        }
        spark = None
        if not a.no_spark:
            from jobs.session import get_spark
            from pipeline.config import SparkConfig

            spark = get_spark(SparkConfig(master="local[2]"), app_name="bench-expand-index")
            jvm_pid = spark.sparkContext._gateway.proc.pid
            engines["spark sql (local[2])"] = (lambda: q_spark(spark, root, flt), jvm_pid)
        results = {}
        for name, (fn, pid) in engines.items():
            results[name] = measure(fn, pid, a.repeat)
        if spark is not None:
            spark.stop()
        ref = results["ours (pyarrow row groups, ranged reads)"]["_result"]
        for r in results.values():
            r["same_rows_as_ours"] = r.pop("_result") == ref
        base = next(iter(results.values()))
        for r in results.values():
            r["mb_read_vs_ours"] = round(r["mb_read"] / max(base["mb_read"], 1e-9), 2)
            r["seconds_vs_ours"] = round(r["seconds"] / max(base["seconds"], 1e-9), 2)
        report["engines"] = results
        c = OURS_COUNTERS
        # what one row group read costs ours (the figures docs/cloud.md scales up)
        report["ours_per_row_group_read"] = {
            "row_groups_read": c.get("row_groups_read"),
            "row_groups": c.get("row_groups"),
            "requests": c.get("index_requests"),
            "mb_per_row_group_read": round(
                c.get("index_bytes", 0) / 1e6 / max(1, c.get("row_groups_read", 0)), 2
            ),
            "rows_per_row_group": a.row_group_rows,
        }
        print(json.dumps(report, indent=2))
    finally:
        if not a.out:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    raise SystemExit(main())
