"""The text that ships: one exported page's careful text, judged by the cleaning rules.

Export re-reads each selected page's WARC record and makes its careful text (about ten times
the cost of the fast path, so only for the few selected pages); then the same cleaning chain
that judged the fast text (:func:`pipeline.clean_chain.clean_document`, with the domain's
cross-page boilerplate lines found by the clean stage) judges the careful text, and exactly the
text it returns ships: line edits, normalisation and PII applied, the page rules having judged
that very string. docs/text-that-ships.md says why.

When the careful text cannot be made (the record cannot be re-read, or the careful extractor
finds no text) the fast text goes through the same chain and ships, and says so in
``text_source`` (``fast_fallback:<reason>``): nothing falls back silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.clean_chain import Decision, clean_document
from pipeline.config import Config
from pipeline.math_markup import count_asciimath
from pipeline.math_text import count_formulas

FAST_FALLBACK = "fast_fallback:"
FAST = "fast"  # export.careful is off: the fast text ships by configuration, not as a fallback
REREAD_FAILED = "reread_failed"  # the WARC record could not be read back at its offset
CAREFUL_UNAVAILABLE = "careful_unavailable"  # the careful extractor's modules are missing
RULES = "rules:"  # prefix of an export drop reason: a cleaning rule dropped the shipped text


@dataclass
class ShardText:
    """One page's judged text: ``text`` is None when the rules drop it."""

    text: str | None
    source: str  # Extraction.source of the careful text, "fast" or "fast_fallback:<reason>"
    decision: Decision
    formulas_before: int  # formulas in the text the rules judged (careful, or the fallback)
    formulas: int  # formulas in ``text`` (0 when dropped)

    @property
    def fallback(self) -> str | None:
        """The fallback reason, or None when the careful text (or fast by config) ships."""
        return self.source[len(FAST_FALLBACK) :] if self.is_fallback else None

    @property
    def is_fallback(self) -> bool:
        return self.source.startswith(FAST_FALLBACK)

    @property
    def drop_reason(self) -> str | None:
        """``rules:<rule>`` when a cleaning rule dropped the text, else None."""
        return None if self.text is not None else RULES + (self.decision.reason or "unknown")


def careful_source(ext) -> str:
    """How the careful extractor made its text (``Extraction.source``; "careful" when the
    extractor does not say)."""
    return getattr(ext, "source", None) or "careful"


def careful_extraction(html: str, url: str, config: Config):
    """(Extraction, None) of the careful extractor, or (None, reason) when it gives no text."""
    from pipeline.html_text import extract_text

    ext = extract_text(html, url=url, mode="careful", config=config.extract)
    text = getattr(ext, "text", None)
    if text is None:  # a Dropped: empty_text, timeout, too_deep, too_large
        return None, "careful_" + str(getattr(ext, "reason", "failed"))
    if not text.strip():
        return None, "careful_empty_text"
    return ext, None


def count_text_formulas(text: str, markup=()) -> int:
    """Formulas of a page's text as the extractor counts them (``Extraction.formulas``): TeX
    formulas, plus `...` formulas on an AsciiMath page (``"asciimath"`` in ``markup``)."""
    return count_formulas(text) + (count_asciimath(text) if "asciimath" in (markup or ()) else 0)


def judge_text(
    row: dict, text: str, source: str, config: Config, boilerplate_hashes=None, markup=None
) -> ShardText:
    """Run the cleaning chain on ``text`` (the careful or fallback text of ``row``);
    ``markup``: the math markup kinds of the extraction that made ``text`` (default: the
    row's ``math_markup``), for counting its formulas as the extractor does."""
    markup = row.get("math_markup") if markup is None else markup
    doc = {
        "id": row.get("id") or "",
        "url": row.get("url") or "",
        "text": text,
        "boilerplate_hashes": list(boilerplate_hashes or ()),
    }
    out, dec = clean_document(doc, config.clean)
    shipped = out["text"] if out is not None else None
    return ShardText(
        shipped,
        source,
        dec,
        count_text_formulas(text, markup),
        count_text_formulas(shipped, markup) if shipped is not None else 0,
    )


def make_shard_text(
    row: dict,
    config: Config,
    html: str | None = None,
    fallback: str | None = None,
    boilerplate_hashes=None,
) -> ShardText:
    """The shipped text of one exported page.

    ``row`` is the page's docs/ row (``id``, ``url``, ``text`` = the fast text). ``html`` is the
    page re-read from its WARC, or None with ``fallback`` saying why it could not be (then the
    fast text is judged and ships as ``fast_fallback:<fallback>``). ``fallback=FAST`` means the
    careful pass is off by configuration.
    """
    if fallback is None and html is not None:
        ext, fallback = careful_extraction(html, row.get("url") or "", config)
        if ext is not None:
            return judge_text(
                row, ext.text, careful_source(ext), config, boilerplate_hashes, ext.math_markup
            )
    fast = row.get("text") or ""
    source = FAST if fallback == FAST else FAST_FALLBACK + (fallback or REREAD_FAILED)
    return judge_text(row, fast, source, config, boilerplate_hashes)
