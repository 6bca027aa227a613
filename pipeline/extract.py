"""The extract stage, per record: WARC record -> doc (text with math as LaTeX, language,
cheap quality signals, MinHash signature) or a Dropped with a reason.

Spark-free: ``extract_warc`` takes a binary stream and returns docs plus a StageStats in which
every record read is either kept or dropped with a reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from pipeline import records as R
from pipeline.config import Config
from pipeline.langid import MAX_CHARS as LANGID_CHARS
from pipeline.ledger import count_extract_drop, count_extracted, has_math
from pipeline.math_text import mask_math
from pipeline.records import Dropped, RawRecord, StageStats, doc_id


@dataclass
class StepTimer:
    """Seconds spent per step, accumulated into the stage's stats (``t_<step>``)."""

    stats: StageStats
    last: float = field(default_factory=time.perf_counter)

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.stats.add(f"t_{step}", now - self.last)
        self.last = now


def process_record(
    rec: RawRecord, config: Config, timer: StepTimer | None = None, source: str = R.SOURCE_CRAWL
) -> dict | Dropped:
    """One HTML response record -> a doc dict with the DOC_COLUMNS, or a Dropped.
    ``source``: where the record came from (a WARC the run read, or ``mathmine expand``)."""
    from pipeline.charset import decode_html
    from pipeline.html_text import Extraction, extract_text
    from pipeline.langid import detect_language
    from pipeline.minhash import minhash_signature_and_key
    from pipeline.urls import registered_domain

    ecfg = config.extract

    def lap(step: str) -> None:
        if timer is not None:
            timer.lap(step)

    if len(rec.body) > ecfg.max_page_bytes:
        return Dropped(R.TOO_LARGE, rec.url, rec.warc_offset, f"{len(rec.body)} bytes")
    html, _charset = decode_html(rec.body, rec.content_type)
    lap("charset")
    ext = extract_text(html, url=rec.url, mode="fast", config=ecfg)
    lap("extract")
    if isinstance(ext, Dropped):
        ext.url, ext.warc_offset = rec.url, rec.warc_offset
        return ext
    assert isinstance(ext, Extraction)
    text = ext.text
    math = has_math(ext.formulas, ext.math_markup)
    if len(text) < ecfg.min_text_chars:
        return Dropped(
            R.EMPTY_TEXT, rec.url, rec.warc_offset, f"{len(text)} chars", math, ext.formulas
        )
    # langid reads the first MAX_CHARS of prose; lid.176 reads TeX as noise and lowers the
    # confidence of the prose around it, so formulas (pipeline.math_text's one definition:
    # prices stay prose) are masked in a bounded head (the scan is linear, the slice bounds it)
    lang, lang_score = detect_language(mask_math(text[: 4 * LANGID_CHARS]))
    lap("langid")
    if ecfg.langs and (lang not in ecfg.langs or lang_score < ecfg.min_lang_score):
        detail = f"{lang}:{lang_score:.2f}"
        return Dropped(R.LANG, rec.url, rec.warc_offset, detail, math, ext.formulas)
    word_count = len(text.split())
    lap("word_count")
    sig, sig_key = minhash_signature_and_key(text, config.dedup)
    lap("minhash")
    return {
        "id": doc_id(rec.url, rec.payload_digest or rec.warc_record_id),
        "url": rec.url,
        "domain": registered_domain(rec.url),
        "warc_path": rec.warc_path,
        "warc_offset": rec.warc_offset,
        "warc_length": rec.warc_length,
        "warc_date": rec.warc_date,
        "warc_record_id": rec.warc_record_id,
        "title": ext.title or "",
        "text": text,
        "lang": lang,
        "lang_score": lang_score,
        "formulas": int(ext.formulas),
        "math_markup": list(ext.math_markup),
        "html_bytes": len(rec.body),
        "word_count": word_count,
        "minhash": [int(x) for x in sig],
        "minhash_key": sig_key,  # what the signature was made from: dedup checks it
        "source": source,
    }


def process_or_drop(
    rec: RawRecord, config: Config, timer: StepTimer | None = None, source: str = R.SOURCE_CRAWL
) -> dict | Dropped:
    """:func:`process_record`, with any exception a ``bad_record``: one bad record must never
    cost a WARC (or a fetch task)."""
    try:
        return process_record(rec, config, timer, source)
    except Exception as e:  # noqa: BLE001 - counted with its reason, never raised
        return Dropped(R.BAD_RECORD, rec.url, rec.warc_offset, f"{type(e).__name__}: {e}")


def extract_warc(
    stream: BinaryIO, warc_path: str, config: Config, stats: StageStats
) -> Iterator[dict]:
    """Docs of one WARC stream; every record is counted in ``stats`` as kept or dropped."""
    from pipeline.warc import iter_records

    timer = StepTimer(stats)
    for item in iter_records(stream, warc_path, config.extract):
        timer.lap("read")
        if isinstance(item, Dropped):
            stats.drop(item.reason)
            count_extract_drop(stats, item)
            continue
        stats.add("html_bytes", len(item.body))
        stats.add("html_pages", 1)  # HTML responses: the records the rate in pages/s counts
        out = process_or_drop(item, config, timer)
        if isinstance(out, Dropped):
            stats.drop(out.reason)
            count_extract_drop(stats, out)
        else:
            stats.keep()
            count_extracted(stats, out)
            yield out
        timer.last = time.perf_counter()
