"""Dedup benchmark: near-duplicate quality, signature speed, and scale through `mathmine dedup`.

  python -m benchmarks.bench_dedup [--quality] [--speed] [--scale 100000,300000] [--million]

With no section flag all three run (scale at 100k and 300k docs; --million adds 1M).

Quality: a labelled set built from the real page texts in tests/data/dedup (base pages that are
not near each other, plus derived copies with known word edit rates); ground truth is the exact
Jaccard of the 5-word shingle sets of every pair inside a family (pairs across families are far
below 0.8 because the base pages were chosen pairwise J < 0.3 and copies edit at most 20%).
Pairs with J >= threshold are the positives; reported for mathmine's LSH (candidates alone,
after the signature estimate filter, after exact verification) and datasketch's MinHashLSH
beside it.

Speed: signatures per second on one core on the real page texts, shingling included, against
datasketch ``MinHash.update_batch`` on the same shingles, in the same run.

Scale: synthetic documents made of windows of real page text with planted exact-URL, exact-text
and near duplicates, through ``mathmine dedup`` on local[2] with a fixed driver memory; wall
time and peak RSS of the whole process tree (driver JVM + Python workers) for each size.
"""

from __future__ import annotations

import argparse
import gzip
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

from pipeline import minhash as M
from pipeline.config import DedupConfig

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "dedup"
EDIT_RATES = (0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2)


def load_pages(min_words: int = 0) -> list[str]:
    pages = [json.loads(x)["text"] for x in gzip.open(DATA / "pages.jsonl.gz", "rt")]
    return [p for p in pages if len(p.split()) >= min_words]


def edit_words(text: str, rate: float, rng: random.Random) -> str:
    """Replace each word with a fresh token with probability ``rate``."""
    return " ".join(
        w if rng.random() >= rate else f"zq{rng.randrange(10**9)}" for w in text.split()
    )


# --- quality ---------------------------------------------------------------------------------


def build_labelled_set(cfg: DedupConfig, n_base: int, seed: int = 1):
    rng = random.Random(seed)
    pages = load_pages(min_words=150)
    rng.shuffle(pages)
    sets = []
    base = []
    for p in pages:  # greedy: keep pages that are not near any kept one
        s = set(M.shingle_set(p, cfg).tolist())
        if all(len(s & t) / len(s | t) < 0.3 for t in sets):
            base.append(p)
            sets.append(s)
        if len(base) == n_base:
            break
    docs, family = [], []
    for f, p in enumerate(base):
        docs.append(p)
        family.append(f)
        for rate in EDIT_RATES:
            docs.append(edit_words(p, rate, rng))
            family.append(f)
    shingles = [set(M.shingle_set(d, cfg).tolist()) for d in docs]
    truth = {}
    members = defaultdict(list)
    for i, f in enumerate(family):
        members[f].append(i)
    for idx in members.values():
        for a, b in itertools.combinations(idx, 2):
            sa, sb = shingles[a], shingles[b]
            truth[(a, b)] = len(sa & sb) / len(sa | sb)
    return docs, shingles, truth


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


def score(found: set, truth: dict, threshold: float) -> dict:
    positives = {p for p, j in truth.items() if j >= threshold}
    tp = len(found & positives)
    return {
        "found": len(found),
        "positives": len(positives),
        "recall": round(tp / max(len(positives), 1), 4),
        "precision": round(tp / max(len(found), 1), 4),
    }


def bench_quality(cfg: DedupConfig, n_base: int) -> dict:
    t0 = time.perf_counter()
    docs, shingles, truth = build_labelled_set(cfg, n_base)
    js = np.array(list(truth.values()))
    print(
        f"labelled set: {len(docs)} docs ({n_base} real pages x {len(EDIT_RATES) + 1}), "
        f"{len(truth)} in-family pairs, {int((js >= cfg.threshold).sum())} with J >= "
        f"{cfg.threshold}; J quartiles {np.percentile(js, [25, 50, 75]).round(3).tolist()} "
        f"(built in {time.perf_counter() - t0:.1f}s)"
    )
    sigs = M.minhash_signatures(docs, cfg)
    results = {}

    def add(name, found):
        # a pair across families (J < 0.3 by construction) is a false positive when found
        full = {p: truth.get(p, 0.0) for p in found}
        results[name] = score(set(found), {**truth, **full}, cfg.threshold)
        r = results[name]
        print(
            f"  {name:<46} recall {r['recall']:.4f}  precision {r['precision']:.4f}  "
            f"({r['found']} pairs found, {r['positives']} positives)"
        )

    for label, weights in (
        ("default S-curve", (0.5, 0.5)),
        ("recall-weighted S-curve", (0.1, 0.9)),
    ):
        b, r = M.choose_bands_rows(cfg.num_perm, cfg.threshold, weights)
        cand = lsh_pairs(M.band_hashes(sigs, b, r))
        print(f" mathmine LSH, {label}: bands x rows = {b} x {r}")
        add(f"mathmine {b}x{r} candidates", cand)
        add(
            f"mathmine {b}x{r} + estimate >= threshold",
            {p for p in cand if M.estimate_jaccard(sigs[p[0]], sigs[p[1]]) >= cfg.threshold},
        )
        add(
            f"mathmine {b}x{r} + exact verification",
            {
                p
                for p in cand
                if len(shingles[p[0]] & shingles[p[1]]) / len(shingles[p[0]] | shingles[p[1]])
                >= cfg.threshold
            },
        )
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:  # pragma: no cover
        print("  datasketch not installed: skipped")
        return results
    mh = []
    for d in docs:
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        m.update_batch(_shingle_bytes(d, cfg.shingle_size))
        mh.append(m)
    for weights in ((0.5, 0.5), (0.1, 0.9)):
        lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm, weights=weights)
        for i, m in enumerate(mh):
            lsh.insert(i, m)
        found = set()
        for i, m in enumerate(mh):
            for j in lsh.query(m):
                if j != i:
                    found.add((min(i, j), max(i, j)))
        print(
            f" datasketch MinHashLSH(threshold={cfg.threshold}, weights={weights}) "
            f"bands x rows = {lsh.b} x {lsh.r}"
        )
        tag = f"datasketch {lsh.b}x{lsh.r}"
        add(f"{tag} candidates", found)
        add(
            f"{tag} + estimate >= threshold",
            {p for p in found if mh[p[0]].jaccard(mh[p[1]]) >= cfg.threshold},
        )
        add(
            f"{tag} + exact verification",
            {
                p
                for p in found
                if len(shingles[p[0]] & shingles[p[1]]) / len(shingles[p[0]] | shingles[p[1]])
                >= cfg.threshold
            },
        )
    return results


def _shingle_bytes(text: str, n: int) -> list[bytes]:
    words = M.normalize_text(text).split()
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


def run_scale(n: int, work: Path, driver_memory: str) -> dict:
    docs = work / f"docs-{n}"
    t = time.perf_counter()
    planted = make_scale_docs(n, docs)
    gen_s = time.perf_counter() - t
    out = work / f"out-{n}"
    cmd = [
        sys.executable, "-m", "jobs.cli", "dedup", "--input", str(docs), "--out", str(out),
        "--set", "spark.master=local[2]", "--set", f"spark.driver_memory={driver_memory}",
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
        "timings_cumulative": report.get("timings_cumulative"),
    }
    print(
        f"scale {n:>9,} docs: {res['wall_s']:>7.1f}s wall, peak RSS {res['peak_rss_mb']} MB "
        f"(driver {driver_memory}); planted {planted}, removed {res['removed']}, "
        f"{res['cc_rounds']} CC rounds"
    )
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quality", action="store_true")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--scale", default="", help="comma-separated doc counts, e.g. 100000,300000")
    p.add_argument("--million", action="store_true", help="also run 1,000,000 docs")
    p.add_argument("--base-pages", type=int, default=300)
    p.add_argument("--driver-memory", default="2g")
    p.add_argument("--work", default="", help="folder for scale data (default: a temp dir)")
    p.add_argument("--json", default="", help="write all figures to this JSON file")
    args = p.parse_args(argv)
    everything = not (args.quality or args.speed or args.scale or args.million)
    cfg = DedupConfig()
    figures = {}
    if args.quality or everything:
        figures["quality"] = bench_quality(cfg, args.base_pages)
    if args.speed or everything:
        figures["speed"] = bench_speed(cfg)
    sizes = [int(x) for x in args.scale.split(",") if x] or (
        [100_000, 300_000] if everything else []
    )
    if args.million:
        sizes.append(1_000_000)
    if sizes:
        with tempfile.TemporaryDirectory(dir=args.work or None) as tmp:
            figures["scale"] = [run_scale(n, Path(tmp), args.driver_memory) for n in sizes]
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
