"""Exact URL dedup, exact-text dedup and MinHash-LSH near-duplicate clustering, all in Spark.

  mathmine dedup --input DOCS --out DIR [--config FILE] [--set dedup.KEY=VALUE] [--plan]

DOCS is a Parquet file or folder with at least ``id`` and ``text`` (``url``, ``warc_date`` and
``minhash`` are used when present). Writes DIR/dedup/ (Parquet: id, cluster_id, keep, reason)
and DIR/dedup_report.json. ``--plan`` prints the LSH bands x rows and the S-curve and exits.

Which document is kept: documents of earlier runs (``dedup.previous_runs``) always win over this
run's; among the same URL the newest capture (``warc_date``) wins, ties to the smallest id; among
equal texts and within a near-duplicate cluster the smallest id wins. ``cluster_id`` is the id
of the document kept for the cluster (a kept singleton's own id; an earlier run's document id
when this run's document duplicates one).

Near duplicates: LSH bands of the MinHash signatures (bands x rows from ``--plan``), each bucket
member linked to the bucket's smallest member (and, when verifying, to its predecessor), pairs
verified by exact Jaccard of the shingle sets (``dedup.verify_jaccard``), then connected
components: transitive chains A~B~C form one cluster even when A and C are far apart.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

from jobs.docs_table import read_docs
from jobs.run_folder import RunFolder
from pipeline.config import Config, DedupConfig
from pipeline.errors import UserError
from pipeline.records import StageStats

STAGE = "dedup"
URL_DUP, TEXT_DUP, NEAR_DUP = "url_dup", "text_dup", "near_dup"
# the Spark schema of pipeline.dedup.key_schema()
KEYS_DDL = (
    "_node string, id string, _new int, _url string, _date string, _text bigint, "
    "_bands array<bigint>"
)


# --- per-batch Python (runs on executors; pickles only the config) -----------------------------


def _keys_batches(cfg: DedupConfig, bands: int, rows: int, batches):
    from pipeline.dedup import dedup_keys

    for b in batches:
        yield dedup_keys(b, cfg, bands, rows)


def _verify_batches(cfg: DedupConfig, batches):
    from pipeline.dedup import verify_pairs

    for b in batches:
        yield verify_pairs(b, cfg)


# --- Spark steps ------------------------------------------------------------------------------


def _conform(df, new: bool, num_perm: int):
    """The columns dedup needs, with nulls for the optional ones a table lacks."""
    from pyspark.sql import functions as F

    cols = set(df.columns)
    missing = {"id", "text"} - cols
    if missing:
        raise UserError(
            f"the docs table has no {', '.join(sorted(missing))} column(s) (it has: "
            f"{', '.join(sorted(cols))}); dedup needs at least id and text"
        )
    flag = 1 if new else 0
    out = [
        F.concat(F.lit(f"{flag}:"), F.col("id").cast("string")).alias("_node"),
        F.col("id").cast("string").alias("id"),
        F.lit(flag).cast("int").alias("_new"),
        F.col("text").cast("string").alias("text"),
        (F.col("url").cast("string") if "url" in cols else F.lit(None).cast("string")).alias("url"),
        (
            F.col("warc_date").cast("string") if "warc_date" in cols else F.lit(None).cast("string")
        ).alias("warc_date"),
    ]
    if "minhash" in cols:
        out.append(F.col("minhash").cast("array<bigint>").alias("minhash"))
    else:
        out.append(F.lit(None).cast("array<bigint>").alias("minhash"))
    return df.select(*out)


def _large_star(edges):
    """Connect every neighbour larger than u to the smallest node of u's neighbourhood."""
    from pyspark.sql import functions as F

    both = edges.union(edges.select(F.col("v").alias("u"), F.col("u").alias("v")))
    mins = both.groupBy("u").agg(F.least(F.min("v"), F.col("u")).alias("m"))
    return (
        both.join(mins, "u")
        .where(F.col("v") > F.col("u"))
        .select(F.col("v").alias("u"), F.col("m").alias("v"))
        .distinct()
    )


def _small_star(edges):
    """Connect u and its smaller neighbours to the smallest of them."""
    from pyspark.sql import functions as F

    down = edges.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v")).where(
        F.col("u") != F.col("v")
    )
    mins = down.groupBy("u").agg(F.min("v").alias("m"))
    moved = down.join(mins, "u").select(F.col("v").alias("u"), F.col("m").alias("v"))
    return (
        moved.union(mins.select("u", F.col("m").alias("v")))
        .where(F.col("u") != F.col("v"))
        .distinct()
    )


def connected_components(edges, max_iterations: int):
    """(node, root) for every node on an edge, root = the smallest node of its component.

    Alternating large-star and small-star (Kiveris et al., "Connected Components in MapReduce
    and Beyond", SoCC 2014) converges in O(log^2 n) rounds to a forest of stars around each
    component's minimum, using only joins and group-bys: nothing is collected to the driver
    and no graph library jar is needed. Each round's edges are locally checkpointed, which
    cuts the lineage (the plan would otherwise grow with every round). Returns the labels and
    the number of rounds run.
    """
    from pyspark.sql import functions as F

    cur = edges.select("u", "v").distinct().localCheckpoint()
    n_cur = cur.count()
    rounds = 0
    while rounds < max_iterations:
        rounds += 1
        nxt = _small_star(_large_star(cur)).localCheckpoint()
        n_nxt = nxt.count()
        same = n_nxt == n_cur and nxt.join(cur, ["u", "v"], "left_anti").limit(1).count() == 0
        cur, n_cur = nxt, n_nxt
        if same:
            break
    # at the fixed point every edge is (node, root) with node > root
    labels = cur.groupBy("u").agg(F.min("v").alias("root")).withColumnRenamed("u", "node")
    return labels, rounds


def dedup_frame(spark, docs_df, cfg: DedupConfig, previous_df=None):
    """Deduplicate ``docs_df`` (id, text; url, warc_date, minhash when present), optionally
    against ``previous_df`` (earlier runs' docs, same columns), whose documents always win.

    Returns ``(result_df, report)``: one row per document of ``docs_df`` with ``id``,
    ``cluster_id`` (the id of the document kept for its cluster), ``keep`` and ``reason``
    (url_dup, text_dup, near_dup or null), and the report dict. Every step is a Spark
    operation; the report holds only aggregates.
    """
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from pipeline.minhash import bands_rows

    t0 = time.perf_counter()
    bands, rows = bands_rows(cfg)
    docs = _conform(docs_df, True, cfg.num_perm)
    if previous_df is not None:
        docs = docs.unionByName(_conform(previous_df, False, cfg.num_perm))
    keys = docs.mapInArrow(functools.partial(_keys_batches, cfg, bands, rows), KEYS_DDL)
    keys = keys.persist(StorageLevel.MEMORY_AND_DISK)
    timings = {}
    n_keys = keys.count()  # materialise: the one Python pass over the texts
    timings["keys_s"] = round(time.perf_counter() - t0, 2)

    # 1. exact URL: earlier runs first, then the newest capture, then the smallest id
    if cfg.url_dedup:
        # docs without a URL get a key of their own: no giant window partition of nulls
        url_key = F.coalesce("_url", F.concat(F.lit("\0"), "_node"))
        w = Window.partitionBy(url_key).orderBy("_new", F.col("_date").desc_nulls_last(), "_node")
        keys = keys.withColumn(
            "_url_win",
            F.when(F.col("_url").isNull(), F.col("_node")).otherwise(F.first("_node").over(w)),
        )
    else:
        keys = keys.withColumn("_url_win", F.col("_node"))

    # 2. exact text among URL survivors: the smallest node (earlier runs sort first)
    s1 = keys.where(F.col("_url_win") == F.col("_node"))
    if cfg.exact_text:
        s1 = s1.withColumn("_text_win", F.min("_node").over(Window.partitionBy("_text")))
    else:
        s1 = s1.withColumn("_text_win", F.col("_node"))
    s1 = s1.select("_node", "_text_win", "_bands").persist(StorageLevel.MEMORY_AND_DISK)

    # 3. near duplicates among text survivors: LSH buckets -> star edges -> components
    s2 = s1.where(F.col("_text_win") == F.col("_node"))
    n_edges = n_verified = 0
    cc_rounds = 0
    if cfg.near_dup:
        # Each bucket member links to the bucket's smallest node: a star, O(members) edges
        # instead of all O(members^2) pairs, and the same components. When edges are verified
        # one failed star edge would cut a member loose, so members also link to their
        # predecessor in the bucket (a second, independent path; still O(members)).
        banded = s2.select("_node", F.posexplode("_bands").alias("_band", "_h"))
        bucket = Window.partitionBy("_band", "_h")
        linked = banded.withColumn("_m", F.min("_node").over(bucket))
        star = linked.where(F.col("_m") != F.col("_node")).select(
            F.col("_node").alias("u"), F.col("_m").alias("v")
        )
        if cfg.verify_jaccard:
            prev = F.lag("_node").over(bucket.orderBy("_node"))
            chain = (
                linked.where(F.col("_m") != F.col("_node"))
                .select(F.col("_node").alias("u"), prev.alias("v"))
                .where(F.col("v").isNotNull() & (F.col("v") != F.col("_m")))
            )
            star = star.union(chain.select("u", "v"))
        edges = star.distinct().localCheckpoint()
        n_edges = edges.count()
        timings["candidates_s"] = round(time.perf_counter() - t0, 2)
        if cfg.verify_jaccard:
            texts = docs.select("_node", "text")
            pairs = (
                edges.withColumnRenamed("u", "src")
                .withColumnRenamed("v", "dst")
                .join(
                    texts.withColumnRenamed("_node", "src").withColumnRenamed("text", "text_src"),
                    "src",
                )
                .join(
                    texts.withColumnRenamed("_node", "dst").withColumnRenamed("text", "text_dst"),
                    "dst",
                )
                .select("src", "dst", "text_src", "text_dst")
            )
            vschema = "src string, dst string, jaccard double"
            edges = (
                pairs.mapInArrow(functools.partial(_verify_batches, cfg), vschema)
                .where(F.col("jaccard") >= cfg.threshold)
                .select(F.col("src").alias("u"), F.col("dst").alias("v"))
                .localCheckpoint()
            )
            n_verified = edges.count()
        labels, cc_rounds = connected_components(edges, cfg.max_cc_iterations)
        timings["components_s"] = round(time.perf_counter() - t0, 2)
        near = s2.select("_node").join(labels.withColumnRenamed("node", "_node"), "_node", "left")
        near = near.select("_node", F.coalesce("root", "_node").alias("_near_root"))
    else:
        near = s2.select("_node", F.col("_node").alias("_near_root"))

    # resolve each node's final root: url winner -> its text winner -> that one's near root
    s1_final = (
        s1.select("_node", "_text_win")
        .join(near.withColumnRenamed("_node", "_text_win"), "_text_win", "left")
        .select("_node", "_text_win", F.col("_near_root").alias("_s1_root"))
    )
    res = (
        keys.select("_node", "id", "_new", "_url_win")
        .join(
            s1_final.withColumnRenamed("_node", "_url_win").withColumnRenamed(
                "_text_win", "_tw_of_url_win"
            ),
            "_url_win",
            "left",
        )
        .join(s1_final.select("_node", "_text_win"), "_node", "left")
        .where(F.col("_new") == 1)
    )
    reason = (
        F.when(F.col("_url_win") != F.col("_node"), F.lit(URL_DUP))
        .when(F.col("_text_win") != F.col("_node"), F.lit(TEXT_DUP))
        .when(F.col("_s1_root") != F.col("_node"), F.lit(NEAR_DUP))
    )
    result = res.select(
        "id",
        F.expr("substring(_s1_root, 3)").alias("cluster_id"),
        reason.isNull().alias("keep"),
        reason.alias("reason"),
    ).localCheckpoint()
    timings["resolve_s"] = round(time.perf_counter() - t0, 2)
    keys.unpersist()
    s1.unpersist()

    counts = {
        r["reason"]: r["n"] for r in result.groupBy("reason").agg(F.count("*").alias("n")).collect()
    }
    sizes = (
        result.groupBy("cluster_id")
        .agg(F.count("*").alias("n"))
        .agg(
            F.sum(F.when(F.col("n") > 1, 1).otherwise(0)).alias("clusters"),
            F.max("n").alias("largest"),
        )
        .collect()[0]
    )
    docs_in = sum(counts.values())
    report = {
        "docs_in": docs_in,
        "exact_url_removed": counts.get(URL_DUP, 0),
        "exact_text_removed": counts.get(TEXT_DUP, 0),
        "near_dup_removed": counts.get(NEAR_DUP, 0),
        "kept": counts.get(None, 0),
        "clusters": int(sizes["clusters"] or 0),
        "largest_cluster": int(sizes["largest"] or 0),
        "bands": bands,
        "rows": rows,
        "threshold": cfg.threshold,
        "num_perm": cfg.num_perm,
        "shingle_size": cfg.shingle_size,
        "candidate_edges": n_edges,
        "verified_edges": n_verified if cfg.verify_jaccard else None,
        "cc_rounds": cc_rounds,
        "previous_runs": list(cfg.previous_runs),
        "docs_with_previous": n_keys,
        "timings_cumulative": timings,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return result, report


def read_previous_runs(spark, paths):
    """The docs of earlier run folders (clean/ when present, else docs/), or None."""
    frames = []
    for p in paths:
        run = RunFolder(p)
        src = "clean" if run.exists("clean") else "docs"
        if not run.exists(src):
            raise UserError(
                f"dedup.previous_runs: {p!r} has no docs/ or clean/ table; pass run folders "
                "written by `mathmine run` (or remove the entry)"
            )
        df = spark.read.parquet(run.uri(src))
        keep = [c for c in ("id", "text", "url", "warc_date", "minhash") if c in df.columns]
        frames.append(df.select(*keep))
    if not frames:
        return None
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f, allowMissingColumns=True)
    return out


def stats_from_report(report: dict) -> StageStats:
    st = StageStats(STAGE)
    st.keep(report["kept"])
    for reason, key in (
        (URL_DUP, "exact_url_removed"),
        (TEXT_DUP, "exact_text_removed"),
        (NEAR_DUP, "near_dup_removed"),
    ):
        if report[key]:
            st.drop(reason, report[key])
    st.add("clusters", report["clusters"])
    return st


def run_dedup(spark, run: RunFolder, config: Config) -> dict:
    """The dedup stage of a run folder: clean/ (or docs/) -> dedup/ + dedup_report.json."""
    src = "clean" if run.exists("clean") else "docs"
    run.require(src)
    docs = read_docs(spark, run.uri(src))
    previous = read_previous_runs(spark, config.dedup.previous_runs)
    result, report = dedup_frame(spark, docs, config.dedup, previous)
    result.write.mode("overwrite").parquet(run.uri("dedup"))
    report["input"] = src
    run.write_json("dedup_report.json", report)
    stats = stats_from_report(report)
    run.update_stats(STAGE, stats)
    run.mark_done(STAGE, report)
    return stats.to_dict()


# --- CLI ----------------------------------------------------------------------------------------


def add_arguments(p) -> None:
    from jobs.cli import add_config_arguments

    p.add_argument("--input", metavar="DOCS", help="Parquet file or folder with id and text")
    p.add_argument("--out", metavar="DIR", help="writes DIR/dedup/ and DIR/dedup_report.json")
    p.add_argument(
        "--plan",
        action="store_true",
        help="print the LSH bands x rows and the S-curve for the config, then exit",
    )
    add_config_arguments(p)


def format_plan(cfg: DedupConfig) -> str:
    from pipeline.minhash import bands_rows, lsh_fn_weight, s_curve

    bands, rows = bands_rows(cfg)
    chosen = (
        "set in the config"
        if cfg.bands and cfg.rows
        else (f"chosen for false-negative weight {lsh_fn_weight(cfg)}")
    )
    lines = [
        f"num_perm={cfg.num_perm} threshold={cfg.threshold} shingles={cfg.shingle_size}-word "
        f"verify_jaccard={cfg.verify_jaccard}",
        f"bands x rows = {bands} x {rows} ({bands * rows} of {cfg.num_perm} values used, {chosen})",
        "P(candidate) = 1 - (1 - J^rows)^bands:",
    ]
    lines += [f"  J={j:.2f}  P={p:.4f}" for j, p in s_curve(bands, rows)]
    return "\n".join(lines)


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def main(args) -> int:
    from pipeline.config import load_config

    config = load_config(args.config, args.overrides)
    if args.plan:
        print(format_plan(config.dedup))
        return 0
    if not args.input or not args.out:
        raise UserError("pass --input DOCS (a Parquet file or folder) and --out DIR (or --plan)")
    if _is_local(args.input) and not Path(args.input.removeprefix("file://")).exists():
        raise UserError(f"input {args.input!r} does not exist; pass a Parquet file or folder")
    from jobs.session import get_spark

    out = RunFolder(args.out, config.io)  # a plain folder or s3:// gs:// URI
    spark = get_spark(config.spark, app_name="mathmine-dedup")
    docs = spark.read.parquet(args.input)
    previous = read_previous_runs(spark, config.dedup.previous_runs)
    result, report = dedup_frame(spark, docs, config.dedup, previous)
    result.write.mode("overwrite").parquet(out.uri("dedup"))
    report["input"] = args.input
    out.write_json("dedup_report.json", report)
    print(json.dumps(report, indent=2))
    return 0
