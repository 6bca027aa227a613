"""The clean stage: math-safe quality rules over a run folder's docs/.

  mathmine clean --run DIR [--config FILE] [--set clean.KEY=VALUE]

Reads DIR/docs/, finds cross-page boilerplate lines per registered domain (cc_net-style: a
normalised line on >= clean.boilerplate_min_pages pages of one domain; lines with formulas never
count), applies the rules of pipeline/clean_rules.py to every document and writes DIR/clean/ (the
kept documents, same columns as docs/, cleaned text), DIR/clean_decisions/ (id, url, keep,
reason, lines_in, lines_out, lines_removed, lines_removed_by_rule) and DIR/clean_boilerplate/
(domain, h: each domain's boilerplate line hashes, with which export judges the careful text the
same way). stats.json gets the stage "clean": documents dropped per rule and lines removed per
rule. ``mathmine explain`` shows one document's decision.
"""

from __future__ import annotations

import time

from jobs.docs_table import read_docs
from jobs.run_folder import RunFolder
from pipeline.config import CleanConfig, Config
from pipeline.records import StageStats

STAGE = "clean"
# (domain, h): each registered domain's cross-page boilerplate line hashes; export joins them
# to judge the careful text of that domain's pages with the same line edits
BOILERPLATE = "clean_boilerplate"
DECISION_FIELDS = (
    ("keep", "boolean"),
    ("reason", "string"),
    ("lines_in", "int"),
    ("lines_out", "int"),
    ("lines_removed", "map<string,int>"),
    ("pii_emails", "int"),
    ("pii_ips", "int"),
)


# --- per-batch Python (runs on executors; pickles only the config) -----------------------------


class LineHashBatches:
    """Arrow batches of (id, domain, text) -> (id, domain, h): each page's distinct line hashes."""

    def __init__(self, cfg: CleanConfig):
        self.cfg = cfg

    def __call__(self, batches):
        import pyarrow as pa

        from pipeline.clean_boilerplate import counted_line_hashes

        for b in batches:
            ids, doms, hs = [], [], []
            for i, d, t in zip(
                b.column("id").to_pylist(),
                b.column("domain").to_pylist(),
                b.column("text").to_pylist(),
            ):
                for h in counted_line_hashes(t or "", self.cfg):
                    ids.append(i)
                    doms.append(d)
                    hs.append(h)
            yield pa.RecordBatch.from_arrays(
                [pa.array(ids, pa.string()), pa.array(doms, pa.string()), pa.array(hs, pa.int64())],
                names=["id", "domain", "h"],
            )


class CleanBatches:
    """Arrow batches of docs (+ boilerplate_hashes) -> the same columns with the cleaned text
    (original text for dropped docs) and the decision columns appended."""

    def __init__(self, cfg: CleanConfig, out_names: list[str], has_hashes: bool):
        self.cfg = cfg
        self.out_names = out_names
        self.has_hashes = has_hashes

    def __call__(self, batches):
        import pyarrow as pa

        from pipeline.clean_chain import clean_document

        for b in batches:
            ids = b.column("id").to_pylist()
            urls = b.column("url").to_pylist() if "url" in b.schema.names else [""] * len(ids)
            texts = b.column("text").to_pylist()
            hashes = (
                b.column("boilerplate_hashes").to_pylist() if self.has_hashes else [None] * len(ids)
            )
            new_text, keep, reason, lin, lout, lrem, pe, pi = ([] for _ in range(8))
            for i, u, t, h in zip(ids, urls, texts, hashes):
                doc = {"id": i, "url": u or "", "text": t or "", "boilerplate_hashes": h}
                out, dec = clean_document(doc, self.cfg)
                new_text.append(out["text"] if out is not None else t)
                keep.append(dec.keep)
                reason.append(dec.reason)
                lin.append(dec.lines_in)
                lout.append(dec.lines_out)
                lrem.append(list(dec.lines_removed_by_rule().items()))
                pe.append(dec.pii_emails)
                pi.append(dec.pii_ips)
            cols = {n: b.column(n) for n in b.schema.names if n != "boilerplate_hashes"}
            cols["text"] = pa.array(new_text, pa.string())
            cols["keep"] = pa.array(keep, pa.bool_())
            cols["reason"] = pa.array(reason, pa.string())
            cols["lines_in"] = pa.array(lin, pa.int32())
            cols["lines_out"] = pa.array(lout, pa.int32())
            cols["lines_removed"] = pa.array(lrem, pa.map_(pa.string(), pa.int32()))
            cols["pii_emails"] = pa.array(pe, pa.int32())
            cols["pii_ips"] = pa.array(pi, pa.int32())
            yield pa.RecordBatch.from_arrays(
                [cols[n] for n in self.out_names], names=list(self.out_names)
            )


# --- Spark steps ------------------------------------------------------------------------------


def _with_domain(docs):
    """docs with a non-null ``domain`` column (registered domain of the URL when missing)."""
    from pyspark.sql import functions as F

    if "domain" in docs.columns:
        return docs.withColumn("domain", F.coalesce(F.col("domain"), F.lit("")))
    from pipeline.urls import registered_domain

    reg = F.udf(lambda u: registered_domain(u or ""), "string")
    return docs.withColumn("domain", reg(F.col("url")))


def boilerplate_frame(docs, cfg: CleanConfig, sink=None):
    """(id, boilerplate_hashes): per document, the hashes of its lines that appear on at least
    ``cfg.boilerplate_min_pages`` distinct pages of its registered domain; and the (domain, h)
    table of those lines, passed through ``sink`` (which persists it and returns the written
    table) when given. Nothing is collected to the driver."""
    from pyspark.sql import functions as F

    lines = docs.select("id", "domain", "text").mapInArrow(
        LineHashBatches(cfg), "id string, domain string, h bigint"
    )
    common = (
        lines.where(F.col("domain") != "")
        .groupBy("domain", "h")
        .agg(F.countDistinct("id").alias("pages"))
        .where(F.col("pages") >= cfg.boilerplate_min_pages)
        .select("domain", "h")
    )
    if sink is not None:
        common = sink(common)
    per_doc = (
        lines.join(common, ["domain", "h"])
        .groupBy("id")
        .agg(F.collect_set("h").alias("boilerplate_hashes"))
    )
    return per_doc, common


def clean_frame(docs, cfg: CleanConfig, boilerplate_sink=None):
    """All docs with cleaned ``text`` and the decision columns (keep, reason, lines_in,
    lines_out, lines_removed, pii_emails, pii_ips); the boilerplate (domain, line) count.
    ``boilerplate_sink``: see :func:`boilerplate_frame`."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructField, StructType, _parse_datatype_string

    doc_cols = list(docs.columns)
    n_common = 0
    has_hashes = False
    src = docs
    if cfg.enabled and cfg.boilerplate_lines:
        src = _with_domain(docs)
        per_doc, common = boilerplate_frame(src, cfg, boilerplate_sink)
        n_common = common.count()
        if n_common:
            src = src.join(per_doc, "id", "left")
            has_hashes = True
        src = src.select(*doc_cols, *(["boilerplate_hashes"] if has_hashes else []))
    out_schema = StructType(
        list(docs.schema.fields)
        + [StructField(n, _parse_datatype_string(t)) for n, t in DECISION_FIELDS]
    )
    out_names = [f.name for f in out_schema.fields]
    result = src.mapInArrow(CleanBatches(cfg, out_names, has_hashes), out_schema)
    return result.withColumn("keep", F.col("keep").cast("boolean")), n_common


def stats_from_frame(result, n_common: int, seconds: float) -> StageStats:
    """Per-rule drop counts and per-rule lines removed, in one Spark aggregation."""
    from pyspark.sql import functions as F

    from pipeline.clean_rules import LINE_RULES, lines_removed_counter

    sums = ["lines_in", "lines_out", "pii_emails", "pii_ips"]
    aggs = [F.count("*").alias("n")] + [F.sum(c).alias(c) for c in sums]
    aggs += [
        F.sum(F.coalesce(F.col("lines_removed")[r], F.lit(0))).alias(f"lr_{r}") for r in LINE_RULES
    ]
    stats = StageStats(STAGE)
    totals: dict[str, int] = {}
    for row in result.groupBy("keep", "reason").agg(*aggs).collect():
        if row["keep"]:
            stats.keep(row["n"])
        else:
            stats.drop(row["reason"] or "unknown", row["n"])
        for c in sums + [f"lr_{r}" for r in LINE_RULES]:
            totals[c] = totals.get(c, 0) + int(row[c] or 0)
    for c in sums:
        stats.add(c, totals.get(c, 0))
    for r in LINE_RULES:
        stats.add(lines_removed_counter(r), totals.get(f"lr_{r}", 0))
    stats.add("boilerplate_domain_lines", n_common)
    stats.add("seconds", round(seconds, 2))
    return stats


def run_clean(spark, run: RunFolder, config: Config) -> dict:
    """The clean stage of a run folder: docs/ -> clean/ + clean_decisions/ + stats 'clean'."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    run.require("docs")
    docs = read_docs(spark, run.uri("docs"))
    doc_cols = list(docs.columns)
    run.delete(BOILERPLATE)  # a run without boilerplate lines must not export a stale table

    def persist_boilerplate(common):
        common.write.mode("overwrite").parquet(run.uri(BOILERPLATE))
        return spark.read.parquet(run.uri(BOILERPLATE))

    result, n_common = clean_frame(docs, config.clean, persist_boilerplate)
    result = result.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        result.where(F.col("keep")).select(*doc_cols).write.mode("overwrite").parquet(
            run.uri("clean")
        )
        result.select(
            "id",
            "url",
            "keep",
            "reason",
            "lines_in",
            "lines_out",
            (F.col("lines_in") - F.col("lines_out")).alias("lines_removed"),
            F.col("lines_removed").alias("lines_removed_by_rule"),
        ).write.mode("overwrite").parquet(run.uri("clean_decisions"))
        stats = stats_from_frame(result, n_common, time.perf_counter() - t0)
    finally:
        result.unpersist()
    run.update_stats(STAGE, stats)
    return stats.to_dict()


# --- CLI ----------------------------------------------------------------------------------------


def add_arguments(p) -> None:
    p.add_argument("--run", metavar="DIR", required=True, help="run folder with docs/")


def main(args) -> int:
    import json

    from jobs.input_checks import open_run
    from jobs.session import get_spark

    config, run = open_run(args, STAGE)
    spark = get_spark(config.spark, app_name="mathmine-clean")
    stats = run_clean(spark, run, config)
    run.mark_done(STAGE, stats)
    print(json.dumps(stats, indent=2))
    return 0
