"""gs:// reads, uploads and listings against a local Cloud Storage JSON API (STORAGE_EMULATOR_HOST),
with 503s and connection resets on a share of the ranged downloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import storage
from pipeline.config import IOConfig
from tests.cloud_fakes import FaultPlan, gcs_server

pytestmark = pytest.mark.cloud

WARC = Path(__file__).parent / "data" / "cloud" / "cc_2020_34_excerpt.warc.gz"


@pytest.fixture
def emulator(monkeypatch):
    def start(objects, plan=None):
        ctx = gcs_server(objects, plan)
        url = ctx.__enter__()
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        monkeypatch.setattr(storage, "_gcs_clients", {})
        started.append(ctx)
        return url

    started: list = []
    yield start
    for ctx in started:
        ctx.__exit__(None, None, None)


def test_gcs_read_in_chunks_survives_faults(emulator, monkeypatch):
    monkeypatch.setattr(storage, "GCS_CHUNK", 16 * 1024)  # ~9 ranged requests for this file
    monkeypatch.setattr(storage, "backoff_delay", lambda *a, **k: 0.0)
    data = WARC.read_bytes()
    plan = FaultPlan(
        target="w.warc.gz", p_503=0.2, p_reset=0.2, seed=4, script=("ok", "slowdown", "reset")
    )
    emulator({("bkt", "crawl/w.warc.gz"): data}, plan)
    counters: dict = {}
    with storage.open_uri("gs://bkt/crawl/w.warc.gz", IOConfig(), counters) as f:
        got = b"".join(iter(lambda: f.read(7000), b""))
    assert got == data
    assert plan.counts["reset"] >= 1 and plan.counts["slowdown"] >= 1
    assert counters["io_resumes"] == plan.counts["reset"]
    assert counters["io_throttled"] == plan.counts["slowdown"]
    assert storage.read_range("gs://bkt/crawl/w.warc.gz", 100, 50) == data[100:150]


def test_gcs_missing_object(emulator):
    emulator({})
    with pytest.raises(FileNotFoundError):
        storage.open_uri("gs://bkt/none.warc.gz", IOConfig())


def test_gcs_upload_and_list(emulator, tmp_path):
    objects: dict = {}
    emulator(objects)
    (tmp_path / "a.txt").write_bytes(b"alpha")
    storage.upload_file(tmp_path / "a.txt", "gs://bkt/run/_submit/a.txt")
    assert objects[("bkt", "run/_submit/a.txt")] == b"alpha"
    assert storage.list_uri("gs://bkt/run/") == ["gs://bkt/run/_submit/a.txt"]
    assert storage.read_bytes("gs://bkt/run/_submit/a.txt") == b"alpha"
