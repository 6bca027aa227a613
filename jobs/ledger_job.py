"""The math-retention ledger of a run folder (stats.json "ledger"), computed in Spark.

Joins docs/ (fast-path formulas and math markup per page) with what each later stage recorded
per document: clean_decisions/ (keep, rule), dedup/ (keep, reason), selected/ and
export_decisions/ (keep, reason, text_source, formulas in the judged and the shipped text).
Every docs/ row gets one fate (:func:`pipeline.ledger.doc_fate`); the fates are summed per
(stage, reason) and per registered domain in Spark, and only those sums reach the driver. The
extract stage's own counters (math pages dropped per reason) come from stats.json.
"""

from __future__ import annotations

from jobs.run_folder import RunFolder

STAGE = "ledger"


def _by_id(spark, run: RunFolder, table: str, keep: str, reason: str):
    """(id, <keep>, <reason>) of a per-document table, one row per id (a page captured twice
    has one decision per capture; they agree, the text being the same)."""
    from pyspark.sql import functions as F

    t = spark.read.parquet(run.uri(table))
    why = F.col("reason") if "reason" in t.columns else F.lit(None).cast("string")
    return t.groupBy("id").agg(
        F.max(F.col("keep").cast("boolean")).alias(keep), F.max(why).alias(reason)
    )


def fate_frame(spark, run: RunFolder):
    """docs/ rows with ``math``, ``formulas``, ``domain``, the fate (``stage``, ``reason``)
    and the export's formula counts; and which stage tables exist."""
    from pyspark.sql import functions as F

    from pipeline.ledger import doc_fate

    docs = spark.read.parquet(run.uri("docs")).select(
        "id",
        "warc_path",
        "warc_offset",
        F.coalesce("domain", F.lit("")).alias("domain"),
        F.coalesce("formulas", F.lit(0)).alias("formulas"),
        (
            (F.coalesce("formulas", F.lit(0)) > 0)
            | (F.size(F.coalesce("math_markup", F.array())) > 0)
        ).alias("math"),
    )
    tables = {
        "clean": run.has_parquet("clean_decisions"),
        "dedup": run.has_parquet("dedup"),
        "selection": run.has_parquet("selected"),
        "export": run.has_parquet("export_decisions"),
    }
    if tables["clean"]:
        docs = docs.join(
            _by_id(spark, run, "clean_decisions", "clean_keep", "clean_reason"), "id", "left"
        )
    if tables["dedup"]:
        docs = docs.join(_by_id(spark, run, "dedup", "dedup_keep", "dedup_reason"), "id", "left")
    if tables["selection"]:
        sel = spark.read.parquet(run.uri("selected")).select("id").distinct()
        docs = docs.join(sel.withColumn("selected", F.lit(True)), "id", "left")
    if tables["export"]:
        ex = spark.read.parquet(run.uri("export_decisions")).select(
            "id",
            "warc_path",
            "warc_offset",
            F.col("keep").alias("export_keep"),
            F.col("reason").alias("export_reason"),
            "text_source",
            "formulas_before",
            "formulas_out",
        )
        docs = docs.join(ex, ["id", "warc_path", "warc_offset"], "left")
    args = [
        "clean_keep",
        "clean_reason",
        "dedup_keep",
        "dedup_reason",
        "selected",
        "export_keep",
        "export_reason",
        "text_source",
    ]
    present = set(docs.columns)
    cols = [F.col(a) if a in present else F.lit(None) for a in args]
    frozen = dict(tables)

    def fate(*values):
        return doc_fate(frozen, *values)

    fate_udf = F.udf(fate, "struct<stage:string,reason:string>")
    out = docs.withColumn("_fate", fate_udf(*cols)).select(
        "id",
        "domain",
        "math",
        "formulas",
        F.col("_fate.stage").alias("stage"),
        F.col("_fate.reason").alias("reason"),
        *(
            F.coalesce(c, F.lit(0)).alias(c) if c in present else F.lit(0).alias(c)
            for c in ("formulas_before", "formulas_out")
        ),
    )
    return out, tables


def ledger_aggregates(fates):
    """(fate rows, per-page retention, top domains by formulas lost): Spark sums, collected."""
    from pyspark.sql import functions as F

    from pipeline.ledger import (
        DUPLICATE_REASONS,
        PAGE_RETENTION_TARGET,
        PENDING,
        SHIPPED,
        TOP_DOMAINS,
    )

    rows = [
        r.asDict()
        for r in fates.groupBy("stage", "reason", "math")
        .agg(
            F.count("*").alias("pages"),
            F.sum("formulas").alias("formulas"),
            F.sum("formulas_before").alias("formulas_before"),
            F.sum("formulas_out").alias("formulas_out"),
        )
        .collect()
    ]
    shipped = fates.where((F.col("stage") == SHIPPED) & (F.col("formulas") > 0))
    share = F.least(F.col("formulas_out") / F.col("formulas"), F.lit(1.0))
    pp = shipped.agg(
        F.count("*").alias("pages"),
        F.avg(share).alias("mean"),
        F.sum((share < PAGE_RETENTION_TARGET).cast("int")).alias("below_target"),
    ).first()
    per_page = {
        "pages": int(pp["pages"] or 0),
        "mean": round(float(pp["mean"]), 4) if pp["mean"] is not None else None,
        "below_target": int(pp["below_target"] or 0),
        "target": PAGE_RETENTION_TARGET,
    }
    dup = F.col("stage").isin("dedup", "export") & F.col("reason").isin(*DUPLICATE_REASONS)
    counted = fates.where(~dup & (F.col("stage") != PENDING))
    lost = F.when(F.col("stage") == SHIPPED, F.col("formulas") - F.col("formulas_out")).otherwise(
        F.col("formulas")
    )
    where = {"clean": "clean", "selection": "selection", "export": "export drop"}  # -> lost_at
    aggs = [
        F.sum("formulas").alias("formulas"),
        F.sum("formulas_out").alias("shipped"),
        F.sum(lost).alias("lost"),
        F.sum(F.when(F.col("stage") == SHIPPED, lost).otherwise(0)).alias("export text"),
    ]
    aggs += [
        F.sum(F.when(F.col("stage") == s, lost).otherwise(0)).alias(name)
        for s, name in where.items()
    ]
    top = (
        counted.groupBy("domain")
        .agg(*aggs)
        .where(F.col("lost") > 0)
        .orderBy(F.col("lost").desc(), "domain")
        .limit(TOP_DOMAINS)
        .collect()
    )
    domains = []
    for r in top:
        d = r.asDict()
        lost_at = {k: int(d.pop(k) or 0) for k in ["export text", *where.values()]}
        d.update({k: int(v or 0) for k, v in d.items() if k != "domain"})
        d["lost_at"] = {k: v for k, v in lost_at.items() if v}
        domains.append(d)
    return rows, per_page, domains


def run_ledger(spark, run: RunFolder) -> dict:
    """Compute the ledger of ``run`` and write it to stats.json under "ledger"."""
    from pipeline.ledger import build_ledger

    if not run.has_parquet("docs"):
        return {}
    fates, tables = fate_frame(spark, run)
    rows, per_page, domains = ledger_aggregates(fates)
    extract = run.read_json("stats.json", {}).get("extract", {})
    ledger = build_ledger(extract, rows, tables, domains, per_page)
    run.update_stats(STAGE, ledger)
    return ledger
