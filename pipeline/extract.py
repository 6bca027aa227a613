"""The extract stage, per record: WARC record -> doc (text with math as LaTeX, language,
cheap quality signals, MinHash signature) or a Dropped with a reason.

Staged by what a page can still become: the first pass (:mod:`pipeline.prefilter`) reads the
raw HTML bytes of a crawled page and drops as ``prefilter`` those without math evidence
(most of a crawl), except a deterministic sample kept with ``first_pass`` = ``sampled``; only
the rest pays for charset decoding, the DOM, main-content extraction, language id and MinHash.
Pages fetched by ``mathmine expand`` are candidates by construction and skip the first pass.

Spark-free: ``extract_warc`` takes a binary stream and returns docs plus a StageStats in which
every record read is either kept or dropped with a reason. It computes the MinHash signatures
of its docs in batches (one numpy pass over many texts: ~5x less per doc than one at a time).
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
from pipeline.prefilter import PASSED, SAMPLED, UNJUDGED, in_sample, judge_page
from pipeline.records import PREFILTER, Dropped, RawRecord, StageStats, doc_id

# docs whose signatures extract_warc computes at once (a batch's texts are ~1-5 MB)
SIGNATURE_BATCH = 128


@dataclass
class StepTimer:
    """Seconds spent per step, accumulated into the stage's stats (``t_<step>``)."""

    stats: StageStats
    last: float = field(default_factory=time.perf_counter)

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.stats.add(f"t_{step}", now - self.last)
        self.last = now


def first_pass(rec: RawRecord, config: Config, source: str = R.SOURCE_CRAWL) -> str | Dropped:
    """The page's ``first_pass`` value (passed, sampled, unjudged), or Dropped as ``prefilter``."""
    ecfg = config.extract
    if not ecfg.first_pass or source != R.SOURCE_CRAWL:
        return UNJUDGED
    verdict = judge_page(rec.body, rec.url, ecfg.first_pass_min_math_words)
    if verdict.passed:
        return PASSED
    if in_sample(rec.url, ecfg.first_pass_sample_rate):
        return SAMPLED
    # math=None: the fast path never looked, so the ledger counts it as unseen, not as math lost
    return Dropped(PREFILTER, rec.url, rec.warc_offset, f"{verdict.words} math words")


def process_record(
    rec: RawRecord,
    config: Config,
    timer: StepTimer | None = None,
    source: str = R.SOURCE_CRAWL,
    signature: bool = True,
) -> dict | Dropped:
    """One HTML response record -> a doc dict with the DOC_COLUMNS, or a Dropped.
    ``source``: where the record came from (a WARC the run read, or ``mathmine expand``).
    ``signature=False`` leaves ``minhash``/``minhash_key`` to the caller (:func:`add_signatures`
    over a batch)."""
    from pipeline.charset import decode_html
    from pipeline.html_text import Extraction, extract_text
    from pipeline.langid import detect_language
    from pipeline.urls import registered_domain

    ecfg = config.extract

    def lap(step: str) -> None:
        if timer is not None:
            timer.lap(step)

    if len(rec.body) > ecfg.max_page_bytes:
        return Dropped(R.TOO_LARGE, rec.url, rec.warc_offset, f"{len(rec.body)} bytes")
    judged = first_pass(rec, config, source)
    lap("prefilter")
    if isinstance(judged, Dropped):
        return judged
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
    doc = {
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
        "minhash": None,
        "minhash_key": None,  # what the signature was made from: dedup checks it
        "source": source,
        "first_pass": judged,
    }
    if signature:
        add_signatures([doc], config)
        lap("minhash")
    return doc


def add_signatures(docs: list[dict], config: Config) -> None:
    """Fill ``minhash`` and ``minhash_key`` of ``docs`` in place, in one batch."""
    from pipeline.minhash import signature_keys, signatures_and_text_hashes

    if not docs:
        return
    sigs, th = signatures_and_text_hashes([d["text"] for d in docs], config.dedup)
    keys = signature_keys(th, config.dedup)
    for d, sig, key in zip(docs, sigs.tolist(), keys.tolist()):
        d["minhash"] = sig
        d["minhash_key"] = key


def process_or_drop(rec: RawRecord, config: Config, *args, **kwargs) -> dict | Dropped:
    """:func:`process_record` (with its arguments), with any exception a ``bad_record``: one bad
    record must never cost a WARC (or a fetch task)."""
    try:
        return process_record(rec, config, *args, **kwargs)
    except Exception as e:  # noqa: BLE001 - counted with its reason, never raised
        return Dropped(R.BAD_RECORD, rec.url, rec.warc_offset, f"{type(e).__name__}: {e}")


def extract_warc(
    stream: BinaryIO, warc_path: str, config: Config, stats: StageStats
) -> Iterator[dict]:
    """Docs of one WARC stream; every record is counted in ``stats`` as kept or dropped."""
    from pipeline.warc import iter_records

    timer = StepTimer(stats)
    batch: list[dict] = []
    for item in iter_records(stream, warc_path, config.extract):
        timer.lap("read")
        if isinstance(item, Dropped):
            stats.drop(item.reason)
            count_extract_drop(stats, item)
            continue
        stats.add("html_bytes", len(item.body))
        stats.add("html_pages", 1)  # HTML responses: the records the rate in pages/s counts
        out = process_or_drop(item, config, timer, signature=False)
        if isinstance(out, Dropped):
            stats.drop(out.reason)
            count_extract_drop(stats, out)
        else:
            stats.keep()
            count_extracted(stats, out)
            if out["first_pass"] == SAMPLED:
                stats.add("first_pass_sampled", 1)
            batch.append(out)
            if len(batch) >= SIGNATURE_BATCH:
                yield from _signed(batch, config, timer)
                batch = []
        timer.last = time.perf_counter()
    yield from _signed(batch, config, timer)


def _signed(batch: list[dict], config: Config, timer: StepTimer) -> list[dict]:
    timer.last = time.perf_counter()
    add_signatures(batch, config)
    timer.lap("minhash")
    return batch
