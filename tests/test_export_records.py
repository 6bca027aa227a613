"""The export's per-record work without Spark: ExportTask.iter_export on plain dicts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType

from jobs.export_job import ExportTask, build_index, careful_available
from pipeline.config import load_config
from pipeline.records import StageStats
from pipeline.tokens import make_token_counter

DATA = Path(__file__).parent / "data" / "export"
GSM8K = Path(__file__).resolve().parent.parent / "pipeline" / "data" / "gsm8k_test.jsonl.gz"


def _rows() -> list[dict]:
    wp = str(DATA / "dolma_science_0.warc.gz")
    out = []
    with open(wp, "rb") as f:
        for rec in ArchiveIterator(f, record_types=WarcRecordType.response):
            url = rec.headers["WARC-Target-URI"]
            out.append(
                {"id": url.rsplit("/", 1)[-1], "url": url, "text": "fast text of " + url, "lang": "en",
                 "warc_path": wp, "warc_offset": rec.stream_pos, "warc_date": "2024-05-28",
                 "formulas": 0, "domain": "localhost", "math_score": 0.9}
            )  # fmt: skip
    with gzip.open(GSM8K, "rt") as f:
        q = json.loads(f.readline())["question"]
    gone = "/nonexistent/x.warc.gz"
    out.append(dict(out[0], id="leak", url="https://a/leak", warc_path=gone, text="Hi. " + q))
    out.append(
        dict(out[0], id="mail", url="https://a/mail", warc_path=gone,
             text="Write to jane.doe@uni.edu or see 8.8.8.8; $a@b$ stays.")
    )  # fmt: skip
    return out


def test_iter_export_rereads_decontaminates_scrubs_and_counts():
    config = load_config(None, ["extract.page_timeout_s=0", "export.shuffle_seed=3"])
    opened = []

    def opener(path):
        opened.append(path)
        return open(path, "rb")

    task = ExportTask(config, "/unused", build_index(config.export), make_token_counter(""))
    stats, samples = StageStats("export"), {}
    docs = {d["id"]: d for d in task.iter_export(_rows(), stats, samples, opener)}

    assert stats.to_dict()["dropped"] == {"contaminated:gsm8k_test": 1}
    assert samples["gsm8k_test"] == ["janet s ducks lay 16 eggs per day she eats"]
    assert set(docs) == {"math.html", "taylor.html", "mail"}
    # each WARC opened once for its group of rows
    assert opened.count(str(DATA / "dolma_science_0.warc.gz")) == (1 if careful_available() else 0)
    if careful_available():
        assert stats.extra["careful_text"] == 2
        assert stats.extra["reread_failed_fallback"] == 2  # leak + mail: WARC gone
        assert "E = mc^2" in docs["math.html"]["text"]
        assert docs["math.html"]["formulas"] >= 2
    mail = docs["mail"]["text"]
    assert "jane.doe@uni.edu" not in mail and "8.8.8.8" not in mail and "$a@b$" in mail
    assert stats.extra["pii_emails_replaced"] == 1 and stats.extra["pii_ips_replaced"] == 1
    for d in docs.values():
        assert d["token_count"] == len(d["text"].split()) and d["token_kind"] == "words"
        assert d["_key"] != 0  # shuffle key present
    assert stats.reconciles() and stats.records_read == 4
