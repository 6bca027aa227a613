"""The DeepSeekMath recall loop over a run folder: train on the driver, score on executors.

Reads clean/ (else docs/), restricted to dedup/ keep==true when dedup/ exists. Per iteration N
writes scores/iter=N/ (id, score) and models/iter=N/ (model.bin, metrics.json, url_paths.tsv,
heldout_scores.parquet); the final selection goes to selected/ (id, math_score).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

from classifiers.features import MAX_WORDS, SCAN_FACTOR
from jobs.run_folder import RunFolder
from pipeline.config import Config
from pipeline.records import SOURCE_EXPAND, StageStats

STAGE = "recall"
SCORE_BATCH = 512


class ArrowScorer:
    """mapInArrow function: (id, text, formulas, math_markup) batches -> (id, score).

    Pickles only the model path (and the SparkFiles name when the model was shipped with
    sc.addFile); the model is loaded once per executor process (classifiers.fasttext_model).
    """

    def __init__(self, model_path: str, spark_file: str = "", max_words: int = MAX_WORDS):
        self.model_path = model_path
        self.spark_file = spark_file
        self.max_words = max_words

    def _path(self) -> str:
        if self.spark_file and not os.path.exists(self.model_path):
            from pyspark import SparkFiles

            return SparkFiles.get(self.spark_file)
        return self.model_path

    def __call__(self, batches):
        import pyarrow as pa

        from classifiers.fasttext_model import MathScorer

        scorer = MathScorer(self._path(), self.max_words)
        for batch in batches:
            cols = batch.to_pydict()
            docs = zip(cols["text"], cols["formulas"], cols["math_markup"])
            scores = scorer.score_many(docs)
            yield pa.RecordBatch.from_arrays(
                [pa.array(cols["id"], pa.string()), pa.array(scores, pa.float32())],
                names=["id", "score"],
            )


def load_recall_docs(spark, run: RunFolder):
    """The docs the loop scores: clean/ (else docs/), dedup keep only, with the columns it needs."""
    from pyspark.sql import functions as F

    from jobs.docs_table import read_docs

    src = "clean" if run.has_parquet("clean") else "docs"
    run.require(src)
    df = read_docs(spark, run.uri(src))
    if run.has_parquet("dedup"):
        keep = spark.read.parquet(run.uri("dedup")).filter(F.col("keep")).select("id")
        df = df.join(keep, "id", "left_semi")
    cols = set(df.columns)
    if "domain" not in cols:
        from pipeline.urls import registered_domain

        df = df.withColumn("domain", F.udf(registered_domain, "string")(F.col("url")))
    formulas = F.col("formulas").cast("int") if "formulas" in cols else F.lit(0)
    markup = F.col("math_markup") if "math_markup" in cols else F.array().cast("array<string>")
    words = (
        F.col("word_count").cast("long")
        if "word_count" in cols
        else F.size(F.split(F.col("text"), r"\s+")).cast("long")
    )
    return df.select(
        "id",
        "url",
        F.coalesce(F.col("domain"), F.lit("")).alias("domain"),
        F.coalesce(F.col("text"), F.lit("")).alias("text"),
        F.coalesce(formulas, F.lit(0)).alias("formulas"),
        F.coalesce(markup, F.array().cast("array<string>")).alias("math_markup"),
        F.coalesce(words, F.lit(0)).alias("tokens"),
        "source",
    )


def expanded_ids(spark, run: RunFolder, docs) -> dict[int, list[str]]:
    """{N: ids of the docs ``mathmine expand`` fetched from iteration N's accepted paths}
    (expand/iter=N/hits.parquet), those of them the loop's docs still hold."""
    from pyspark.sql import functions as F

    frames = [
        spark.read.parquet(run.uri("expand", it, "hits.parquet"))
        .select("url")
        .withColumn("iteration", F.lit(int(it.split("=", 1)[1])))
        for it in run.listdir("expand")
        if it.startswith("iter=") and run.exists("expand", it, "hits.parquet")
    ]
    if not frames:
        return {}
    hits = frames[0]
    for f in frames[1:]:
        hits = hits.unionByName(f)
    rows = (
        docs.where(F.col("source") == SOURCE_EXPAND)
        .select("id", "url")
        .join(hits, "url")
        .groupBy("id")
        .agg(F.min("iteration").alias("iteration"))
        .collect()
    )
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(int(r["iteration"]), []).append(r["id"])
    return {n: sorted(ids) for n, ids in sorted(out.items())}


class SparkCorpus:
    """classifiers.recall_loop.Corpus over a Spark DataFrame of the run's docs."""

    def __init__(self, spark, run: RunFolder, docs, max_words: int = MAX_WORDS):
        self.spark = spark
        self.run = run
        self.docs = docs.persist()
        self.max_words = max_words
        self.scored: dict[int, object] = {}
        self.thresholds: dict[int, float] = {}
        self.forced: dict[int, object] = {}  # ids selected because they sit under accepted paths
        self._n = None
        self._tmp = None

    def count(self) -> int:
        if self._n is None:
            self._n = self.docs.count()
        return self._n

    def _ship(self, model_path: str) -> tuple[str, str]:
        """Local mode: executors read the model where it is. Otherwise: sc.addFile a copy
        under a unique name (Spark refuses two files of one name) for SparkFiles.get."""
        sc = self.spark.sparkContext
        if sc.master.startswith("local"):
            return model_path, ""
        if self._tmp is None:
            # executors fetch added files again for any later task of this session, so the
            # copies must outlive the stage: removed when the driver process exits
            import atexit

            self._tmp = tempfile.mkdtemp(prefix="mathmine-models-")
            atexit.register(shutil.rmtree, self._tmp, True)
        name = f"model-{uuid.uuid4().hex[:12]}.bin"
        shutil.copyfile(model_path, os.path.join(self._tmp, name))
        sc.addFile(os.path.join(self._tmp, name))
        return model_path, name

    def score(self, model_path: str, iteration: int) -> None:
        path, name = self._ship(model_path)
        fn = ArrowScorer(path, name, self.max_words)
        out = self.run.uri("scores", f"iter={iteration}")
        (
            self.docs.select("id", "text", "formulas", "math_markup")
            .mapInArrow(fn, "id string, score float")
            .write.mode("overwrite")
            .parquet(out)
        )
        scores = self.spark.read.parquet(out)
        self.scored[iteration] = (
            self.docs.select("id", "url", "domain", "tokens").join(scores, "id").persist()
        )

    def score_histogram(self, iteration: int):
        from pyspark.sql import functions as F

        rows = (
            self.scored[iteration]
            .groupBy(F.round("score", 4).alias("b"))
            .agg(F.count("*").alias("pages"), F.sum("tokens").alias("tokens"))
            .collect()
        )
        return [(float(r["b"]), int(r["pages"]), int(r["tokens"] or 0)) for r in rows]

    def _selected(self, iteration: int):
        from pyspark.sql import functions as F

        df = self.scored[iteration]
        above = F.col("score") >= F.lit(self.thresholds[iteration])
        forced = self.forced.get(iteration)
        if forced is None:
            return df.withColumn("selected", above)
        df = df.join(forced.withColumn("_forced", F.lit(True)), "id", "left")
        return df.withColumn("selected", above | F.coalesce("_forced", F.lit(False))).drop(
            "_forced"
        )

    def select(self, iteration: int, threshold: float, also=frozenset()) -> tuple[int, int]:
        from pyspark.sql import functions as F

        self.thresholds[iteration] = threshold
        if also:
            self.forced[iteration] = self._ids_df(sorted(also)).persist()
        r = (
            self._selected(iteration)
            .filter("selected")
            .agg(F.count("*").alias("n"), F.sum("tokens").alias("t"))
            .collect()[0]
        )
        return int(r["n"]), int(r["t"] or 0)

    def domain_rows(self, iteration: int) -> dict[str, dict]:
        from pyspark.sql import functions as F

        rows = (
            self._selected(iteration)
            .groupBy("domain")
            .agg(F.count("*").alias("pages"), F.sum(F.col("selected").cast("int")).alias("sel"))
            .collect()
        )
        return {
            r["domain"]: {"pages": r["pages"], "selected": r["sel"], "share": r["sel"] / r["pages"]}
            for r in rows
        }

    def count_selected(self, iteration: int, ids: list[str]) -> tuple[int, int]:
        from pyspark.sql import functions as F

        if not ids:
            return 0, 0
        above = (F.col("score") >= F.lit(self.thresholds[iteration])).cast("int")
        r = (
            self._selected(iteration)
            .join(self._ids_df(ids), "id", "left_semi")
            .agg(F.sum(F.col("selected").cast("int")).alias("sel"), F.sum(above).alias("hi"))
            .collect()[0]
        )
        return int(r["sel"] or 0), int(r["hi"] or 0)

    def url_rows(self, iteration: int, domains: list[str]):
        from pyspark.sql import functions as F

        # only the math-related domains come to the driver: few domains, their pages only
        rows = (
            self._selected(iteration)
            .filter(F.col("domain").isin(domains))
            .select("id", "url", "domain", "selected")
            .collect()
        )
        return [(r["id"], r["url"], r["domain"], bool(r["selected"])) for r in rows]

    def _ids_df(self, ids):
        return self.spark.createDataFrame([(i,) for i in ids], "id string")

    def fetch(self, ids: list[str]) -> list[dict]:
        if not ids:
            return []
        rows = self.docs.join(self._ids_df(ids), "id", "left_semi").collect()
        # collect order follows partitioning: sort so training data (and the model) repeat
        return sorted((r.asDict() for r in rows), key=lambda d: d["id"])

    def overlap(self, iteration: int, previous: int) -> tuple[int, int]:
        cur = self._selected(iteration).filter("selected").select("id")
        prev = self._selected(previous).filter("selected").select("id")
        common = cur.join(prev, "id", "left_semi").count()
        return cur.count() - common, common

    def sample_negatives(self, n, exclude_ids, skip_math, previous, seed) -> list[dict]:
        from pyspark.sql import functions as F

        pool = self.docs
        if exclude_ids:
            pool = pool.join(self._ids_df(sorted(exclude_ids)), "id", "left_anti")
        if previous in self.scored:
            prev = self._selected(previous).filter("selected").select("id")
            pool = pool.join(prev, "id", "left_anti")
        if skip_math:
            pool = pool.filter((F.col("formulas") == 0) & (F.size("math_markup") == 0))
        total = pool.count()
        if total == 0 or n == 0:
            return []
        if total > n:
            # a seeded hash order, not sample().limit(): the same n docs whatever the
            # partitioning (Spark plans orderBy+limit as a top-k per partition, no full sort)
            pool = pool.orderBy(F.xxhash64(F.lit(seed), "id"), "id").limit(n)
        # only what the classifier reads travels to the driver (500K negatives x whole pages
        # would not fit): SCAN_FACTOR x max_words words are at most ~8 chars each here
        head = F.substring("text", 1, SCAN_FACTOR * self.max_words * 8).alias("text")
        rows = pool.select("id", head, "formulas", "math_markup").collect()
        return sorted((r.asDict() for r in rows), key=lambda d: d["id"])

    def write_selected(self, iteration: int) -> int:
        from pyspark.sql import functions as F

        sel = (
            self._selected(iteration)
            .filter("selected")
            .select("id", F.col("score").cast("float").alias("math_score"))
        )
        sel.write.mode("overwrite").parquet(self.run.uri("selected"))
        return self.spark.read.parquet(self.run.uri("selected")).count()

    def close(self) -> None:
        for df in list(self.scored.values()) + list(self.forced.values()):
            df.unpersist()
        self.docs.unpersist()


def run_recall(
    spark,
    run: RunFolder,
    config: Config,
    seeds=None,
    iterations=None,
    accept_paths=None,
) -> dict:
    """Run the recall loop over ``run``; returns (and records) the stage's stats."""
    from classifiers.domains import read_accept_file
    from classifiers.recall_loop import run_loop
    from classifiers.seeds import load_bundled_negatives, load_heldout, load_seeds
    from jobs.progress import say

    cfg = config.recall
    seed_uris = list(seeds) if seeds else list(cfg.seeds)
    pos = load_seeds(seed_uris, config.io, limit=cfg.max_positives)
    negs = load_bundled_negatives() if cfg.bundled_negatives else []
    heldout = load_heldout()
    accept_file = accept_paths or cfg.accept_paths
    accepted = read_accept_file(accept_file) if accept_file else None

    # a re-run replaces the loop's outputs: stale iterations of an earlier, longer run would
    # otherwise sit next to this run's and mislead the notebook and export
    for sub in ("models", "scores"):
        for old in run.listdir(sub):
            if old.startswith("iter="):
                run.delete(sub, old)
    run.delete("selected")

    corpus = SparkCorpus(spark, run, load_recall_docs(spark, run), cfg.max_words)
    expanded = expanded_ids(spark, run, corpus.docs)
    # fastText reads and writes files by path: the loop writes models/ into a driver-local
    # folder (the run folder itself when local), copied to an object-store run folder after
    with run.scratch("models") as models_dir:
        try:
            history = run_loop(
                corpus,
                cfg,
                models_dir,
                pos,
                negs,
                heldout,
                iterations=iterations,
                accept_paths=accepted,
                log=say,
                expanded=expanded,
            )
            last = history[-1]
            n_selected = corpus.write_selected(last["iteration"])
        finally:
            corpus.close()
        run.upload_dir(models_dir, "models")

    stats = StageStats(STAGE)
    stats.keep(n_selected)
    stats.drop("below_threshold", last["docs_scored"] - n_selected)
    stats.add("iterations", len(history))
    stats.add("tokens_selected", last["tokens_selected"])
    out = stats.to_dict()
    out["threshold"] = last["threshold"]
    out["heldout"] = [
        {
            "iteration": m["iteration"],
            **{
                name: {k: fig.get(k) for k in ("recall", "precision", "pr_auc")}
                for name, fig in m["heldout"].items()
            },
        }
        for m in history
    ]
    run.write_json("models/summary.json", {"iterations": history})
    run.update_stats(STAGE, out)
    return out


def add_arguments(p) -> None:
    p.add_argument("--run", required=True, metavar="DIR", help="run folder (with docs/)")
    p.add_argument(
        "--seeds",
        nargs="+",
        metavar="URI",
        help="OpenWebMath-shaped JSONL(.gz)/Parquet seed files (text, url): local, s3://, https://;"
        " default: the bundled seeds",
    )
    p.add_argument("--iterations", type=int, help="at most this many iterations")
    p.add_argument(
        "--accept-paths",
        metavar="FILE",
        help="reviewed url_paths.tsv (accepted column) or a list of host/path prefixes",
    )


def main(args) -> int:
    from jobs.input_checks import open_run
    from jobs.progress import say
    from jobs.session import get_spark

    config, run = open_run(args, STAGE)
    spark = get_spark(config.spark)
    stats = run_recall(
        spark,
        run,
        config,
        seeds=args.seeds,
        iterations=args.iterations,
        accept_paths=args.accept_paths,
    )
    run.mark_done(STAGE)
    for h in stats["heldout"]:
        for name in ("dev", "test"):
            if name in h:
                f = h[name]
                say(
                    f"[recall] iter {h['iteration']}: {name} recall {f['recall']} precision "
                    f"{f['precision']} PR-AUC {f['pr_auc']}"
                )
    say(
        f"[recall] selected {stats['kept']:,} of {stats['records_read']:,} docs -> {run.uri('selected')}"
    )
    return 0
