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

Near duplicates: LSH bands of the MinHash signatures (bands x rows from ``--plan``), then
verification by exact Jaccard of the shingle sets (``dedup.verify_jaccard``) in two rounds
whose cost is bounded per bucket member (see ``near_dup_labels``), then connected components:
transitive chains A~B~C form one cluster even when A and C are far apart.
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
    "_bands array<bigint>, _sig_reused boolean"
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
    key = F.col("minhash_key").cast("bigint") if "minhash_key" in cols else F.lit(None)
    out.append(key.cast("bigint").alias("minhash_key"))
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


class Checkpoints:
    """Cuts the lineage of the iterative steps (every connected-components round, the edges).

    On a cluster the checkpoints are reliable: written to ``directory`` (``dedup.checkpoint_dir``,
    or the output folder's ``_checkpoints/``: storage every executor can reach, since the
    stage writes its output there), so losing an executor (a spot node, dynamic allocation)
    costs a re-read, not the job; ``localCheckpoint`` keeps blocks on the executors and cannot
    recompute them once the lineage is cut. In local mode with no directory set, executors live
    in the driver's JVM (an executor lost is the job lost anyway), so ``localCheckpoint`` is as
    safe and skips a disk write per round.
    """

    def __init__(self, spark, directory: str = "", owned: bool = False):
        self.spark = spark
        self.directory = directory
        self.owned = owned  # the folder is ours (in the output): removed whole afterwards
        if directory:
            spark.sparkContext.setCheckpointDir(directory)

    @classmethod
    def for_output(cls, spark, cfg: DedupConfig, out: RunFolder | None) -> Checkpoints:
        if cfg.checkpoint_dir:
            return cls(spark, cfg.checkpoint_dir)
        if spark.sparkContext.master.startswith("local") or out is None:
            return cls(spark)
        return cls(spark, out.uri("_checkpoints"), owned=True)

    def __call__(self, df):
        return df.checkpoint(eager=True) if self.directory else df.localCheckpoint(eager=True)

    def describe(self) -> str:
        return f"reliable: {self.directory}" if self.directory else "local"

    def remove(self) -> None:
        """Delete this stage's checkpoint files: the whole folder when it is ours, else only
        Spark's own sub-folder of it (other files in a shared scratch folder stay)."""
        if not self.directory:
            return
        sc = self.spark.sparkContext
        where = sc._jsc.sc().getCheckpointDir()
        if self.owned or where.isDefined():
            path = sc._jvm.org.apache.hadoop.fs.Path(self.directory if self.owned else where.get())
            path.getFileSystem(sc._jsc.hadoopConfiguration()).delete(path, True)


def connected_components(edges, max_iterations: int, checkpoint=None):
    """(node, root) for every node on an edge, root = the smallest node of its component.

    Alternating large-star and small-star (Kiveris et al., "Connected Components in MapReduce
    and Beyond", SoCC 2014) converges in O(log^2 n) rounds to a forest of stars around each
    component's minimum, using only joins and group-bys: nothing is collected to the driver
    and no graph library jar is needed. Each round's edges are checkpointed (``Checkpoints``),
    which cuts the lineage (the plan would otherwise grow with every round). Returns the labels
    and the number of rounds run.
    """
    from pyspark.sql import functions as F

    checkpoint = checkpoint or (lambda df: df.localCheckpoint(eager=True))
    cur = checkpoint(edges.select("u", "v").distinct())
    n_cur = cur.count()
    rounds = 0
    while rounds < max_iterations:
        rounds += 1
        nxt = checkpoint(_small_star(_large_star(cur)))
        n_nxt = nxt.count()
        same = n_nxt == n_cur and nxt.join(cur, ["u", "v"], "left_anti").limit(1).count() == 0
        cur, n_cur = nxt, n_nxt
        if same:
            break
    # at the fixed point every edge is (node, root) with node > root
    labels = cur.groupBy("u").agg(F.min("v").alias("root")).withColumnRenamed("u", "node")
    return labels, rounds


def _verified(pairs, texts, cfg: DedupConfig):
    """The pairs (u, v) whose texts have exact Jaccard >= threshold."""
    from pyspark.sql import functions as F

    joined = (
        pairs.withColumnRenamed("u", "src")
        .withColumnRenamed("v", "dst")
        .join(texts.withColumnRenamed("_node", "src").withColumnRenamed("text", "text_src"), "src")
        .join(texts.withColumnRenamed("_node", "dst").withColumnRenamed("text", "text_dst"), "dst")
        .select("src", "dst", "text_src", "text_dst")
    )
    vschema = "src string, dst string, jaccard double"
    return (
        joined.mapInArrow(functools.partial(_verify_batches, cfg), vschema)
        .where(F.col("jaccard") >= cfg.threshold)
        .select(F.col("src").alias("u"), F.col("dst").alias("v"))
    )


def near_dup_labels(nodes, texts, cfg: DedupConfig, checkpoint) -> tuple:
    """(node, root) of every node in a near-duplicate component, and figures for the report.

    ``nodes`` has ``_node`` and ``_bands`` (the LSH band hashes); ``texts`` ``_node`` and
    ``text``. Two documents sharing a band hash (a bucket) are a candidate pair; the components
    wanted are those of the candidate pairs with exact Jaccard >= threshold (or of all candidate
    pairs without verification). A bucket of k members has k(k-1)/2 pairs, so they are not all
    verified:

    1. star: each member is verified against its bucket's smallest member (k - 1 pairs), and
       the verified edges give first components. Without verification these unverified star
       edges already give the components of all candidate pairs, and the step ends here.
    2. window: a true pair is missing only if its two members are still in different
       components, so each member is verified against the members within ``bucket_window``
       places of it in the bucket (id order) that are in another component, then components
       are taken again over both rounds' edges. Pairs inside one component are never checked:
       a bucket of near duplicates costs k - 1 pairs, one of unrelated template pages at most
       2 x window pairs per member. Buckets of <= window + 1 members are exact; beyond, a
       member can miss a partner more than ``bucket_window`` places away (the report counts
       such buckets).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    bucket = Window.partitionBy("_band", "_h")
    members = checkpoint(
        nodes.select("_node", F.posexplode("_bands").alias("_band", "_h"))
        .withColumn("_k", F.count("*").over(bucket))
        .where(F.col("_k") > 1)
        .withColumn("_m", F.min("_node").over(bucket))
    )
    window = cfg.bucket_window
    sizes = members.agg(
        F.max("_k").alias("largest"),
        F.countDistinct(F.when(F.col("_k") > window + 1, F.struct("_band", "_h"))).alias("over"),
    ).collect()[0]
    star = checkpoint(
        members.where(F.col("_m") != F.col("_node"))
        .select(F.col("_node").alias("u"), F.col("_m").alias("v"))
        .distinct()
    )
    fig = {
        "largest_bucket": int(sizes["largest"] or 0),
        "buckets_over_window": int(sizes["over"] or 0),
        "candidate_pairs_star": star.count(),
        "candidate_pairs_window": 0,
    }
    if not cfg.verify_jaccard:
        labels, fig["cc_rounds"] = connected_components(star, cfg.max_cc_iterations, checkpoint)
        fig["verified_edges"] = None
        return labels, fig
    edges = checkpoint(_verified(star, texts, cfg))
    n_edges = edges.count()
    labels, fig["cc_rounds"] = connected_components(edges, cfg.max_cc_iterations, checkpoint)
    rooted = members.join(labels.withColumnRenamed("node", "_node"), "_node", "left").select(
        "_node", "_band", "_h", F.coalesce("root", "_node").alias("_root")
    )
    near = bucket.orderBy("_node").rowsBetween(-window, -1)
    pairs = checkpoint(
        rooted.withColumn("_near", F.collect_list(F.struct("_node", "_root")).over(near))
        .select("_node", "_root", F.explode("_near"))
        .where(F.col("col._root") != F.col("_root"))
        .select(F.col("_node").alias("u"), F.col("col._node").alias("v"))
        .distinct()
        .join(star, ["u", "v"], "left_anti")
    )
    fig["candidate_pairs_window"] = pairs.count()
    if fig["candidate_pairs_window"]:
        more = checkpoint(_verified(pairs, texts, cfg))
        n_more = more.count()
        if n_more:
            edges = edges.union(more)
            n_edges += n_more
            labels, rounds = connected_components(edges, cfg.max_cc_iterations, checkpoint)
            fig["cc_rounds"] += rounds
    fig["verified_edges"] = n_edges
    return labels, fig


def dedup_frame(spark, docs_df, cfg: DedupConfig, previous_df=None, checkpoint=None):
    """Deduplicate ``docs_df`` (id, text; url, warc_date, minhash, minhash_key when present),
    optionally against ``previous_df`` (earlier runs' docs, same columns), whose documents
    always win. ``checkpoint`` is a :class:`Checkpoints` (default: local checkpoints).

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
    checkpoint = checkpoint or Checkpoints(spark)
    bands, rows = bands_rows(cfg)
    docs = _conform(docs_df, True, cfg.num_perm)
    if previous_df is not None:
        docs = docs.unionByName(_conform(previous_df, False, cfg.num_perm))
    keys = docs.mapInArrow(functools.partial(_keys_batches, cfg, bands, rows), KEYS_DDL)
    keys = keys.persist(StorageLevel.MEMORY_AND_DISK)
    timings = {}
    # materialise: the one Python pass over the texts
    sig_row = keys.agg(
        F.count("*").alias("n"), F.sum(F.col("_sig_reused").cast("int")).alias("reused")
    ).collect()[0]
    n_keys, sigs_reused = sig_row["n"], int(sig_row["reused"] or 0)
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

    # 3. near duplicates among text survivors: LSH buckets -> verified edges -> components
    s2 = s1.where(F.col("_text_win") == F.col("_node"))
    near_fig = {}
    if cfg.near_dup:
        labels, near_fig = near_dup_labels(s2, docs.select("_node", "text"), cfg, checkpoint)
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
    )
    result = checkpoint(result)
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
        "candidate_pairs": (
            near_fig.get("candidate_pairs_star", 0) + near_fig.get("candidate_pairs_window", 0)
        ),
        **{k: near_fig.get(k, 0) for k in ("candidate_pairs_star", "candidate_pairs_window")},
        "verified_edges": near_fig.get("verified_edges"),
        "largest_bucket": near_fig.get("largest_bucket", 0),
        "buckets_over_window": near_fig.get("buckets_over_window", 0),
        "bucket_window": cfg.bucket_window,
        "cc_rounds": near_fig.get("cc_rounds", 0),
        "signatures_reused": sigs_reused if cfg.near_dup else 0,
        "signatures_computed": n_keys - sigs_reused if cfg.near_dup else 0,
        "checkpoints": checkpoint.describe(),
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
        keep = [
            c
            for c in ("id", "text", "url", "warc_date", "minhash", "minhash_key")
            if c in df.columns
        ]
        frames.append(df.select(*keep))
    if not frames:
        return None
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f, allowMissingColumns=True)
    return out


def write_dedup(spark, docs, cfg: DedupConfig, out: RunFolder) -> dict:
    """Dedup ``docs`` (against ``cfg.previous_runs``) into ``out``'s dedup/; the report."""
    previous = read_previous_runs(spark, cfg.previous_runs)
    checkpoint = Checkpoints.for_output(spark, cfg, out)
    try:
        result, report = dedup_frame(spark, docs, cfg, previous, checkpoint)
        result.write.mode("overwrite").parquet(out.uri("dedup"))
    finally:
        checkpoint.remove()
    return report


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
    report = write_dedup(spark, docs, config.dedup, run)
    report["input"] = src
    run.write_json("dedup_report.json", report)
    stats = stats_from_report(report)
    run.update_stats(STAGE, stats)
    run.mark_done(STAGE, report)
    return stats.to_dict()


# --- CLI ----------------------------------------------------------------------------------------


def add_arguments(p) -> None:
    p.add_argument("--input", metavar="DOCS", help="Parquet file or folder with id and text")
    p.add_argument("--out", metavar="DIR", help="writes DIR/dedup/ and DIR/dedup_report.json")
    p.add_argument(
        "--plan",
        action="store_true",
        help="print the LSH bands x rows and the S-curve for the config, then exit",
    )


def format_plan(cfg: DedupConfig) -> str:
    from pipeline.minhash import banding_rule, bands_rows, s_curve

    bands, rows = bands_rows(cfg)
    lines = [
        f"num_perm={cfg.num_perm} threshold={cfg.threshold} shingles={cfg.shingle_size}-word "
        f"verify_jaccard={cfg.verify_jaccard}",
        f"bands x rows = {bands} x {rows} ({bands * rows} of {cfg.num_perm} values used; "
        f"{banding_rule(cfg)})",
        "P(candidate) = 1 - (1 - J^rows)^bands:",
    ]
    lines += [f"  J={j:.2f}  P={p:.4f}" for j, p in s_curve(bands, rows)]
    if cfg.verify_jaccard:
        lines.append(
            "verification: exact Jaccard of each bucket member with the bucket's smallest one, "
            f"then with the members within {cfg.bucket_window} places in another component "
            f"(exact for buckets of <= {cfg.bucket_window + 1} members)"
        )
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
    from jobs.input_checks import check_dedup_input
    from jobs.session import get_spark

    check_dedup_input(args.input, config.dedup.previous_runs, config.io)

    out = RunFolder(args.out, config.io)  # a plain folder or s3:// gs:// URI
    spark = get_spark(config.spark, app_name="mathmine-dedup")
    docs = spark.read.parquet(args.input)
    report = write_dedup(spark, docs, config.dedup, out)
    report["input"] = args.input
    out.write_json("dedup_report.json", report)
    print(json.dumps(report, indent=2))
    return 0
