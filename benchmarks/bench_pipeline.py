"""`make bench`: the extract stage against the peers, in one run, on the same pages.

Builds a Common-Crawl-shaped benchmark WARC set from the bundled real pages (the HTML responses
of sample/sample.warc.gz, repeated under distinct URLs to --pages pages, split into --files
WARC files so that two cores have work), or takes the WARCs you pass with --warc. Then measures:

- ours: `mathmine extract` (WARC bytes -> charset -> text with math -> langid -> word count ->
  MinHash) on Spark local[1] and local[2], plus fastText math scoring of the docs;
  HTML pages/s, MB/s of HTML, ms/page per step (read, charset, extract, langid, word_count,
  minhash: the extract stage's own step timers), peak RSS per Python worker;
- baseline (a): a plain loop of warcio + trafilatura + lid.176, as a user would write it;
- baseline (b): datatrove's WarcReader + Trafilatura pipeline, in a subprocess of
  --datatrove-python (default: this Python, with the bench extra); skipped with a message when
  datatrove is not installed there;
- the read floor: the same WARCs only read (gunzip, WARC and HTTP parsing: iter_records) in
  this process, pages/s on one core: no extractor can beat it;
- ours with the first pass off (``extract.first_pass=false``, local[1]): what staging gains;
- ratios, parallel efficiency 1 -> 2 cores, and a projection of core-hours and dollars per
  Common Crawl snapshot;
- what the first pass loses (benchmarks/first_pass_loss.py): held-out math pages (dev and
  test, named), and math pages and formulas of the real HTML pages we have (sample WARC,
  threads, fixtures; the math seeds with ``$MATHMINE_BENCH_DATA``).

Baselines run on the first --baseline-pages pages (they are 10-20x slower); pages/s is the
figure compared. Writes bench.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample" / "sample.warc.gz"

# One Common Crawl snapshot: ~90,000 WARC files, ~3 billion pages (e.g. CC-MAIN-2024-22 lists
# 2.7 B pages). Spot price of one vCPU-hour on compute-optimised instances (c7g/c6i spot in
# us-east-1 runs ~$0.015-0.03 per vCPU-hour); both are parameters.
PAGES_PER_SNAPSHOT = 3.0e9
USD_PER_VCPU_HOUR = 0.02


def html_responses(path: Path):
    """(url, content_type, body) of the HTML responses of a WARC, bodies decoded."""
    from pipeline.config import ExtractConfig
    from pipeline.records import RawRecord
    from pipeline.warc import iter_records

    with open(path, "rb") as f:
        for item in iter_records(f, str(path), ExtractConfig()):
            if isinstance(item, RawRecord):
                yield item.url, item.content_type or "text/html", item.body


def build_bench_warcs(
    out_dir: Path, pages: int, files: int, source: Path = SAMPLE
) -> tuple[list[Path], int, int]:
    """Write ``files`` gzipped WARCs holding ``pages`` HTML responses in all: those of
    ``source``, repeated under distinct URLs when it has fewer."""
    from io import BytesIO
    from itertools import islice

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    base = list(islice(html_responses(source), pages))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"bench-{i:03d}.warc.gz" for i in range(files)]
    handles = [open(p, "wb") for p in paths]
    writers = [WARCWriter(h, gzip=True) for h in handles]
    html_bytes = 0
    for n in range(pages):
        url, ctype, body = base[n % len(base)]
        copy = n // len(base)
        if copy:
            url = f"{url}{'&' if '?' in url else '?'}bench_copy={copy}"
        headers = StatusAndHeaders(
            "200 OK",
            [("Content-Type", ctype), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )
        w = writers[n % files]
        rec = w.create_warc_record(url, "response", payload=BytesIO(body), http_headers=headers)
        w.write_record(rec)
        html_bytes += len(body)
    for h in handles:
        h.close()
    return paths, pages, html_bytes


def read_floor(warcs: list[Path]) -> dict:
    """Pages/s of reading the WARCs alone (one core, this process): the floor of extraction."""
    from pipeline.config import ExtractConfig
    from pipeline.records import RawRecord
    from pipeline.warc import iter_records

    pages = 0
    t0 = time.perf_counter()
    for w in warcs:
        with open(w, "rb") as f:
            pages += sum(isinstance(r, RawRecord) for r in iter_records(f, str(w), ExtractConfig()))
    secs = time.perf_counter() - t0
    return {"pages": pages, "seconds": round(secs, 2), "pages_per_s": round(pages / secs, 1)}


def run_ours(warcs: list[Path], master: str, workdir: Path, overrides: tuple = ()) -> dict:
    from jobs.extract_job import run_extract
    from jobs.run_folder import RunFolder
    from jobs.session import get_spark
    from pipeline.config import load_config

    config = load_config(None, [f"spark.master={master}", *overrides])
    name = master.replace("[", "").replace("]", "") + (
        "-" + "-".join(overrides) if overrides else ""
    )
    run_dir = workdir / f"ours-{name.replace('=', '_').replace('.', '_')}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run = RunFolder(run_dir)
    inputs = [str(p) for p in warcs]
    run.claim(inputs, config, "bench")
    spark = get_spark(config.spark)
    try:
        # warm the Python workers once so both runs pay the same start-up (none)
        spark.sparkContext.parallelize(range(4), 4).map(lambda x: x).collect()
        t0 = time.perf_counter()
        stats = run_extract(spark, run, config, inputs)
        wall = time.perf_counter() - t0
    finally:
        spark.stop()
    return {"wall_s": wall, "stats": stats, "run_dir": str(run_dir)}


def html_pages(stats: dict) -> int:
    """HTML responses the extract stage read (not requests, metadata or non-HTML responses):
    the pages of pages/s, as the baselines count them."""
    return stats["html_pages"]


def score_docs(run_dir: str) -> dict:
    """Train the math classifier on the bundled seeds and time scoring the docs."""
    import pyarrow.parquet as pq

    from classifiers.fasttext_model import MathScorer, train_classifier
    from classifiers.seeds import load_bundled_negatives, load_bundled_seeds
    from pipeline.config import RecallConfig

    docs = pq.read_table(Path(run_dir) / "docs", columns=["text", "formulas", "math_markup"])
    rows = docs.to_pylist()
    with tempfile.TemporaryDirectory() as tmp:
        model = train_classifier(
            load_bundled_seeds(), load_bundled_negatives(), RecallConfig(), Path(tmp) / "m.bin"
        )
        scorer = MathScorer(model)
        scorer.score("warm up")
        t0 = time.perf_counter()
        for r in rows:
            scorer.score(r["text"], r["formulas"], r["math_markup"])
        secs = time.perf_counter() - t0
    return {"docs": len(rows), "seconds": secs, "ms_per_doc": 1000 * secs / max(1, len(rows))}


def run_plain_loop(warc: Path, limit: int) -> dict:
    """Baseline (a): what a user writes first: warcio + trafilatura + lid.176."""
    import fasttext
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    from pipeline.langid import lid_model_path

    lid = fasttext.load_model(lid_model_path())
    n = kept = 0
    t0 = time.perf_counter()
    with open(warc, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type != "response":
                continue
            ctype = rec.http_headers.get_header("Content-Type", "") if rec.http_headers else ""
            if "html" not in ctype:
                continue
            html = rec.content_stream().read().decode("utf-8", errors="replace")
            n += 1
            text = trafilatura.extract(html, favor_precision=True) or ""
            if text:
                lid.predict(" ".join(text[:2000].split()))
                kept += 1
            if n >= limit:
                break
    return {"pages": n, "docs": kept, "seconds": time.perf_counter() - t0}


def run_datatrove(warc: Path, python: str | None) -> dict | None:
    if not python or not Path(python).exists():
        print(
            f"baseline (b) datatrove: skipped, {python} does not exist (--datatrove-python: a "
            "Python with the bench extra, pip install -e '.[bench]'; make bench installs it)",
            file=sys.stderr,
        )
        return None
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(warc, Path(tmp) / warc.name)
        r = subprocess.run(
            [python, str(Path(__file__).with_name("datatrove_baseline.py")), tmp, "*.warc.gz"],
            capture_output=True,
            text=True,
            timeout=3600,
        )
    if r.returncode != 0:
        print(
            "baseline (b) datatrove: skipped, it did not run (install the bench extra: "
            f"pip install -e '.[bench]'): {r.stderr.strip().splitlines()[-1:]}",
            file=sys.stderr,
        )
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def project(pages_per_s_per_core: float, pages: float, usd: float) -> dict:
    core_hours = pages / pages_per_s_per_core / 3600 if pages_per_s_per_core else float("inf")
    return {"core_hours": round(core_hours), "usd": round(core_hours * usd)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--warc", nargs="*", help="benchmark on these WARCs instead of the built set")
    ap.add_argument(
        "--pages",
        type=int,
        default=20_000,
        help="pages in the built set (default 20000: 5,000 per WARC, still fewer than the "
        "~35,000 of a Common Crawl WARC; at 5,000 in all, the fixed start-up of a task (worker "
        "imports, model loading) was a fifth of a 9 s run and the 2-core figure mostly measured it)",
    )
    ap.add_argument("--files", type=int, default=4, help="WARC files in the built set (default 4)")
    ap.add_argument(
        "--baseline-pages", type=int, default=400, help="pages the baselines process (default 400)"
    )
    ap.add_argument(
        "--datatrove-python",
        default=sys.executable,
        help="a Python with datatrove installed (default: this one, bench extra)",
    )
    ap.add_argument("--pages-per-snapshot", type=float, default=PAGES_PER_SNAPSHOT)
    ap.add_argument("--usd-per-vcpu-hour", type=float, default=USD_PER_VCPU_HOUR)
    ap.add_argument(
        "--no-off-run", action="store_true", help="skip the local[1] run with the first pass off"
    )
    ap.add_argument("--no-loss", action="store_true", help="skip measuring the first pass loss")
    ap.add_argument("--out", default="bench.json")
    ap.add_argument("--workdir", default=str(REPO / "out" / "bench"))
    args = ap.parse_args(argv)

    workdir = Path(args.workdir)
    if args.warc:
        warcs = [Path(w).resolve() for w in args.warc]
        html_mb = None
    else:
        print(
            f"building {args.pages} pages in {args.files} WARCs from {SAMPLE.name} ...",
            file=sys.stderr,
        )
        warcs, _, html_b = build_bench_warcs(workdir / "warcs", args.pages, args.files)
        html_mb = html_b / 1e6

    results: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "warcs": [str(w) for w in warcs],
    }
    ours = {}
    runs = [("local[1]", ()), ("local[2]", ())]
    if not args.no_off_run:
        runs.append(("local[1]", ("extract.first_pass=false",)))
    for master, overrides in runs:
        label = master + (" first pass off" if overrides else "")
        print(f"ours on {label} ...", file=sys.stderr)
        r = run_ours(warcs, master, workdir, overrides)
        st = r["stats"]
        pages = html_pages(st)
        mb = html_mb if html_mb is not None else st.get("html_bytes", 0) / 1e6
        ours[label] = {
            "pages": pages,
            "docs": st["kept"],
            "wall_s": round(r["wall_s"], 2),
            "pages_per_s": round(pages / r["wall_s"], 1),
            "mb_per_s": round(mb / r["wall_s"], 2),
            "peak_rss_mb": st.get("peak_rss_mb_max"),
            "dropped": dict(st.get("dropped", {})),
            "first_pass_sampled": st.get("first_pass_sampled", 0),
            "ms_per_page": {
                k[2:]: round(1000 * v / max(1, pages), 3)
                for k, v in st.items()
                if k.startswith("t_")
            },
        }
        results.setdefault("_run_dirs", {})[label] = r["run_dir"]
    score = score_docs(results["_run_dirs"]["local[1]"])
    ours["local[1]"]["ms_per_page"]["score"] = round(
        score["seconds"] * 1000 / max(1, ours["local[1]"]["pages"]), 3
    )
    results["ours"] = ours
    results["score"] = score
    one, two = ours["local[1]"], ours["local[2]"]
    # per page: extraction wall on one core plus scoring of the docs it kept
    one_core_s_per_page = 1 / one["pages_per_s"] + score["seconds"] / max(1, one["pages"])
    ours_pps = 1 / one_core_s_per_page
    results["parallel_efficiency"] = round(two["pages_per_s"] / (2 * one["pages_per_s"]), 3)
    results["score_share_of_extract"] = round(
        (score["seconds"] / max(1, one["pages"])) / (1 / one["pages_per_s"]), 4
    )
    results["end_to_end_pages_per_s_per_core"] = round(ours_pps, 1)
    print("read floor (WARC reading alone) ...", file=sys.stderr)
    floor = read_floor(warcs)
    results["read_floor"] = floor
    off = ours.get("local[1] first pass off")
    if off:
        off_score = score_docs(results["_run_dirs"]["local[1] first pass off"])
        off["ms_per_page"]["score"] = round(off_score["seconds"] * 1000 / max(1, off["pages"]), 3)
        off_pps = 1 / (1 / off["pages_per_s"] + off_score["seconds"] / max(1, off["pages"]))
        results["end_to_end_first_pass_off"] = round(off_pps, 1)

    print("baseline (a) warcio + trafilatura + lid ...", file=sys.stderr)
    plain = run_plain_loop(warcs[0], args.baseline_pages)
    plain["pages_per_s"] = round(plain["pages"] / plain["seconds"], 1)
    results["plain_loop"] = plain
    print("baseline (b) datatrove WarcReader + Trafilatura ...", file=sys.stderr)
    # datatrove reads a whole WARC: give it one of the pages the plain loop read, the first of
    # the first WARC (with --warc it once read all of that WARC and was credited with 400)
    (dt_warc,), _, _ = build_bench_warcs(workdir / "baseline", plain["pages"], 1, warcs[0])
    dt = run_datatrove(dt_warc, args.datatrove_python)
    if dt:
        dt["pages"] = plain["pages"]
        dt["pages_per_s"] = round(dt["pages"] / dt["seconds"], 1)
    results["datatrove"] = dt

    results["ratios"] = {
        "ours_vs_plain_loop": round(ours_pps / plain["pages_per_s"], 1),
        "ours_vs_datatrove": round(ours_pps / dt["pages_per_s"], 1) if dt else None,
        "ours_vs_read_floor": round(ours_pps / floor["pages_per_s"], 3),
        "first_pass_off_vs_datatrove": round(
            results["end_to_end_first_pass_off"] / dt["pages_per_s"], 1
        )
        if dt and off
        else None,
        "first_pass_on_vs_off": round(ours_pps / results["end_to_end_first_pass_off"], 2)
        if off
        else None,
    }
    if not args.no_loss:
        from benchmarks.first_pass_loss import default_seeds, measure

        print("first pass loss (held-out sets, HTML pages) ...", file=sys.stderr)
        results["first_pass_loss"] = measure(default_seeds())
    results["projection"] = {
        "pages_per_snapshot": args.pages_per_snapshot,
        "usd_per_vcpu_hour": args.usd_per_vcpu_hour,
        "ours": project(ours_pps, args.pages_per_snapshot, args.usd_per_vcpu_hour),
        "plain_loop": project(
            plain["pages_per_s"], args.pages_per_snapshot, args.usd_per_vcpu_hour
        ),
        "datatrove": project(dt["pages_per_s"], args.pages_per_snapshot, args.usd_per_vcpu_hour)
        if dt
        else None,
    }
    results.pop("_run_dirs", None)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print_table(results)
    return 0


def print_table(r: dict) -> None:
    one, two = r["ours"]["local[1]"], r["ours"]["local[2]"]
    pr = r["projection"]
    rows = [
        ("mathmine extract, 1 core", one["pages_per_s"], one["mb_per_s"], pr["ours"]),
        ("mathmine extract, 2 cores", two["pages_per_s"], two["mb_per_s"], None),
        (
            "warcio + trafilatura + lid, 1 core",
            r["plain_loop"]["pages_per_s"],
            None,
            pr["plain_loop"],
        ),
    ]
    if r["datatrove"]:
        rows.append(
            (
                "datatrove WarcReader + Trafilatura, 1 core",
                r["datatrove"]["pages_per_s"],
                None,
                pr["datatrove"],
            )
        )
    print(f"\n{r['date']} on {r['machine']}")
    print(
        f"{'pipeline':44} {'pages/s':>9} {'MB/s':>7} {'core-h/snapshot':>16} {'USD/snapshot':>13}"
    )
    for name, pps, mbs, proj in rows:
        print(
            f"{name:44} {pps:9.1f} {mbs if mbs is not None else '':>7} "
            f"{proj['core_hours'] if proj else '':>16} {proj['usd'] if proj else '':>13}"
        )
    off = r["ours"].get("local[1] first pass off")
    if off:
        print(
            f"{'mathmine extract, 1 core, first pass off':44} {off['pages_per_s']:9.1f} "
            f"{off['mb_per_s']:>7}"
        )
    floor = r["read_floor"]
    print(f"{'WARC read floor (iter_records), 1 core':44} {floor['pages_per_s']:9.1f}")
    print(f"\nms/page per step (1 core): {one['ms_per_page']}")
    print(
        f"dropped (1 core): {one['dropped']}; ruled-out pages kept as a sample: "
        f"{one['first_pass_sampled']}"
    )
    if off:
        print(f"ms/page per step (1 core, first pass off): {off['ms_per_page']}")
    print(
        f"end to end (extract + scoring), pages/s per core: {r['end_to_end_pages_per_s_per_core']}"
        + (f" (first pass off: {r['end_to_end_first_pass_off']})" if off else "")
    )
    print(
        f"peak RSS per Python worker: {one['peak_rss_mb']} MB (1 core), {two['peak_rss_mb']} MB (2 cores)"
    )
    print(f"parallel efficiency 1 -> 2 cores: {r['parallel_efficiency']}")
    print(f"scoring / extraction time per page: {r['score_share_of_extract']:.1%}")
    print(f"ratios (ours incl. scoring): {r['ratios']}")
    if r.get("first_pass_loss"):
        from benchmarks.first_pass_loss import print_loss

        print_loss(r["first_pass_loss"])


if __name__ == "__main__":
    sys.exit(main())
