"""Dedup benchmark: near-duplicate recall at the threshold, signature speed, and scale.

  python -m benchmarks.bench_dedup [--quality] [--speed] [--scale 100000,300000] [--million]
                                   [--data DIR] [--no-spark]

With no section flag all three run (scale at 100k and 300k docs; --million adds 1M).

Quality: labelled near-duplicate sets built from real text by ``benchmarks/dedup_sets.py``
(sentence deletions and insertions, boilerplate changes, partial copies, rewording,
reformatting; ground truth is the exact Jaccard of dedup's own shingles). ``dev-web`` (the
repo's real page texts) is the set the defaults were chosen on; ``test-stackmath`` and
``test-planetmath`` (real math text from the team's data folder: ``--data DIR`` or
``MATHMINE_BENCH_DATA``) were not looked at while choosing. For each set and for the old banding
(14 x 9) beside the new default, in the same run:

- LSH alone: candidate pairs (every pair sharing a bucket) and the share of the J >= threshold pairs
  that are among them, per J bin;
- ``dedup_frame`` in Spark local mode (the code ``mathmine dedup`` runs), with the candidate
  pairs it verified and seconds: recall = J >= threshold pairs whose two docs end in one
  cluster (per J bin); precision = removed docs that have a J >= threshold partner in their
  cluster; to-kept = removed docs within the threshold of the doc kept for them; cluster-pair
  precision = pairs put in one cluster that have J >= threshold. The last two are below 1
  whatever the banding: connected components join copies of copies (A~B~C with A, C apart),
  as designed.
datasketch's MinHashLSH at its default weights is shown beside them (candidates + exact
verification).

Speed: signatures per second on one core on the real page texts, shingling included, against
datasketch ``MinHash.update_batch`` on the same shingles, in the same run.

Scale: synthetic documents made of windows of real page text with planted exact-URL, exact-text
and near duplicates, through ``mathmine dedup`` on local[2] with a fixed driver memory; wall
time and peak RSS of the whole process tree (driver JVM + Python workers) for each size; the
first size also with the old banding, for the cost of the extra candidates at scale.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks import dedup_sets as S
from pipeline import minhash as M
from pipeline.config import DedupConfig

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "dedup"
OLD_BANDING = (14, 9)  # before issue 15: datasketch's criterion with false-negative weight 0.9
BIN_EDGES = (0.8, 0.85, 0.9, 0.95, 1.0)


def load_pages(min_words: int = 0) -> list[str]:
    pages = [json.loads(x)["text"] for x in gzip.open(DATA / "pages.jsonl.gz", "rt")]
    return [p for p in pages if len(p.split()) >= min_words]


def edit_words(text: str, rate: float, rng: random.Random) -> str:
    """Replace each word with a fresh token with probability ``rate``."""
    return " ".join(
        w if rng.random() >= rate else f"zq{rng.randrange(10**9)}" for w in text.split()
    )


# --- quality ---------------------------------------------------------------------------------


def load_sets(cfg: DedupConfig, data: Path | None, n_base: int) -> list[S.NearDupSet]:
    sources = [("dev-web", S.load_dev_web)]
    if data is not None:
        sources += [
            ("test-stackmath", lambda: S.load_stackmath(data)),
            ("test-planetmath", lambda: S.load_planetmath(data)),
        ]
    else:
        print("  test sets skipped: pass --data DIR or set MATHMINE_BENCH_DATA (math-seeds/)")
    return [S.build_set(name, load(), cfg, n_base) for name, load in sources]


def lsh_pairs(band_keys: np.ndarray) -> set[tuple[int, int]]:
    buckets = defaultdict(list)
    for i, row in enumerate(band_keys):
        for b, h in enumerate(row.tolist()):
            buckets[(b, h)].append(i)
    pairs = set()
    for idx in buckets.values():
        if len(idx) > 1:
            pairs.update(itertools.combinations(sorted(idx), 2))
    return pairs


def bin_recall(found: set, truth: dict, threshold: float) -> list[tuple[int, int]]:
    """(found, total) of the J >= threshold pairs in each bin of BIN_EDGES."""
    edges = (threshold,) + tuple(e for e in BIN_EDGES if e > threshold)
    out = []
    for lo, hi in zip(edges, edges[1:]):
        last = hi >= 1.0
        ps = [p for p, j in truth.items() if lo <= j and (j < hi or last)]
        out.append((sum(p in found for p in ps), len(ps)))
    return out


def _bins_text(bins: list[tuple[int, int]]) -> str:
    return "  ".join(f"{f:>3}/{n:<3}" for f, n in bins)


def _recall(bins) -> float:
    return sum(f for f, _ in bins) / max(sum(n for _, n in bins), 1)


class PairJaccard:
    """Exact Jaccard of any pair of a set's docs: the in-family truth, others computed."""

    def __init__(self, s: S.NearDupSet, cfg: DedupConfig):
        self.truth = s.truth
        self.sets = M.shingle_sets(s.docs, cfg)

    def __call__(self, a: int, b: int) -> float:
        a, b = min(a, b), max(a, b)
        if (a, b) in self.truth:
            return self.truth[(a, b)]
        return M.set_jaccard(self.sets[a], self.sets[b])


def lsh_rows(s: S.NearDupSet, cfg: DedupConfig, bandings) -> list[dict]:
    sigs = M.minhash_signatures(s.docs, cfg)
    rows = []
    for b, r in bandings:
        cand = lsh_pairs(M.band_hashes(sigs, b, r))
        bins = bin_recall(cand, s.truth, cfg.threshold)
        rows.append({"banding": f"{b}x{r}", "p_at_threshold": round(
            M.candidate_probability(cfg.threshold, b, r), 4), "candidate_pairs": len(cand),
            "candidate_recall": round(_recall(bins), 4), "bins": bins})  # fmt: skip
    return rows


def spark_row(spark, s: S.NearDupSet, cfg: DedupConfig, jac: PairJaccard) -> dict:
    """``dedup_frame`` on the set: pair recall per bin, pair precision, cost."""
    from jobs.dedup_job import dedup_frame

    # ids as hashes (like extract's): id order must not follow families
    ids = [hashlib.sha1(f"{s.name}/{i}".encode()).hexdigest()[:16] for i in range(len(s.docs))]
    df = spark.createDataFrame(list(zip(ids, s.docs)), "id string, text string")
    t = time.perf_counter()
    result, report = dedup_frame(spark, df, cfg)
    got = {r["id"]: (r["cluster_id"], r["keep"]) for r in result.collect()}
    seconds = time.perf_counter() - t
    position = {i: k for k, i in enumerate(ids)}
    members = defaultdict(list)
    for k, i in enumerate(ids):
        members[got[i][0]].append(k)
    joined = {p for idx in members.values() for p in itertools.combinations(idx, 2)}
    truth = dict(s.truth)
    truth.update({p: jac(*p) for p in joined if p not in truth})
    bins = bin_recall(joined, truth, cfg.threshold)
    removed = [k for k, i in enumerate(ids) if not got[i][1]]
    # a removed doc is a true duplicate when some doc of its cluster is within the threshold
    with_partner = sum(
        any(
            truth[(min(k, o), max(k, o))] >= cfg.threshold
            for o in members[got[ids[k]][0]]
            if o != k
        )
        for k in removed
    )
    near_kept = sum(jac(k, position[got[ids[k]][0]]) >= cfg.threshold for k in removed)
    return {
        "banding": f"{report['bands']}x{report['rows']}",
        "recall": round(_recall(bins), 4),
        "precision": round(with_partner / max(len(removed), 1), 4),
        "removed": len(removed),
        "removed_within_threshold_of_kept": round(near_kept / max(len(removed), 1), 4),
        "cluster_pairs": len(joined),
        "cluster_pair_precision": round(
            sum(truth[p] >= cfg.threshold for p in joined) / max(len(joined), 1), 4
        ),
        "pairs_verified": report["candidate_pairs"],
        "pairs_verified_star": report["candidate_pairs_star"],
        "pairs_verified_window": report["candidate_pairs_window"],
        "verified_edges": report["verified_edges"],
        "largest_bucket": report["largest_bucket"],
        "seconds": round(seconds, 1),
        "bins": bins,
    }


def datasketch_row(s: S.NearDupSet, cfg: DedupConfig, jac: PairJaccard) -> dict | None:
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:  # pragma: no cover
        return None
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    mh = []
    for i, d in enumerate(s.docs):
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        m.update_batch(_shingle_bytes(d, cfg.shingle_size))
        lsh.insert(i, m)
        mh.append(m)
    found = {(min(i, j), max(i, j)) for i, m in enumerate(mh) for j in lsh.query(m) if j != i}
    kept = {p for p in found if jac(*p) >= cfg.threshold}
    bins = bin_recall(kept, s.truth, cfg.threshold)
    return {"banding": f"{lsh.b}x{lsh.r}", "candidate_pairs": len(found),
            "recall": round(_recall(bins), 4), "bins": bins}  # fmt: skip


def bench_quality(cfg: DedupConfig, data: Path | None, n_base: int, with_spark: bool) -> dict:
    new = M.bands_rows(cfg)
    bandings = [OLD_BANDING, new]
    t0 = time.perf_counter()
    sets = load_sets(cfg, data, n_base)
    spark = None
    if with_spark:
        from jobs.session import get_spark
        from pipeline.config import SparkConfig

        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        spark = get_spark(SparkConfig(master="local[2]", driver_memory="2g"), "bench-dedup")
        from jobs.dedup_job import dedup_frame

        # warm up (JVM, Python workers) so the first timed run is not charged for it
        warm = spark.createDataFrame([(str(i), t) for i, t in enumerate(sets[0].docs[:100])])
        dedup_frame(spark, warm.toDF("id", "text"), cfg)[0].collect()
    edges = (cfg.threshold,) + tuple(e for e in BIN_EDGES if e > cfg.threshold)
    head = "  ".join(f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(edges, edges[1:]))
    print(
        f"near-dup sets built in {time.perf_counter() - t0:.0f}s; banding old {OLD_BANDING[0]}x"
        f"{OLD_BANDING[1]} vs new {new[0]}x{new[1]} ({M.banding_rule(cfg)})"
    )
    figures = {}
    for s in sets:
        js = np.array(list(s.truth.values()))
        bins = [(0, n) for _, n in bin_recall(set(), s.truth, cfg.threshold)]
        print(
            f"\n{s.name}: {len(s.docs)} docs ({s.bases} real texts + 6 variants each), "
            f"{len(js)} in-family pairs, {int((js >= cfg.threshold).sum())} with J >= "
            f"{cfg.threshold} (per bin {' '.join(str(n) for _, n in bins)}), "
            f"{int(((js >= 0.5) & (js < cfg.threshold)).sum())} at 0.5 <= J < {cfg.threshold}"
        )
        jac = PairJaccard(s, cfg)
        fig = {"docs": len(s.docs), "positives": int((js >= cfg.threshold).sum())}
        fig["lsh"] = lsh_rows(s, cfg, bandings)
        print(f"  LSH candidates alone       P(t)    pairs  recall   per J bin {head}")
        for r in fig["lsh"]:
            print(
                f"    {r['banding']:<22} {r['p_at_threshold']:.3f} {r['candidate_pairs']:>8} "
                f"{r['candidate_recall']:.4f}  {_bins_text(r['bins'])}"
            )
        ds = datasketch_row(s, cfg, jac)
        if ds:
            fig["datasketch"] = ds
            print(
                f"    datasketch {ds['banding']:<11} + exact  {ds['candidate_pairs']:>8} "
                f"{ds['recall']:.4f}  {_bins_text(ds['bins'])}"
            )
        if spark is not None:
            fig["dedup"] = []
            print(
                "  dedup_frame (Spark)  recall  prec.  to-kept  cl.pairs  verified (star+window)"
                f"  edges  seconds  per J bin {head}"
            )
            for b, r in bandings:
                row = spark_row(spark, s, _with_banding(cfg, b, r), jac)
                fig["dedup"].append(row)
                verified = (
                    f"{row['pairs_verified']} ({row['pairs_verified_star']}+"
                    f"{row['pairs_verified_window']})"
                )
                print(
                    f"    {row['banding']:<16} {row['recall']:.4f} {row['precision']:.4f}  "
                    f"{row['removed_within_threshold_of_kept']:.4f}   "
                    f"{row['cluster_pair_precision']:.4f}  {verified:<22} "
                    f"{row['verified_edges']:>5} {row['seconds']:>8.1f}  {_bins_text(row['bins'])}"
                )
            old, cur = fig["dedup"]
            print(
                f"    cost of {cur['banding']} vs {old['banding']}: x"
                f"{cur['pairs_verified'] / max(old['pairs_verified'], 1):.2f} pairs verified, "
                f"x{cur['seconds'] / max(old['seconds'], 1e-9):.2f} seconds"
            )
        figures[s.name] = fig
    return figures


def _with_banding(cfg: DedupConfig, bands: int, rows: int) -> DedupConfig:
    from dataclasses import replace

    return replace(cfg, bands=bands, rows=rows)


def _shingle_bytes(text: str, n: int) -> list[bytes]:
    words = M.normalize_for_shingles(text).split()
    if len(words) < n:
        return [" ".join(words).encode()]
    return [" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)]


# --- speed -----------------------------------------------------------------------------------


def _rate(fn, n: int, repeats: int) -> tuple[float, float]:
    """Best docs/s over ``repeats`` runs, by wall clock and by this process's CPU time (the
    box is shared: CPU seconds are what one core delivers when it is not waiting)."""
    wall = cpu = 0.0
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall = max(wall, n / (time.perf_counter() - t))
        cpu = max(cpu, n / max(time.process_time() - c, 1e-9))
    return wall, cpu


def bench_speed(cfg: DedupConfig, repeats: int = 3) -> dict:
    pages = load_pages()
    words = np.mean([len(p.split()) for p in pages])
    M.minhash_signatures(pages[:20], cfg)  # build the per-process tables once
    out = {"pages": len(pages), "mean_words": round(float(words))}
    w, c = _rate(lambda: M.minhash_signatures(pages, cfg), len(pages), repeats)
    out["batch_docs_s_wall"], out["batch_docs_s_cpu"] = round(w), round(c)
    w, c = _rate(lambda: [M.minhash_signature(p, cfg) for p in pages], len(pages), 1)
    out["single_docs_s_wall"], out["single_docs_s_cpu"] = round(w), round(c)
    try:
        from datasketch import MinHash

        sample = pages[: min(400, len(pages))]

        def ds():
            for p in sample:
                m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
                m.update_batch(_shingle_bytes(p, cfg.shingle_size))

        w, c = _rate(ds, len(sample), 1)
        out["datasketch_docs_s_wall"], out["datasketch_docs_s_cpu"] = round(w), round(c)
        out["speedup_batch_vs_datasketch"] = round(
            out["batch_docs_s_cpu"] / out["datasketch_docs_s_cpu"], 1
        )
    except ImportError:  # pragma: no cover
        pass
    print(
        f"signatures on {len(pages)} real pages ({out['mean_words']} words mean), one core, "
        f"docs per CPU-second (wall-clock in brackets): mathmine batch "
        f"{out['batch_docs_s_cpu']} ({out['batch_docs_s_wall']}), one call per doc "
        f"{out['single_docs_s_cpu']} ({out['single_docs_s_wall']}), datasketch update_batch "
        f"{out.get('datasketch_docs_s_cpu')} ({out.get('datasketch_docs_s_wall')}): "
        f"x{out.get('speedup_batch_vs_datasketch')}"
    )
    return out


# --- scale -----------------------------------------------------------------------------------


def make_scale_docs(n: int, out: Path, seed: int = 1) -> dict:
    """n docs of 2-3 windows of real page text each, with planted duplicates:
    2% exact-URL (newer capture, other text), 3% exact text, 5% near (1% word edits)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    words = [p.split() for p in load_pages(min_words=200)]
    out.mkdir(parents=True, exist_ok=True)
    planted = {"url": 0, "text": 0, "near": 0}
    batch = 20_000
    made = 0
    part = 0
    recent: list[tuple[str, str]] = []
    while made < n:
        rows = {"id": [], "url": [], "warc_date": [], "text": []}
        for _ in range(min(batch, n - made)):
            i = made
            kind = rng.random()
            if recent and kind < 0.02:
                src_url, _ = rng.choice(recent)
                w = rng.choice(words)
                s = rng.randrange(max(1, len(w) - 300))
                text, url, date = " ".join(w[s : s + 300]) + f" v{i}", src_url, "2024-06-01"
                planted["url"] += 1
            elif recent and kind < 0.05:
                _, text = rng.choice(recent)
                url, date = f"http://copy{i}.example/p", "2023-01-01"
                planted["text"] += 1
            elif recent and kind < 0.10:
                _, text = rng.choice(recent)
                text = edit_words(text, 0.01, rng)
                url, date = f"http://near{i}.example/p", "2023-01-01"
                planted["near"] += 1
            else:
                parts = []
                for _ in range(rng.choice((2, 3))):
                    w = rng.choice(words)
                    s = rng.randrange(max(1, len(w) - 150))
                    parts.append(" ".join(w[s : s + rng.randint(80, 150)]))
                text = f"doc {i} " + " ".join(parts)
                url, date = f"http://site{i % 5000}.example/{i}", "2022-01-01"
                if len(recent) < 5000:
                    recent.append((url, text))
                else:
                    recent[rng.randrange(5000)] = (url, text)
            rows["id"].append(f"{i:012x}")
            rows["url"].append(url)
            rows["warc_date"].append(date)
            rows["text"].append(text)
            made += 1
        pq.write_table(pa.table(rows), out / f"part-{part:04d}.parquet", compression="zstd")
        part += 1
    return planted


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_scale(n: int, work: Path, driver_memory: str, banding: tuple[int, int] = (0, 0)) -> dict:
    """``mathmine dedup`` on n generated docs (made once per size); ``banding`` (0, 0) = the
    default."""
    docs = work / f"docs-{n}"
    t = time.perf_counter()
    planted = (
        make_scale_docs(n, docs)
        if not docs.exists()
        else json.loads((work / f"planted-{n}.json").read_text())
    )
    (work / f"planted-{n}.json").write_text(json.dumps(planted))
    gen_s = time.perf_counter() - t
    out = work / f"out-{n}-{banding[0]}x{banding[1]}"
    cmd = [
        sys.executable, "-m", "jobs.cli", "dedup", "--input", str(docs), "--out", str(out),
        "--set", "spark.master=local[2]", "--set", f"spark.driver_memory={driver_memory}",
        "--set", f"dedup.bands={banding[0]}", "--set", f"dedup.rows={banding[1]}",
    ]  # fmt: skip
    peak = 0
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.5)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    stdout, stderr = proc.communicate()
    done.set()
    th.join()
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(stderr[-3000:])
        return {"docs": n, "error": proc.returncode}
    report = json.loads((out / "dedup_report.json").read_text())
    res = {
        "docs": n,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak / 2**20),
        "driver_memory": driver_memory,
        "generate_s": round(gen_s, 1),
        "planted": planted,
        "removed": {
            k: report[k] for k in ("exact_url_removed", "exact_text_removed", "near_dup_removed")
        },
        "cc_rounds": report["cc_rounds"],
        "banding": f"{report['bands']}x{report['rows']}",
        **{
            k: report[k]
            for k in (
                "candidate_pairs",
                "candidate_pairs_star",
                "candidate_pairs_window",
                "verified_edges",
                "largest_bucket",
                "buckets_over_window",
            )
        },
        "timings_cumulative": report.get("timings_cumulative"),
    }
    print(
        f"scale {n:>9,} docs, {res['banding']}: {res['wall_s']:>7.1f}s wall, peak RSS "
        f"{res['peak_rss_mb']} MB (driver {driver_memory}); planted {planted}, removed "
        f"{res['removed']}; {res['candidate_pairs']:,} pairs verified "
        f"({res['candidate_pairs_star']:,} star + {res['candidate_pairs_window']:,} window), "
        f"{res['verified_edges']:,} edges, largest bucket {res['largest_bucket']:,} "
        f"({res['buckets_over_window']} over the window), {res['cc_rounds']} CC rounds"
    )
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quality", action="store_true")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--scale", default="", help="comma-separated doc counts, e.g. 100000,300000")
    p.add_argument("--million", action="store_true", help="also run 1,000,000 docs")
    p.add_argument("--base-pages", type=int, default=150, help="real texts per near-dup set")
    p.add_argument("--data", default="", help="the team's data folder (holds math-seeds/)")
    p.add_argument("--no-spark", action="store_true", help="quality: LSH figures only")
    p.add_argument("--driver-memory", default="2g")
    p.add_argument("--work", default="", help="folder for scale data (default: a temp dir)")
    p.add_argument("--json", default="", help="write all figures to this JSON file")
    args = p.parse_args(argv)
    everything = not (args.quality or args.speed or args.scale or args.million)
    cfg = DedupConfig()
    data = args.data or os.environ.get("MATHMINE_BENCH_DATA", "")
    figures = {}
    if args.quality or everything:
        figures["quality"] = bench_quality(
            cfg, Path(data) if data else None, args.base_pages, not args.no_spark
        )
    if args.speed or everything:
        figures["speed"] = bench_speed(cfg)
    sizes = [int(x) for x in args.scale.split(",") if x] or (
        [100_000, 300_000] if everything else []
    )
    if args.million:
        sizes.append(1_000_000)
    if sizes:
        with tempfile.TemporaryDirectory(dir=args.work or None) as tmp:
            # the old banding on the first size: the cost of the extra candidates at scale
            old = run_scale(sizes[0], Path(tmp), args.driver_memory, OLD_BANDING)
            figures["scale"] = [run_scale(n, Path(tmp), args.driver_memory) for n in sizes]
        new = figures["scale"][0]
        if "wall_s" in old and "wall_s" in new:
            print(
                f"  {sizes[0]:,} docs, {new['banding']} vs {old['banding']}: x"
                f"{new['candidate_pairs'] / max(old['candidate_pairs'], 1):.2f} pairs verified, "
                f"x{new['wall_s'] / old['wall_s']:.2f} wall time; near duplicates removed "
                f"{new['removed']['near_dup_removed']:,} vs {old['removed']['near_dup_removed']:,}"
            )
        figures["scale_old_banding"] = old
        rows = [r for r in figures["scale"] if "wall_s" in r]
        if len(rows) > 1:
            base = rows[0]
            for r in rows[1:]:
                print(
                    f"  {r['docs']:,} vs {base['docs']:,} docs: x{r['docs'] / base['docs']:.1f} "
                    f"docs, x{r['wall_s'] / base['wall_s']:.2f} time"
                )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
