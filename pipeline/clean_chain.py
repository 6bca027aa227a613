"""The clean stage for one document: walk the rules of ``pipeline/clean_rules.py`` in order and
record each one's verdict.

``clean_document(doc, cfg) -> (cleaned doc | None, Decision)`` is the entry point for the Spark
stage (``jobs/clean_job.py``), ``mathmine explain`` and the export stage; ``clean_partition``
runs it over an iterable and counts every drop by its reason and every removed line by its rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.clean_analysis import Analysed, analyse
from pipeline.clean_rules import (
    EDIT,
    GATE,
    LINE,
    LINE_RULES,
    OUTPUT,
    PAGE,
    READS_URL,
    RULES,
    Rule,
    lines_removed_counter,
)
from pipeline.config import CleanConfig
from pipeline.math_text import math_spans
from pipeline.records import EMPTY_TEXT, StageStats
from pipeline.text_norm import Line, split_lines

_MANY_BLANK = re.compile(r"\n{3,}")


@dataclass
class RuleVerdict:
    rule: str  # the rule's name, e.g. "gopher_quality"
    outcome: str  # keep | drop | lines (some removed) | bypass | off | skipped | not_run
    reason: str | None = None  # the named reason when outcome == "drop"
    removed: list[str] = field(default_factory=list)  # lines removed by a line rule

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "reason": self.reason,
            "removed": list(self.removed),
        }


@dataclass
class Decision:
    """What the clean stage did to one document, rule by rule (``mathmine explain`` prints it)."""

    id: str
    url: str
    keep: bool = True
    reason: str | None = None  # the first drop reason
    verdicts: list[RuleVerdict] = field(default_factory=list)
    lines_in: int = 0
    lines_out: int = 0
    pii_emails: int = 0
    pii_ips: int = 0

    def drop(self, reason: str) -> None:
        """Drop the page; the first reason is the one it is counted under."""
        if self.keep:
            self.keep = False
            self.reason = reason

    def removed_lines(self) -> list[tuple[str, str]]:
        return [(v.rule, line) for v in self.verdicts for line in v.removed]

    def lines_removed_by_rule(self) -> dict[str, int]:
        return {v.rule: len(v.removed) for v in self.verdicts if v.removed}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "keep": self.keep,
            "reason": self.reason,
            "lines_in": self.lines_in,
            "lines_out": self.lines_out,
            "pii_emails": self.pii_emails,
            "pii_ips": self.pii_ips,
            "rules": [v.to_dict() for v in self.verdicts],
        }


class _PageText:
    """The text as the chain rewrites it: lines are split once (at the first line rule) and
    the text is re-joined from the kept lines, and analysed, only when a page rule reads it."""

    def __init__(self, text: str):
        self.text = text
        self.lines: list[Line] | None = None
        self.spans: list[tuple[int, int]] | None = None
        self.lines_edited = False
        self.judged = False  # the line rules are over: the text is final until the output edits
        self._analysed: Analysed | None = None

    def split(self, dec: Decision) -> list[Line]:
        if self.lines is None:
            self.spans = math_spans(self.text)
            self.lines = split_lines(self.text, self.spans)
            dec.lines_in = dec.lines_out = sum(1 for ln in self.lines if ln.text.strip())
        return self.lines

    def keep_lines(self, kept: list[Line], dec: Decision) -> None:
        self.lines = kept
        self.lines_edited = True
        dec.lines_out = sum(1 for ln in kept if ln.text.strip())

    def finish_lines(self) -> None:
        """After the last line rule: the text is the kept lines (runs of blank lines as one)."""
        if self.lines_edited and self.lines is not None:
            self.text = _MANY_BLANK.sub("\n\n", "\n".join(ln.text for ln in self.lines))
            self.text = self.text.strip("\n")
            self.spans = None
        self.judged = True

    def analysed(self) -> Analysed:
        if self._analysed is None:
            self._analysed = analyse(self.text, self.spans)
        return self._analysed


def clean_document(
    doc: dict, cfg: CleanConfig, all_rules: bool = False
) -> tuple[dict | None, Decision]:
    """Apply every rule of :data:`pipeline.clean_rules.RULES` to one document (a dict with at
    least ``text`` and ``url``).

    Returns the cleaned document (a copy with the new ``text``) or None if dropped, and the
    :class:`Decision`. ``doc["boilerplate_hashes"]`` (optional) holds the hashes of lines that
    recur across pages of this document's domain (computed by the Spark job). With
    ``all_rules`` every page rule runs even after one drops the page (for explain);
    otherwise the page rules after the first drop are ``not_run``.
    """
    url = doc.get("url") or ""
    dec = Decision(id=str(doc.get("id") or ""), url=url)
    if not cfg.enabled:
        dec.verdicts.extend(RuleVerdict(r.name, "off") for r in RULES)
        return dict(doc), dec

    page = _PageText(doc.get("text") or "")
    allowed = False
    for rule in RULES:
        if rule.kind == LINE:
            page.split(dec)
        elif rule.kind == PAGE and rule.reads != READS_URL and not page.judged:
            page.finish_lines()
            if dec.keep and not page.text.strip():
                dec.drop(EMPTY_TEXT)
        dec.verdicts.append(_apply(rule, page, doc, cfg, dec, allowed, all_rules))
        if rule.kind == GATE:
            allowed = allowed or dec.verdicts[-1].outcome == "bypass"

    if not dec.keep:
        return None, dec
    out = dict(doc)
    out.pop("boilerplate_hashes", None)
    out["text"] = page.text
    return out, dec


def _apply(
    rule: Rule,
    page: _PageText,
    doc: dict,
    cfg: CleanConfig,
    dec: Decision,
    allowed: bool,
    all_rules: bool,
) -> RuleVerdict:
    """One rule's verdict on the page (and its effect on ``page`` and ``dec``)."""
    if rule.kind == GATE:
        hit = rule.apply(dec.url, cfg)
        # "bypass": on the allowlist, so no line or page rule applies (edits still do)
        return RuleVerdict(rule.name, "off" if hit is None else "bypass" if hit else "keep")
    if allowed and rule.kind in (LINE, PAGE):
        return RuleVerdict(rule.name, "skipped")
    if not rule.enabled(cfg):
        return RuleVerdict(rule.name, "off")
    if rule.kind == EDIT:
        page.text = rule.apply(page.text, cfg, dec)
        return RuleVerdict(rule.name, "keep")
    if rule.kind == OUTPUT:
        if not dec.keep:
            return RuleVerdict(rule.name, "not_run")
        page.text = rule.apply(page.text, cfg, dec)
        return RuleVerdict(rule.name, "keep")
    if rule.kind == LINE:
        kept, removed = rule.apply(page.lines, cfg, doc)
        if removed:
            page.keep_lines(kept, dec)
        return RuleVerdict(
            rule.name, "lines" if removed else "keep", None, [ln.text for ln in removed]
        )
    # a page rule
    reads_url = rule.reads == READS_URL
    if (not reads_url and not page.text.strip()) or (not dec.keep and not all_rules):
        return RuleVerdict(rule.name, "not_run")
    reason = rule.apply(page.text, dec.url, cfg, None if reads_url else page.analysed())
    if reason:
        dec.drop(reason)
    return RuleVerdict(rule.name, "drop" if reason else "keep", reason)


def count_decision(stats: StageStats, dec: Decision) -> None:
    """Add one document's decision to the stage counters (per rule name)."""
    if dec.keep:
        stats.keep()
    else:
        stats.drop(dec.reason or "unknown")
    stats.add("lines_in", dec.lines_in)
    stats.add("lines_out", dec.lines_out)
    removed = dec.lines_removed_by_rule()
    for rule in LINE_RULES:
        stats.add(lines_removed_counter(rule), removed.get(rule, 0))
    if dec.pii_emails:
        stats.add("pii_emails", dec.pii_emails)
    if dec.pii_ips:
        stats.add("pii_ips", dec.pii_ips)


def clean_partition(
    docs: Iterable[dict], cfg: CleanConfig, stats: StageStats | None = None
) -> Iterator[dict]:
    """The clean stage: kept documents with cleaned text; drops counted per rule in ``stats``."""
    for doc in docs:
        out, dec = clean_document(doc, cfg)
        if stats is not None:
            count_decision(stats, dec)
        if out is not None:
            yield out
