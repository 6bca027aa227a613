"""Build the SparkSession from the ``spark`` section of the config."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline.config import SparkConfig


def get_spark(cfg: SparkConfig, app_name: str | None = None):
    """A SparkSession for ``cfg.master`` (local[*], spark://host:port, yarn...).

    The executors' Python is the driver's own interpreter unless PYSPARK_PYTHON says otherwise,
    so a local run uses the project's virtual environment on both sides.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Spark reads log4j2.properties from SPARK_CONF_DIR when its JVM starts: errors only, so
    # mathmine's progress lines are what the user sees.
    os.environ.setdefault("SPARK_CONF_DIR", str(Path(__file__).with_name("spark_conf")))
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    if cfg.master:
        # '' leaves the master to spark-submit (EMR/Dataproc Serverless set their own)
        builder = builder.master(cfg.master)
    builder = (
        builder.appName(app_name or cfg.app_name)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.python.worker.reuse", "true")
    )
    if cfg.master.startswith("local"):
        # One machine: memory and shuffle width from the config; loopback only (tests block
        # everything else). On a cluster these are the cluster's own tuning, left alone
        # unless spark.conf in the config sets them.
        builder = (
            builder.config("spark.driver.memory", cfg.driver_memory)
            .config("spark.executor.memory", cfg.executor_memory)
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
        )
    for k, v in cfg.conf.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
