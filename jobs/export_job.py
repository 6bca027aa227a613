"""Export a run's selected math pages as pretraining shards: the judged careful text,
decontamination against benchmarks, token counts, zstd Parquet shards of a target size and
shards/_manifest.json.

Input: ``selected/`` (id, math_score) joined with ``docs/`` (the fast text, the fallback). A
run folder without ``selected/`` exports every kept doc (``clean/`` and ``dedup/`` keep=true if
present) with a null math_score, so the stage still works on a partial run; stats.json says
which selection was used.

The text that ships (:mod:`pipeline.shard_text`, docs/text-that-ships.md): each selected
record is re-read from its WARC and gets the careful extraction; the cleaning chain of the
clean stage (``pipeline.clean_chain.clean_document``, with the domain's cross-page boilerplate
lines from ``clean_boilerplate/``) judges that text, and exactly the text it returns ships. A
page the rules now drop is not exported and is counted as ``rules:<rule>``. When the record
cannot be re-read or the careful extractor finds no text, the fast text is judged and ships
with ``text_source`` = ``fast_fallback:<reason>``, counted in stats.json. Every input row gets
a row in ``export_decisions/`` (keep, reason, text_source, formulas) for the ledger.

Two passes, both restartable:
1. one Spark task per group of WARCs re-reads each selected record (each WARC opened once per
   task, records in file order), makes and judges its text, decontaminates and counts tokens,
   and writes ``_export_tmp/rows/part-<n>.parquet`` and ``export_decisions/part-<n>.parquet``
   atomically with its counters;
2. the driver streams those rows ordered by id (or by the seeded shuffle key) through
   ``toLocalIterator`` into :class:`pipeline.shards.ShardWriter`; since the order depends only on
   the ids, the shards are the same however the data was partitioned.
The new shards and manifest are built under ``_export_tmp/`` and swapped in for ``shards/`` at
the end, so a crash leaves either the old shards or the new ones, never a mix, and a re-run
starts the export over and writes exactly the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import pipeline
from jobs.clean_job import BOILERPLATE
from jobs.run_folder import RunFolder, write_in_batches
from pipeline.config import Config, ExportConfig, IOConfig
from pipeline.errors import UserError
from pipeline.records import StageStats

STAGE = "export"
# shipped as package data of pipeline/ (pyproject: pipeline = ["data/*"]), wheel or checkout
BUNDLED_GSM8K = Path(pipeline.__file__).resolve().parent / "data" / "gsm8k_test.jsonl.gz"
TMP = "_export_tmp"
KEY = "_key"
ROWS_PER_TASK = 20_000  # more selected docs than this per task -> more tasks than WARC groups
INPUT_COLUMNS = (
    "id",
    "url",
    "text",
    "lang",
    "warc_path",
    "warc_offset",
    "warc_date",
    "formulas",
    "domain",
)
CONTAMINATED = "contaminated:"
DUPLICATE_ID = "duplicate_id"  # a second capture of the same URL + payload (never exported twice)
COPY = "_copy"
TEXT_SOURCE = "text_source:"  # stats key prefix: rows per shard text_source
DECISIONS = "export_decisions"  # one row per input row: what export did with it (the ledger's)


def _decisions_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("warc_path", pa.string()),
            ("warc_offset", pa.int64()),
            ("keep", pa.bool_()),
            ("reason", pa.string()),  # duplicate_id, rules:<rule>, contaminated:<benchmark>
            ("text_source", pa.string()),  # as in the shards (null for duplicate_id)
            ("formulas_fast", pa.int32()),  # docs/ formulas (the fast path's)
            ("formulas_before", pa.int32()),  # in the text the rules judged
            ("formulas_out", pa.int32()),  # in the shipped text (0 if not shipped)
        ]
    )


# --- benchmarks -------------------------------------------------------------------------
def benchmark_name(uri: str) -> str:
    base = uri.rstrip("/").rsplit("/", 1)[-1]
    for suf in (".gz", ".jsonl", ".json", ".parquet"):
        if base.endswith(suf):
            base = base[: -len(suf)]
    return base or uri


def read_benchmark_rows(uri: str, io_cfg: IOConfig | None = None) -> list[dict]:
    """Rows of a JSONL(.gz) or Parquet benchmark file at a local path or any URI."""
    from infra.storage import read_rows

    return list(read_rows(uri, io_cfg, "benchmark", fix="; check export.benchmarks"))


def load_benchmarks(cfg: ExportConfig, io_cfg: IOConfig | None = None) -> dict[str, list[str]]:
    """``{benchmark name: texts}`` for ``cfg.benchmarks`` (entries ``URI`` or ``NAME=URI``);
    none configured = the bundled GSM8K test set (questions and answers)."""
    from pipeline.decontam import benchmark_texts_from_rows

    entries = list(cfg.benchmarks) or [f"gsm8k_test={BUNDLED_GSM8K}"]
    out: dict[str, list[str]] = {}
    for entry in entries:
        name, uri = entry.split("=", 1) if "=" in entry.split("://")[0] else ("", entry)
        name = name or benchmark_name(uri)
        texts = benchmark_texts_from_rows(read_benchmark_rows(uri, io_cfg), cfg.benchmark_fields)
        if not texts:
            raise UserError(
                f"benchmark {uri!r} has no text in fields {list(cfg.benchmark_fields)}; "
                "set export.benchmark_fields"
            )
        out.setdefault(name, []).extend(texts)
    return out


def build_index(cfg: ExportConfig, io_cfg: IOConfig | None = None):
    from pipeline.decontam import NormalizeConfig, build_ngram_index

    return build_ngram_index(
        load_benchmarks(cfg, io_cfg),
        n=cfg.ngram,
        min_exact_tokens=cfg.min_exact_tokens,
        norm=NormalizeConfig(cfg.decontam_lowercase, cfg.decontam_strip_punctuation),
    )


# --- per record ---------------------------------------------------------------------------
def careful_available() -> bool:
    """Whether the careful re-extraction modules (WARC reader, extractor, charset) exist."""
    import importlib.util

    return all(
        importlib.util.find_spec(f"pipeline.{m}") is not None
        for m in ("warc", "html_text", "charset")
    )


class RereadFailed(Exception):
    """The record could not be read back from its WARC at the recorded offset."""


def open_warc(path: str, config: Config):
    """A binary stream of the WARC at ``path`` (local or remote), to re-read records from."""
    from infra.storage import open_uri

    return open_uri(path, config.io)


def reread_html(stream, row: dict, config: Config) -> str:
    """The decoded HTML of the record at ``row``'s offset; raises RereadFailed if the record
    cannot be read back (or another record sits there)."""
    from pipeline.charset import decode_html
    from pipeline.warc import read_record_at

    rec = read_record_at(stream, int(row["warc_offset"]), row["warc_path"], config.extract)
    body = getattr(rec, "body", None)
    if body is None or getattr(rec, "url", row["url"]) != row["url"]:
        raise RereadFailed(getattr(rec, "detail", "") or "a different record at this offset")
    html, _ = decode_html(body, getattr(rec, "content_type", ""))
    return html


def decision_row(row: dict, reason: str | None, st=None) -> dict:
    """One export_decisions/ row: what export did with ``row`` (a docs/ row)."""
    return {
        "id": row["id"],
        "warc_path": row["warc_path"],
        "warc_offset": row.get("warc_offset"),
        "keep": reason is None,
        "reason": reason,
        "text_source": st.source if st is not None else None,
        "formulas_fast": row.get("formulas"),
        "formulas_before": st.formulas_before if st is not None else 0,
        "formulas_out": st.formulas if st is not None and reason is None else 0,
    }


@dataclass(frozen=True)
class ExportTask:
    """Runs on an executor for one partition (rows grouped by WARC, in file order).

    Pickles the config, the run folder path, the broadcast index handle (or None) and the
    token counter (its path only).
    """

    config: Config
    run_path: str
    index: Any  # pyspark Broadcast of NgramIndex, an NgramIndex, or None
    counter: Any  # pipeline.tokens.TokenCounter
    max_samples: int = 20

    def _index(self):
        return getattr(self.index, "value", self.index)

    def iter_export(self, rows, stats: StageStats, samples: dict, opener=None, decisions=None):
        """Spark-free core: yields the shard rows of ``rows`` (docs/ rows with their domain's
        ``boilerplate_hashes``, grouped by warc_path, in file order), counting into ``stats``
        and ``samples`` ({benchmark: n-grams}) and appending one :func:`decision_row` per row
        to ``decisions`` (a list, if given). A generator, so a task holds one row at a time
        whatever its partition's size.

        Each row's text: the careful text of its re-read record, judged by the cleaning chain
        (:func:`pipeline.shard_text.make_shard_text`); the fast text, judged the same way and
        labelled ``fast_fallback:<reason>``, when the careful text cannot be made.
        """
        from pipeline.clean_rules import LINE_RULES
        from pipeline.decontam import find_contamination
        from pipeline.shard_text import CAREFUL_UNAVAILABLE, FAST, REREAD_FAILED, make_shard_text
        from pipeline.shards import shuffle_key

        cfg = self.config.export
        index = self._index() if cfg.decontaminate else None
        if decisions is None:
            decisions = []
        if opener is None:

            def opener(path):
                return open_warc(path, self.config)

        careful = cfg.careful and careful_available()
        if cfg.careful and not careful:
            stats.add("careful_unavailable_tasks", 1)
        for warc_path, group in groupby(rows, key=lambda r: r["warc_path"]):
            stream = None
            open_failed = False
            try:
                for row in group:
                    if row.get(COPY, 1) > 1:
                        stats.drop(DUPLICATE_ID)
                        decisions.append(decision_row(row, DUPLICATE_ID))
                        continue
                    html, why = None, None
                    if not careful:
                        why = CAREFUL_UNAVAILABLE if cfg.careful else FAST
                    else:
                        try:
                            if stream is None and not open_failed:
                                stream = opener(warc_path)
                            if stream is None:
                                raise RereadFailed("WARC not readable")
                            html = reread_html(stream, row, self.config)
                        except Exception:  # one bad record must not fail the export
                            why = REREAD_FAILED
                            if stream is None:
                                open_failed = True
                    st = make_shard_text(row, self.config, html, why, row.get("boilerplate_hashes"))
                    stats.add(TEXT_SOURCE + st.source, 1)
                    if st.text is None:
                        stats.drop(st.drop_reason)
                        decisions.append(decision_row(row, st.drop_reason, st))
                        continue
                    text = st.text
                    if index is not None:
                        hits = find_contamination(text, index, max_matches=3)
                        if hits:
                            bench = hits[0][0]
                            stats.drop(CONTAMINATED + bench)
                            decisions.append(decision_row(row, CONTAMINATED + bench, st))
                            lst = samples.setdefault(bench, [])
                            if len(lst) < self.max_samples:
                                lst.append(hits[0][1])
                            continue
                    n_tokens = self.counter(text)
                    stats.keep()
                    stats.add("tokens", n_tokens)
                    dec = st.decision
                    stats.add("pii_emails_replaced", dec.pii_emails)
                    stats.add("pii_ips_replaced", dec.pii_ips)
                    removed = dec.lines_removed_by_rule()
                    for rule in LINE_RULES:
                        stats.add(f"lines_removed_{rule}", removed.get(rule, 0))
                    decisions.append(decision_row(row, None, st))
                    yield {
                        "id": row["id"],
                        "url": row["url"],
                        "text": text,
                        "lang": row.get("lang"),
                        "math_score": row.get("math_score"),
                        "token_count": n_tokens,
                        "token_kind": self.counter.kind,
                        "warc_path": row["warc_path"],
                        "warc_offset": row.get("warc_offset"),
                        "warc_date": row.get("warc_date"),
                        "formulas": st.formulas,
                        "domain": row.get("domain"),
                        "text_source": st.source,
                        KEY: shuffle_key(cfg.shuffle_seed, row["id"])
                        if cfg.shuffle_seed >= 0
                        else 0,
                    }
            finally:
                if stream is not None:
                    stream.close()

    def __call__(self, part_index: int, rows):
        import pyarrow as pa
        import pyarrow.parquet as pq

        from pipeline.shards import SHARD_SCHEMA

        stats = StageStats(STAGE)
        samples: dict[str, list[str]] = {}
        decisions: list[dict] = []
        schema = SHARD_SCHEMA.append(pa.field(KEY, pa.int64()))
        run = RunFolder(self.run_path, self.config.io)
        # local: temp file + rename; object store: the final key, written once complete
        with run.open_output(TMP, "rows", f"part-{part_index:05d}.parquet") as sink:
            with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
                docs = self.iter_export((r.asDict() for r in rows), stats, samples, None, decisions)
                write_in_batches(writer, docs, schema)
        with run.open_output(DECISIONS, f"part-{part_index:05d}.parquet") as sink:
            table = pa.Table.from_pylist(decisions, _decisions_schema())
            pq.write_table(table, sink, compression="zstd")
        yield json.dumps({"stats": stats.to_dict(), "samples": samples})


# --- driver -------------------------------------------------------------------------------
def select_input(spark, run: RunFolder):
    """(DataFrame of the rows to export with INPUT_COLUMNS + math_score + boilerplate_hashes,
    how it was selected). The text is always docs/' fast text (the careful text is made from
    the WARC record; the fast text is the fallback): clean/ and dedup/ only say which rows."""
    from pyspark.sql import functions as F

    if not run.has_parquet("docs"):
        return None, "empty"
    docs = spark.read.parquet(run.uri("docs")).select(*INPUT_COLUMNS)
    if run.has_parquet("selected"):
        sel = spark.read.parquet(run.uri("selected")).select(
            "id", F.col("math_score").cast("double")
        )
        docs, how = docs.join(sel.dropDuplicates(["id"]), "id", "inner"), "selected+docs"
    else:
        how = "all_docs"
        for table, label in (("clean", "+clean_keep"), ("dedup", "+dedup_keep")):
            if run.has_parquet(table):
                ids = spark.read.parquet(run.uri(table))
                if "keep" in ids.columns:
                    ids = ids.where("keep")
                docs = docs.join(ids.select("id").dropDuplicates(), "id", "inner")
                how += label
        docs = docs.withColumn("math_score", F.lit(None).cast("double"))
    return _mark_duplicate_ids(with_boilerplate(spark, run, docs)), how


def with_boilerplate(spark, run: RunFolder, docs):
    """``docs`` with ``boilerplate_hashes``: the cross-page boilerplate line hashes of each
    row's registered domain, as the clean stage found them (clean_boilerplate/), so the rules
    judge the careful text with the same line edits as the fast text. Joined per domain in
    Spark; nothing goes through the driver."""
    from pyspark.sql import functions as F

    if not run.has_parquet(BOILERPLATE):
        return docs.withColumn("boilerplate_hashes", F.lit(None).cast("array<bigint>"))
    per_domain = (
        spark.read.parquet(run.uri(BOILERPLATE))
        .groupBy("domain")
        .agg(F.collect_list("h").alias("boilerplate_hashes"))
    )
    return docs.join(per_domain, "domain", "left")


def _mark_duplicate_ids(docs):
    """Add ``_copy`` (1 = the copy exported): the same id (URL + payload digest) captured in
    two WARCs is one document; the newest capture wins, ties broken by file and offset so the
    choice never depends on partitioning."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy("id").orderBy(
        F.col("warc_date").desc_nulls_last(), "warc_path", "warc_offset"
    )
    return docs.withColumn(COPY, F.row_number().over(w))


def _merge_results(results: list[str]) -> tuple[StageStats, dict[str, list[str]]]:
    stats = StageStats(STAGE)
    samples: dict[str, list[str]] = {}
    for r in results:
        d = json.loads(r)
        stats = stats + StageStats.from_dict(STAGE, d["stats"])
        for b, grams in d["samples"].items():
            samples.setdefault(b, []).extend(grams)
    return stats, samples


def _swap_in(new: Path, final: Path) -> None:  # local filesystems only
    """Replace the folder ``final`` by ``new`` with two renames (old copy removed after)."""
    old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def publish_shards(run: RunFolder, rows, cfg: ExportConfig, manifest_extra: dict) -> list:
    """Cut ``rows`` (shard-row dicts in their final order) into ``shards/`` + _manifest.json.

    Local (path or file://): built in _export_tmp/shards and swapped in with renames, so a
    reader sees the old shards or the new ones. Object stores cannot rename: the old manifest
    goes first, then the old shards; the new shards are written in place and _manifest.json
    last, so a shards/ prefix without a manifest is an unfinished export (and the stage
    marker is missing too: a re-run redoes it).
    """
    from pipeline.shards import LEGACY_MANIFEST, MANIFEST, ShardWriter, write_manifest

    local = run.on_local_disk
    if local:
        parts = (TMP, "shards")
        os.makedirs(run.fs_path(*parts), exist_ok=True)
    else:
        parts = ("shards",)
        run.delete("shards", MANIFEST)
        run.delete("shards", LEGACY_MANIFEST)
        run.delete("shards")

    def open_output(name: str):
        return run.open_output(*parts, name)

    writer = ShardWriter(open_output, cfg.shard_bytes, cfg.shard_rows, cfg.compression)
    with writer:
        for r in rows:
            writer.write(r)
    write_manifest(open_output, writer.shards, manifest_extra)
    if local:
        _swap_in(Path(run.fs_path(*parts)), Path(run.fs_path("shards")))
    return writer.shards


def check_export_config(cfg: ExportConfig) -> None:
    """Fail before any work on settings the shard writer would only reject at the end."""
    import pyarrow as pa

    if cfg.shard_rows <= 0 and cfg.shard_bytes <= 0:
        raise UserError("set export.shard_bytes or export.shard_rows to a value > 0")
    try:
        ok = cfg.compression == "none" or pa.Codec.is_available(cfg.compression)
    except (ValueError, TypeError, pa.ArrowException):
        ok = False
    if not ok:
        raise UserError(
            f"export.compression {cfg.compression!r} is not a Parquet codec available here; "
            "use zstd (default), snappy, gzip, brotli, lz4 or none"
        )


def run_export(spark, run: RunFolder, config: Config, force: bool = False) -> dict:
    """The export stage (see the module docstring); returns its stats (also in stats.json)."""
    from jobs.progress import say, stage_progress
    from pipeline.shards import MANIFEST, upgrade_legacy_manifest, verify_manifest
    from pipeline.tokens import make_token_counter

    cfg = config.export
    check_export_config(cfg)
    if run.is_done(STAGE):
        upgrade_legacy_manifest(run.fs_path("shards"), run.fs)  # a folder of an older version
    if not force and run.is_done(STAGE) and not verify_manifest(run.fs_path("shards"), run.fs):
        run.delete(TMP)  # left by a killed --force re-export
        say("[export] done earlier, skipped")
        return run.read_json("stats.json", {}).get(STAGE, {})
    t0 = time.perf_counter()
    run.delete(TMP)  # left by an interrupted export: start over, same result
    run.delete(DECISIONS)  # rewritten whole by this export's tasks
    counter = make_token_counter(cfg.tokenizer)
    index = build_index(cfg, config.io) if cfg.decontaminate else None
    if index is not None:
        say(f"[export] decontamination index: {len(index):,} hashes of {list(index.names)}")
    df, how = select_input(spark, run)
    results: list[str] = []
    if df is not None:
        n_warcs = df.select("warc_path").distinct().count()
        n_rows = df.count()
        want = max(spark.sparkContext.defaultParallelism * 4, -(-n_rows // ROWS_PER_TASK))
        parts = max(1, min(n_warcs, want))
        grouped = df.repartition(parts, "warc_path").sortWithinPartitions(
            "warc_path", "warc_offset"
        )
        bc = spark.sparkContext.broadcast(index) if index is not None else None
        task = ExportTask(config, run.location, bc, counter)
        with stage_progress(spark, STAGE):
            results = grouped.rdd.mapPartitionsWithIndex(task).collect()
        if bc is not None:
            bc.unpersist()
    stats, samples = _merge_results(results)

    def ordered_rows():
        if run.has_parquet(TMP, "rows"):
            rows = spark.read.parquet(run.uri(TMP, "rows"))
            order = [KEY, "id"] if cfg.shuffle_seed >= 0 else ["id"]
            for r in rows.orderBy(*order).drop(KEY).toLocalIterator(prefetchPartitions=True):
                yield r.asDict()

    manifest_extra = {
        **counter.describe(),
        "order": f"shuffle(seed={cfg.shuffle_seed})" if cfg.shuffle_seed >= 0 else "id",
        "selection": how,
        "compression": cfg.compression,
        "target_bytes": cfg.shard_bytes if cfg.shard_rows <= 0 else None,
        "target_rows": cfg.shard_rows if cfg.shard_rows > 0 else None,
        "decontamination": index.summary() if index is not None else None,
    }
    shards = publish_shards(run, ordered_rows(), cfg, manifest_extra)
    run.delete(TMP)

    out = text_source_stats(stats.to_dict())
    out["selection"] = how
    out["token_kind"] = counter.kind
    out["shards"] = len(shards)
    out["shard_rows"] = sum(s.rows for s in shards)
    out["shard_bytes"] = sum(s.bytes for s in shards)
    out["decontamination"] = {
        name: {
            "removed": stats.dropped.get(CONTAMINATED + name, 0),
            "sample_ngrams": sorted(samples.get(name, []))[:20],
        }
        for name in (index.names if index is not None else ())
    }
    out["seconds"] = round(time.perf_counter() - t0, 2)
    run.update_stats(STAGE, out)
    run.mark_done(STAGE, {"manifest": run.uri("shards", MANIFEST), "rows": out["kept"]})
    say(
        f"[export] {stats.records_read:,} docs: {stats.kept:,} exported, "
        f"{sum(stats.dropped.values()):,} dropped {dict(stats.dropped)}; "
        f"{out['shards']} shards, {int(out.get('tokens', 0)):,} {counter.kind}; "
        f"text_source {out['text_source']}"
    )
    from jobs.ledger_job import run_ledger

    run_ledger(spark, run)
    return out


def text_source_stats(d: dict) -> dict:
    """Stats with the flat ``text_source:<source>`` counters folded into ``text_source``
    ({source: rows judged}) and ``fallback`` ({reason: rows whose fast text was judged})."""
    from pipeline.shard_text import FAST_FALLBACK

    out = {k: v for k, v in d.items() if not k.startswith(TEXT_SOURCE)}
    sources = {k[len(TEXT_SOURCE) :]: int(v) for k, v in d.items() if k.startswith(TEXT_SOURCE)}
    out["text_source"] = dict(sorted(sources.items()))
    out["fallback"] = {
        k[len(FAST_FALLBACK) :]: v
        for k, v in sorted(sources.items())
        if k.startswith(FAST_FALLBACK)
    }
    return out


def add_arguments(p) -> None:
    p.add_argument("--run", required=True, metavar="DIR", help="the run folder to export")
    p.add_argument("--force", action="store_true", help="export again even if already done")


def main(args) -> int:
    from jobs.input_checks import check_run_input, open_run
    from jobs.session import get_spark

    config, run = open_run(args)
    if run.read_run() is None and not run.exists("docs"):
        raise UserError(f"{run.location!r} is not a run folder (no run.json or docs/)")
    check_run_input(run, STAGE, INPUT_COLUMNS)  # before Spark: one line, not stack traces
    spark = get_spark(config.spark)
    try:
        stats = run_export(spark, run, config, force=args.force)
    finally:
        spark.stop()
    from pipeline.shards import read_manifest

    manifest = read_manifest(run.fs_path("shards"), run.fs) or {}
    totals = manifest.get("totals", {})
    print(
        f"shards: {totals.get('shards', 0)} files, {totals.get('rows', 0):,} docs, "
        f"{totals.get('tokens', 0):,} {manifest.get('token_kind', '')}, "
        f"{totals.get('bytes', 0):,} bytes in {run.uri('shards')}; "
        "contaminated docs removed: "
        f"{sum(v for k, v in stats.get('dropped', {}).items() if k.startswith(CONTAMINATED))}"
    )
    from pipeline.ledger import format_ledger

    for line in format_ledger(run.read_json("stats.json", {}).get("ledger") or {}):
        print(line)
    return 0
