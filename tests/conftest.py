"""Shared fixtures: one local Spark session per test run, and the path to tests/data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def spark():
    """A local[2] SparkSession shared by the whole test run."""
    from jobs.session import get_spark
    from pipeline.config import SparkConfig

    os.environ["PYSPARK_PYTHON"] = sys.executable
    s = get_spark(SparkConfig(master="local[2]", driver_memory="2g"), app_name="mathmine-tests")
    yield s
    s.stop()
