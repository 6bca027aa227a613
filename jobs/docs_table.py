"""docs/ (and clean/, which has its columns) as a Spark DataFrame, whatever version wrote it.

A run folder can hold docs/ files of two versions: files written before a column existed
(``source``) beside files with it (``mathmine expand`` adds its pages to an older run).
Spark takes one file's schema unless asked to merge them, and would then drop the column or
leave it null; this reader merges the schemas and fills ``source`` with ``crawl`` where a file
has none (a WARC the run read: the only source before expand).
"""

from __future__ import annotations

from pipeline.records import SOURCE_CRAWL


def read_docs(spark, uri: str):
    """The docs table at ``uri`` with every column of every file and a non-null ``source``."""
    from pyspark.sql import functions as F

    df = spark.read.option("mergeSchema", "true").parquet(uri)
    source = F.coalesce(F.col("source"), F.lit(SOURCE_CRAWL)) if "source" in df.columns else None
    return df.withColumn("source", source if source is not None else F.lit(SOURCE_CRAWL))
