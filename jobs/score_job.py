"""Score a run folder's docs with a trained fastText math classifier: (id, score) Parquet.

Scoring never touches the docs table; the scores are their own table (default
``scores/manual/`` in the run folder, or ``--out``), joinable on ``id``.
"""

from __future__ import annotations

from jobs.run_folder import RunFolder
from pipeline.config import Config
from pipeline.errors import UserError


def run_score(spark, run: RunFolder, config: Config, model_path: str, out: str = "") -> dict:
    """Score every doc of ``run`` (clean/ else docs/, dedup keep only) with ``model_path`` (a
    local file, or an s3:// gs:// file:// URI such as a cluster run's models/iter=N/model.bin)."""
    import tempfile

    if "://" in model_path:
        # fastText loads models from a path: fetch the model to the driver first
        parent, name = model_path.rstrip("/").rsplit("/", 1)
        src = RunFolder(parent, config.io)
        if not src.exists(name):
            raise UserError(f"model {model_path!r} does not exist; pass a models/iter=N/model.bin")
        with tempfile.TemporaryDirectory(prefix="mathmine-model-") as d:
            local = src.download(f"{d}/{name}", name)
            return {**run_score(spark, run, config, str(local), out), "model": model_path}
    return _score(spark, run, config, model_path, out)


def _score(spark, run: RunFolder, config: Config, model_path: str, out: str) -> dict:
    import os
    import time

    from jobs.recall_job import SparkCorpus, load_recall_docs

    if not os.path.isfile(model_path):
        raise UserError(f"model {model_path!r} does not exist; pass a models/iter=N/model.bin")
    out = out or run.uri("scores", "manual")
    corpus = SparkCorpus(spark, run, load_recall_docs(spark, run), config.recall.max_words)
    try:
        t = time.perf_counter()
        path, name = corpus._ship(os.path.abspath(model_path))
        from jobs.recall_job import ArrowScorer

        (
            corpus.docs.select("id", "text", "formulas", "math_markup")
            .mapInArrow(ArrowScorer(path, name, config.recall.max_words), "id string, score float")
            .write.mode("overwrite")
            .parquet(out)
        )
        seconds = time.perf_counter() - t
        from pyspark.sql import functions as F

        r = (
            spark.read.parquet(out)
            .agg(
                F.count("*").alias("n"),
                F.sum((F.col("score") >= config.recall.threshold).cast("int")).alias("above"),
            )
            .collect()[0]
        )
    finally:
        corpus.close()
    return {
        "docs_scored": int(r["n"]),
        "above_threshold": int(r["above"] or 0),
        "threshold": config.recall.threshold,
        "seconds": round(seconds, 2),
        "out": out,
    }


def add_arguments(p) -> None:
    p.add_argument("--run", required=True, metavar="DIR", help="run folder (with docs/)")
    p.add_argument("--model", required=True, metavar="PATH", help="fastText model.bin")
    p.add_argument(
        "--out",
        default="",
        metavar="TABLE",
        help="output Parquet folder (default: RUN/scores/manual)",
    )


def main(args) -> int:
    import json

    from jobs.input_checks import check_fasttext_model, open_run
    from jobs.session import get_spark

    config, run = open_run(args, "score")
    check_fasttext_model(args.model)
    spark = get_spark(config.spark)
    print(json.dumps(run_score(spark, run, config, args.model, args.out)))
    return 0
