"""The cleaning chain as data (pipeline/clean_rules.py): every rule is one entry that clean,
explain and bench-clean walk, with its config keys, math-safety sentence and counters."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from pipeline.clean_chain import clean_document, clean_partition
from pipeline.clean_rules import KINDS, LINE, PAGE, RULES, rule_named
from pipeline.config import CleanConfig
from pipeline.records import EMPTY_TEXT, StageStats

DATA = Path(__file__).parent / "data" / "clean"
CFG = CleanConfig()


def _pages() -> list[dict]:
    out = []
    for name in ("math_pages.jsonl", "nonmath_pages.jsonl", "math_tables.jsonl"):
        out += [json.loads(x) for x in (DATA / name).read_text().split("\n") if x]
    return out


def test_every_rule_says_what_it_reads_its_keys_and_why_math_is_safe():
    fields = {f.name for f in dataclasses.fields(CleanConfig)}
    assert len({r.name for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.kind in KINDS and r.family and r.reads
        assert set(r.config_keys) <= fields, r.name
        assert r.math_safety.endswith(".") and len(r.math_safety) > 30, r.name
        assert bool(r.reasons) == (r.kind == PAGE), r.name
    claimed = {k for r in RULES for k in r.config_keys}
    # 'enabled' switches the whole chain off; every other key belongs to a rule
    assert fields - claimed == {"enabled"}


def test_clean_document_walks_the_rules_in_order():
    doc = _pages()[0]
    for all_rules in (False, True):
        _, dec = clean_document(doc, CFG, all_rules=all_rules)
        assert [v.rule for v in dec.verdicts] == [r.name for r in RULES]
    _, dec = clean_document(doc, dataclasses.replace(CFG, enabled=False))
    assert [v.outcome for v in dec.verdicts] == ["off"] * len(RULES)


def test_every_drop_reason_on_real_pages_is_declared_by_its_rule():
    seen = set()
    for doc in _pages():
        _, dec = clean_document(doc, CFG, all_rules=True)
        for v in dec.verdicts:
            if v.outcome == "drop":
                assert v.reason in rule_named(v.rule).reasons, (v.rule, v.reason)
                seen.add(v.reason)
        assert dec.keep or dec.reason == EMPTY_TEXT or dec.reason in seen
    assert len(seen) >= 8  # the real junk exercises most of them


def test_each_line_rule_has_its_counter():
    stats = StageStats("clean")
    list(clean_partition(_pages(), CFG, stats))
    for r in RULES:
        if r.kind == LINE:
            assert r.counters == (f"lines_removed_{r.name}",)
            assert r.counters[0] in stats.extra
    assert stats.reconciles()
