"""The math-retention ledger: where the math pages and their formulas went, stage by stage.

Label-free, so losses show on any crawl and not only on fixtures: a page *carries math* when
the fast path saw math markup (MathJax, KaTeX, MathML, TeX images...) or at least one formula;
formulas are counted by :func:`pipeline.math_text.count_formulas` (docs' ``formulas`` at
extract, the shipped text at export). Per stage (extract -> clean -> dedup -> selection ->
export) the ledger says how many math pages went in and out and which rule or reason dropped
the rest; and it follows the formulas from the fast text to the shard text, so that every
formula found at extract is either in the shards or in a named bucket.

Everything here is pure arithmetic on counters and small aggregate rows; the Spark side
(jobs/ledger_job.py) computes the per-document fates and the per-domain sums.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.math_text import iter_formulas
from pipeline.records import HTTP_STATUS, NOT_HTML, NOT_RESPONSE, Dropped, StageStats

STAGES = ("extract", "clean", "dedup", "selection", "export")
SHIPPED = "shipped"
PENDING = "pending"  # the run has not taken the page through every stage yet
NOT_SELECTED = "not_selected"
NO_ROW = "no_row"  # a stage's table has no row for a page it should have seen: a bug to fix
DUPLICATE_ID = "duplicate_id"  # export: a second capture of the same URL + payload
# duplicates are shipped once through their representative: not a loss of math
DUPLICATE_REASONS = frozenset(("url_dup", "text_dup", "near_dup", DUPLICATE_ID))
# the target: a page keeps at least 97% of the formulas the fast path found
PAGE_RETENTION_TARGET = 0.97
TOP_DOMAINS = 10
# extract drops that are not pages with content (other record types, redirects and errors)
NOT_PAGES = frozenset((NOT_RESPONSE, NOT_HTML, HTTP_STATUS))

_K_PAGES = "ledger_math_pages"
_K_FORMULAS = "ledger_math_formulas"
_K_DROPPED = "ledger_math_dropped:"
_K_DROPPED_F = "ledger_math_dropped_formulas:"
_K_UNSEEN = "ledger_unseen:"


def has_math(formulas: int | None, markup: Iterable[str] | None) -> bool:
    """The ledger's definition of a page that carries math (fast path: markup or a formula)."""
    return bool(formulas) or bool(list(markup or ()))


# --- extract: counters on the executors ------------------------------------------------------


def count_extracted(stats: StageStats, doc: Mapping[str, Any]) -> None:
    """Count one kept page (a docs/ row) in the extract stage's ledger counters."""
    if has_math(doc.get("formulas"), doc.get("math_markup")):
        stats.add(_K_PAGES, 1)
        stats.add(_K_FORMULAS, int(doc.get("formulas") or 0))


def count_extract_drop(stats: StageStats, dropped: Dropped) -> None:
    """Count one dropped record: by reason when its math was seen before the drop; as
    'unseen' when it was dropped before the extractor could look (too large, timeout...)."""
    if dropped.reason in NOT_PAGES:
        return
    math = getattr(dropped, "math", None)
    if math is None:
        stats.add(_K_UNSEEN + dropped.reason, 1)
    elif math:
        stats.add(_K_DROPPED + dropped.reason, 1)
        stats.add(_K_DROPPED_F + dropped.reason, int(getattr(dropped, "formulas", 0) or 0))


def _prefixed(d: Mapping[str, Any], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: int(v) for k, v in d.items() if k.startswith(prefix) and v}


def extract_entry(extract_stats: Mapping[str, Any]) -> dict[str, Any]:
    """The extract row of the ledger from the extract stage's stats (stats.json 'extract')."""
    dropped = _prefixed(extract_stats, _K_DROPPED)
    kept = int(extract_stats.get(_K_PAGES, 0))
    return {
        "stage": "extract",
        "math_pages_in": kept + sum(dropped.values()),
        "math_pages_out": kept,
        "dropped": dropped,
        "formulas_in": int(extract_stats.get(_K_FORMULAS, 0))
        + sum(_prefixed(extract_stats, _K_DROPPED_F).values()),
        "formulas_dropped": _prefixed(extract_stats, _K_DROPPED_F),
        "unseen": _prefixed(extract_stats, _K_UNSEEN),
        "note": "unseen: HTML pages dropped before their math could be looked at",
    }


# --- later stages: one fate per document ------------------------------------------------------


def doc_fate(
    tables: Mapping[str, bool],
    clean_keep: bool | None = None,
    clean_reason: str | None = None,
    dedup_keep: bool | None = None,
    dedup_reason: str | None = None,
    selected: bool | None = None,
    export_keep: bool | None = None,
    export_reason: str | None = None,
    text_source: str | None = None,
) -> tuple[str, str]:
    """(stage, reason) where one docs/ row left the pipeline, or ("shipped", text_source).

    ``tables`` says which stage tables exist in the run (clean, dedup, selection, export): a
    stage that did not run keeps every page; a missing row where a table exists is ``no_row``.
    """
    if tables.get("clean"):
        if clean_keep is None:
            return "clean", NO_ROW
        if not clean_keep:
            return "clean", clean_reason or "unknown"
    if tables.get("dedup"):
        if dedup_keep is None:
            return "dedup", NO_ROW
        if not dedup_keep:
            return "dedup", dedup_reason or "unknown"
    if tables.get("selection") and not selected:
        return "selection", NOT_SELECTED
    if tables.get("export"):
        if export_keep is None:
            return "export", NO_ROW
        if not export_keep:
            return "export", export_reason or "unknown"
        return SHIPPED, text_source or "unknown"
    return PENDING, ""


def is_duplicate(stage: str, reason: str) -> bool:
    return stage in ("dedup", "export") and reason in DUPLICATE_REASONS


def build_ledger(
    extract_stats: Mapping[str, Any],
    fates: Iterable[Mapping[str, Any]],
    tables: Mapping[str, bool],
    domains: Iterable[Mapping[str, Any]] = (),
    per_page: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ledger from the extract counters and the fate aggregates.

    ``fates``: rows ``stage, reason, math (bool), pages, formulas, formulas_before,
    formulas_out`` (sums over docs/ rows with that fate; ``formulas`` = docs' fast count,
    ``formulas_before`` = in the text the export rules judged, ``formulas_out`` = in the
    shipped text). ``domains``: the top domains by formulas lost (see jobs/ledger_job.py).
    """
    fates = [dict(f) for f in fates]
    math = [f for f in fates if f["math"]]
    stages: list[dict[str, Any]] = [extract_entry(extract_stats)]
    pages_in = sum(f["pages"] for f in fates)
    math_in = sum(f["pages"] for f in math)
    formulas_in = sum(int(f["formulas"] or 0) for f in fates)
    for stage, table in (("clean", "clean"), ("dedup", "dedup"), ("selection", "selection")):
        stages.append(_stage_entry(stage, fates, pages_in, math_in, tables.get(table, False)))
        pages_in, math_in = stages[-1]["pages_out"], stages[-1]["math_pages_out"]
    export = _stage_entry("export", fates, pages_in, math_in, tables.get("export", False))
    shipped = [f for f in fates if f["stage"] == SHIPPED]
    sources: Counter = Counter()
    fallback: Counter = Counter()
    for f in shipped:
        sources[f["reason"]] += f["pages"]
        if f["reason"].startswith("fast_fallback:"):
            fallback[f["reason"].split(":", 1)[1]] += f["pages"]
    export["text_source"] = dict(sorted(sources.items()))
    export["fallback"] = dict(sorted(fallback.items()))
    export["math_fallback"] = sum(
        f["pages"] for f in shipped if f["math"] and f["reason"].startswith("fast_fallback:")
    )
    stages.append(export)

    dup = sum(int(f["formulas"] or 0) for f in fates if is_duplicate(f["stage"], f["reason"]))
    lost_with_page: dict[str, dict[str, int]] = {}
    for f in fates:
        if f["stage"] in (SHIPPED, PENDING) or is_duplicate(f["stage"], f["reason"]):
            continue
        n = int(f["formulas"] or 0)
        if n:
            by = lost_with_page.setdefault(f["stage"], {})
            by[f["reason"]] = by.get(f["reason"], 0) + n
    on_shipped = sum(int(f["formulas"] or 0) for f in shipped)
    before = sum(int(f["formulas_before"] or 0) for f in shipped)
    out = sum(int(f["formulas_out"] or 0) for f in shipped)
    pending = sum(int(f["formulas"] or 0) for f in fates if f["stage"] == PENDING)
    unique = formulas_in - dup
    formulas = {
        "dropped_at_extract": stages[0]["formulas_in"] - int(extract_stats.get(_K_FORMULAS, 0)),
        "found": formulas_in,
        "duplicates": dup,
        "lost_with_page": {s: dict(sorted(r.items())) for s, r in lost_with_page.items()},
        "on_shipped_pages": on_shipped,
        "re_extraction": on_shipped - before,
        "export_line_rules": before - out,
        "pending": pending,
        "shipped": out,
        "retention": round(out / unique, 4) if unique else None,
        "per_page": dict(per_page or {}),
    }
    return {
        "definition": "math page: the fast path saw math markup or >= 1 formula; formulas "
        "counted with pipeline.math_text.count_formulas",
        "stages": stages,
        "formulas": formulas,
        "domains": [dict(d) for d in domains],
    }


def _stage_entry(
    stage: str, fates: list[dict], pages_in: int, math_in: int, ran: bool
) -> dict[str, Any]:
    here = [f for f in fates if f["stage"] == stage]
    dropped: Counter = Counter()
    math_dropped: Counter = Counter()
    formulas_dropped: Counter = Counter()
    for f in here:
        dropped[f["reason"]] += f["pages"]
        if f["math"]:
            math_dropped[f["reason"]] += f["pages"]
            formulas_dropped[f["reason"]] += int(f["formulas"] or 0)
    entry = {
        "stage": stage,
        "ran": ran,
        "pages_in": pages_in,
        "pages_out": pages_in - sum(dropped.values()),
        "math_pages_in": math_in,
        "math_pages_out": math_in - sum(math_dropped.values()),
        "dropped": dict(sorted(math_dropped.items())),
        "formulas_dropped": dict(sorted(formulas_dropped.items())),
    }
    if stage == "dedup" or (stage == "export" and DUPLICATE_ID in math_dropped):
        entry["note"] = "duplicates ship once through their representative: not a loss"
    return entry


# --- one document: which formulas are missing -------------------------------------------------


def formula_key(tex: str) -> str:
    """A formula's identity across extractors: its TeX body without whitespace."""
    return "".join(tex.split())


def missing_formulas(fast_text: str, shipped_text: str) -> list[str]:
    """Formulas of the fast text (TeX bodies, in order) that the shipped text does not have,
    counted as a multiset: a formula twice in the fast text and once shipped is missing once."""
    have = Counter(formula_key(f) for f in iter_formulas(shipped_text or ""))
    out = []
    for f in iter_formulas(fast_text or ""):
        k = formula_key(f)
        if have[k] > 0:
            have[k] -= 1
        else:
            out.append(f)
    return out


# --- printing ----------------------------------------------------------------------------------


def _reasons(d: Mapping[str, int], limit: int = 6) -> str:
    items = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))
    s = ", ".join(f"{k} {v:,}" for k, v in items[:limit])
    if len(items) > limit:
        s += f", ... ({len(items) - limit} more)"
    return s or "-"


def format_ledger(ledger: Mapping[str, Any]) -> list[str]:
    """The ledger as the lines the end-of-run summary prints."""
    if not ledger:
        return []
    lines = ["math-retention ledger (math page: math markup or >= 1 formula on the fast path)"]
    lines.append(f"  {'stage':<10} {'math in':>8} {'out':>8}  dropped (by rule/reason)")
    for st in ledger["stages"]:
        if st["stage"] != "extract" and not st.get("ran", True):
            lines.append(f"  {st['stage']:<10} {'':>8} {'':>8}  not run")
            continue
        what = _reasons(st["dropped"])
        if st["stage"] == "extract" and st.get("unseen"):
            what += f"; before math was seen: {_reasons(st['unseen'])}"
        if st["stage"] == "export" and st.get("math_fallback"):
            what += f"; shipped fast text (fallback): {st['math_fallback']:,}"
        if st.get("note") and st["stage"] != "extract":
            what += f"  ({st['note']})"
        lines.append(
            f"  {st['stage']:<10} {st['math_pages_in']:>8,} {st['math_pages_out']:>8,}  {what}"
        )
    f = ledger["formulas"]
    unique = f["found"] - f["duplicates"]
    lines.append(
        f"  formulas: {f['found']:,} found by the fast path on docs/ pages "
        f"(+{f['dropped_at_extract']:,} on pages dropped at extract), {f['duplicates']:,} on "
        f"duplicates (shipped once, not a loss); {f['shipped']:,} in shard text = "
        + (f"{f['retention']:.3f}" if f["retention"] is not None else "n/a")
        + f" of {unique:,}"
    )
    lost = [
        f"{stage}: {_reasons(r, 4)}" for stage, r in f["lost_with_page"].items() if sum(r.values())
    ]
    lines.append("    lost with their page: " + ("; ".join(lost) or "none"))
    lines.append(
        f"    on shipped pages: {f['on_shipped_pages']:,} fast -> "
        f"{f['on_shipped_pages'] - f['re_extraction']:,} in the careful text "
        f"({_signed(-f['re_extraction'])}) -> {f['shipped']:,} after the rules' line edits "
        f"({_signed(-f['export_line_rules'])})"
        + (f"; {f['pending']:,} on pages not through every stage yet" if f["pending"] else "")
    )
    pp = f.get("per_page") or {}
    if pp.get("pages"):
        lines.append(
            f"    per shipped math page: mean share of its fast formulas in its shard text "
            f"{pp['mean']:.3f}; {pp['below_target']:,} of {pp['pages']:,} pages below "
            f"{PAGE_RETENTION_TARGET}"
        )
    doms = [d for d in ledger.get("domains", []) if d.get("lost")]
    if doms:
        lines.append("  top domains by formulas lost (lost of found; where):")
        for d in doms:
            where = _reasons(d.get("lost_at", {}), 3)
            lines.append(
                f"    {d['domain'] or '-':<32} {d['lost']:>7,} of {d['formulas']:>7,}  {where}"
            )
    return lines


def _signed(n: int) -> str:
    return f"+{n:,}" if n > 0 else f"{n:,}"
