"""docs/ (and clean/, which has its columns) as a Spark DataFrame, whatever version wrote it.

A run folder can hold docs/ files of several versions: files written before a column existed
(``source``, ``first_pass``) beside files with it (``mathmine expand`` adds its pages to an older
run). Spark takes one file's schema unless asked to merge them, and would then drop the column
or leave it null; this reader merges the schemas and fills each such column where a file has
none: ``source`` with ``crawl`` (a WARC the run read: the only source before expand),
``first_pass`` with ``unjudged`` (every page was extracted before the first pass existed).
"""

from __future__ import annotations

from pipeline.prefilter import UNJUDGED
from pipeline.records import SOURCE_CRAWL

# columns added after the first docs/ files were written, and the value they mean there
LATER_COLUMNS = {"source": SOURCE_CRAWL, "first_pass": UNJUDGED}


def read_docs(spark, uri: str):
    """The docs table at ``uri`` with every column of every file, ``source`` and ``first_pass``
    never null."""
    from pyspark.sql import functions as F

    df = spark.read.option("mergeSchema", "true").parquet(uri)
    for name, default in LATER_COLUMNS.items():
        value = F.coalesce(F.col(name), F.lit(default)) if name in df.columns else F.lit(default)
        df = df.withColumn(name, value)
    return df
