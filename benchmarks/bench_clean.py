"""What the cleaning chain does to real pages, rule by rule, before and after the thread-aware
rules, side by side with datatrove.

  make bench-clean        (or: .venv/bin/python -m benchmarks.bench_clean [--data DIR])

Corpora (real pages only, nothing synthetic):

- threads: tests/data/forum (harvest, Stack Overflow, Reddit, SMF), split by site into dev
  (the thread rule was tuned on it) and test; with --data (or MATHMINE_BENCH_DATA), the shared
  wcxb and magic-html thread pages, unseen while tuning. Pages go through the extract stage
  (``pipeline.extract.process_record``: fast text, language id), so what is cleaned is what
  ``mathmine clean`` sees in a run; pages the extract stage drops (not English, empty) are
  counted apart;
- math: tests/data/clean math fixtures, the recall loop's held-out positives as two corpora
  ("held-out math dev": the math relaxations were chosen on it; "held-out math test": nothing
  was), and with --data
  the math seeds' HTML pages (PlanetMath, Levin's Discrete Mathematics) through the extract stage;
- non-math: tests/data/clean/nonmath_pages.jsonl (91), the bundled negatives
  (classifiers/data/negatives.jsonl.gz, 849) and with --data the shared non-math pages.

"before" is the chain without the thread-aware rules (``thread_chrome_lines``, ``math_tables``
off, FineWeb's line ratios on for pages with math): today's chain until this change. Cross-page
boilerplate lines are counted per registered domain within each corpus, as the Spark stage
counts them within a run. datatrove's GopherRepetition, GopherQuality, C4Quality and
FineWebQuality filters at their defaults run on the fixture and thread corpora (datatrove is in
the ``bench`` extra; without it those columns are skipped).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import json
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from infra.storage import read_rows
from pipeline.clean_analysis import analyse
from pipeline.clean_boilerplate import domain_boilerplate
from pipeline.clean_chain import clean_document
from pipeline.clean_rules import LINE, PAGE, RULES
from pipeline.config import CleanConfig
from pipeline.math_text import formulas
from pipeline.text_norm import normalize_text, split_lines

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "clean"
FORUM = ROOT / "tests" / "data" / "forum"
HELDOUT = ROOT / "classifiers" / "data" / "heldout.jsonl.gz"
NEGATIVES = ROOT / "classifiers" / "data" / "negatives.jsonl.gz"
DT_FAMILIES = ("gopher_repetition", "gopher_quality", "c4", "fineweb")
PAGE_FAMILIES = tuple(dict.fromkeys(r.family for r in RULES if r.kind == PAGE))
LINE_RULE_NAMES = tuple(r.name for r in RULES if r.kind == LINE)
# a non-math corpus's drop rate may move this many points at most (the target)
MAX_NONMATH_SHIFT = 1.0
# a post is present when this share of its own word 5-grams (not quoted from earlier posts)
# is in the text
POST_PRESENT = 0.8


def before_config(cfg: CleanConfig) -> CleanConfig:
    """The chain before the thread-aware rules, for the before/after columns."""
    return dataclasses.replace(
        cfg, thread_chrome_lines=False, math_tables=False, fineweb_line_ratios_with_math=True
    )


@dataclass
class Corpus:
    name: str
    kind: str  # thread | math | nonmath
    docs: list[dict]  # url, text; threads with gold: posts
    not_cleaned: Counter = field(default_factory=Counter)  # extract-stage drops by reason
    datatrove: bool = True


# --- loading ----------------------------------------------------------------------------------


def _html_bytes(p: Path) -> bytes:
    raw = p.read_bytes()
    return gzip.decompress(raw) if p.suffix == ".gz" else raw


def forum_pages(split: str) -> list[dict]:
    """tests/data/forum pages of one split: url, engine, html (bytes), posts (harvest gold)."""
    out = []
    with open(FORUM / "manifest.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["split"] != split:
                continue
            p = FORUM / row["path"]
            page = {"url": row["url"], "engine": row["engine"], "source": row["path"]}
            if p.name.endswith(".json.gz"):
                gold = json.loads(_html_bytes(p))
                page["html"] = gold["html"].encode("utf-8")
                page["posts"] = [
                    a["post_text"]["surface_form"] for a in gold["gold_standard_annotation"]
                ]
            else:
                page["html"] = _html_bytes(p)
            out.append(page)
    return out


def extract_docs(pages: list[dict], cfg=None) -> tuple[list[dict], Counter]:
    """Pages through the extract stage (``cfg``: a Config, default the defaults; the first
    pass off): (docs as clean sees them, extract drops by reason)."""
    from pipeline.config import Config
    from pipeline.extract import process_record
    from pipeline.records import RawRecord

    cfg = cfg or Config()
    # every page reaches the rules: the first pass (pipeline/prefilter.py) would rule most of
    # these non-math pages out before clean, and what is measured here is the rules
    cfg = dataclasses.replace(cfg, extract=dataclasses.replace(cfg.extract, first_pass=False))
    docs, dropped = [], Counter()
    for page in pages:
        url = page.get("url") or "https://unknown.invalid/"
        rec = RawRecord(url, "", 0, 0, "", "", url, 200, "text/html", page["html"])
        out = process_record(rec, cfg)
        if isinstance(out, dict):
            doc = {k: v for k, v in page.items() if k != "html"}
            doc.update(text=out["text"], url=url)
            docs.append(doc)
        else:
            dropped[out.reason] += 1
    return docs, dropped


def load_fixture_corpora() -> list[Corpus]:
    out = [
        Corpus("math fixtures", "math", list(read_rows(DATA / "math_pages.jsonl"))),
        Corpus("math (extractor)", "math", list(read_rows(DATA / "math_pages_extracted.jsonl"))),
        Corpus("OpenStax exercises", "math", list(read_rows(DATA / "openstax_exercises.jsonl"))),
        Corpus("math tables", "math", list(read_rows(DATA / "math_tables.jsonl"))),
        Corpus("non-math fixtures", "nonmath", list(read_rows(DATA / "nonmath_pages.jsonl"))),
        Corpus("bundled negatives", "nonmath", list(read_rows(NEGATIVES)), datatrove=False),
    ]
    if HELDOUT.exists():
        rows = list(read_rows(HELDOUT))
        # dev: the cleaning relaxations were chosen on it; test: nothing was
        for split in ("dev", "test"):
            docs = [r for r in rows if r.get("label") == 1 and r.get("split") == split]
            out.append(Corpus(f"held-out math {split}", "math", docs))
    for split in ("dev", "test"):
        docs, dropped = extract_docs(forum_pages(split))
        out.append(Corpus(f"threads {split}", "thread", docs, dropped))
    return out


def load_shared_corpora(data: Path) -> list[Corpus]:
    """The shared data's thread pages (unseen), math seeds' HTML pages and non-math pages."""
    out = []
    fp = data / "forum-pages"
    wcxb = []
    for p in sorted((fp / "wcxb").glob("*/html/*.html.gz")):
        truth = p.parent.parent / "ground-truth" / p.name.replace(".html.gz", ".json.gz")
        url = json.loads(_html_bytes(truth)).get("url", "") if truth.exists() else ""
        wcxb.append({"url": url, "html": _html_bytes(p), "source": p.name})
    magic = json.loads(_html_bytes(fp / "magic-html" / "base.json.gz"))
    mh = [
        {"url": magic.get(p.name.split(".")[0], {}).get("url", ""), "html": _html_bytes(p)}
        for p in sorted((fp / "magic-html").glob("*.html.gz"))
    ]
    seeds = data / "math-seeds"
    levin = [
        {
            "url": f"https://discrete.openmathbooks.org/dmoi4/{p.name[: -len('.gz')]}",
            "html": _html_bytes(p),
            "source": f"levin/{p.name}",
        }
        for p in sorted((seeds / "discrete-math-levin-html").glob("*.html.gz"))
    ]
    pm = [
        {
            "url": f"https://planetmath.org/{p.name[: -len('.html.gz')].split('-', 1)[-1].lower()}",
            "html": _html_bytes(p),
            "source": f"planetmath/{p.name}",
        }
        for p in sorted((seeds / "planetmath").glob("*/html/*.html.gz"))
    ]
    nm = data / "nonmath-pages"
    with open(nm / "manifest.tsv", newline="") as f:
        nonmath = [
            {
                "url": f"https://{r['site'] or 'unknown.invalid'}/",
                "html": _html_bytes(nm / r["file"]),
            }
            for r in csv.DictReader(f, delimiter="\t")
        ]
    for name, kind, pages, dt in (
        ("wcxb threads (unseen)", "thread", wcxb, True),
        ("magic-html threads (unseen)", "thread", mh, True),
        ("math seeds: Levin HTML", "math", levin, False),
        ("math seeds: PlanetMath HTML", "math", pm, False),
        ("shared non-math pages", "nonmath", nonmath, False),
    ):
        docs, dropped = extract_docs(pages)
        out.append(Corpus(name, kind, docs, dropped, datatrove=dt))
    return out


# --- mathmine ---------------------------------------------------------------------------------


def with_boilerplate(docs: list[dict], cfg: CleanConfig) -> list[dict]:
    """The docs with the cross-page boilerplate hashes of their registered domain, counted
    over the corpus as the Spark stage counts them over a run (pure Python here)."""
    from pipeline.urls import registered_domain

    doms = [registered_domain(d.get("url") or "") for d in docs]
    common = domain_boilerplate(
        ((str(i), dom, d["text"]) for i, (d, dom) in enumerate(zip(docs, doms))), cfg
    )
    return [dict(d, boilerplate_hashes=common.get(dom, [])) for d, dom in zip(docs, doms)]


_WORDS = re.compile(r"\w+")


def _grams(words: list[str], n: int = 5) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def own_grams(post: str, earlier: set) -> set[tuple[str, ...]]:
    """The post's word 5-grams that lie outside every stretch it shares with an earlier post
    (a quote): the words it says itself."""
    w = _WORDS.findall(post.lower())
    quoted = [False] * len(w)
    for i in range(len(w) - 4):
        if tuple(w[i : i + 5]) in earlier:
            quoted[i : i + 5] = [True] * 5
    return {tuple(w[i : i + 5]) for i in range(len(w) - 4) if not any(quoted[i : i + 5])}


def post_presence(posts: list[str], fast: str, cleaned: str) -> tuple[int, int]:
    """(posts present in the fast text, of those still present after cleaning): a post is
    present when POST_PRESENT of its own word 5-grams are in the text; quotes of earlier posts
    are not its own, and a post that only quotes is not counted."""
    earlier: set = set()
    in_fast = in_clean = 0
    g_fast = _grams(_WORDS.findall(fast.lower()))
    g_clean = _grams(_WORDS.findall(cleaned.lower()))
    for p in posts:
        own = own_grams(p, earlier)
        earlier |= _grams(_WORDS.findall(p.lower()))
        if not own:
            continue
        if len(own & g_fast) >= POST_PRESENT * len(own):
            in_fast += 1
            in_clean += len(own & g_clean) >= POST_PRESENT * len(own)
    return in_fast, in_clean


def run_mathmine(docs: list[dict], cfg: CleanConfig) -> dict:
    """Each page-rule family alone (does it fire?), the chain's first reason, lines removed
    per line rule, formulas kept, posts present."""
    fires: Counter = Counter()
    first: Counter = Counter()
    removed: Counter = Counter()
    dropped_pages: list[tuple[str, str, int]] = []
    lines_in = f_total = f_kept = posts_fast = posts_kept = posts_lost_kept_pages = 0
    family = {r.name: r.family for r in RULES if r.kind == PAGE}
    t0 = time.perf_counter()
    for d in with_boilerplate(docs, cfg):
        out, dec = clean_document(d, cfg, all_rules=True)
        for fam in {
            family[v.rule] for v in dec.verdicts if v.outcome == "drop" and v.rule in family
        }:
            fires[fam] += 1
        lines_in += dec.lines_in
        removed.update(dec.lines_removed_by_rule())
        fs = formulas(d["text"])
        f_total += len(fs)
        if out is not None:
            f_kept += sum(1 for f in fs if f in out["text"])
        else:
            first[dec.reason] += 1
            dropped_pages.append((d.get("source") or d.get("url") or "?", dec.reason, len(fs)))
        if d.get("posts"):
            a, b = post_presence(d["posts"], d["text"], out["text"] if out else "")
            posts_fast += a
            posts_kept += b
            posts_lost_kept_pages += (a - b) if out is not None else 0
    return {
        "fires": fires,
        "first": first,
        "dropped": sum(first.values()),
        "dropped_pages": dropped_pages,
        "lines_in": lines_in,
        "removed": removed,
        "formulas": f_total,
        "formulas_kept": f_kept,
        "posts_fast": posts_fast,
        "posts_kept": posts_kept,
        "posts_lost_kept_pages": posts_lost_kept_pages,
        "seconds": time.perf_counter() - t0,
    }


def time_mathmine(docs: list[dict], cfg: CleanConfig) -> float:
    t0 = time.perf_counter()
    for d in docs:
        clean_document(d, cfg)
    return time.perf_counter() - t0


# --- datatrove ----------------------------------------------------------------------------------


def datatrove_filters():
    """datatrove's four filters at their defaults, or None if datatrove is not installed."""
    try:
        from datatrove.pipeline.filters import (
            C4QualityFilter,
            FineWebQualityFilter,
            GopherQualityFilter,
            GopherRepetitionFilter,
        )
        from datatrove.utils.text import split_into_words

        split_into_words("warm up the spaCy tokenizer.")
    except Exception as e:  # ImportError, or spaCy missing for the word tokenizer
        print(
            f"datatrove columns skipped: {type(e).__name__}: {e}".splitlines()[0]
            + "\n  install with: .venv/bin/pip install -e '.[bench]'"
        )
        return None
    return {
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4": C4QualityFilter(),
        "fineweb": FineWebQualityFilter(),
    }


def _dt_drops(result) -> bool:
    return result is not True and not (isinstance(result, tuple) and result[0])


def run_datatrove(docs: list[dict], filters: dict) -> dict:
    from datatrove.data import Document

    fires: Counter = Counter()
    first: Counter = Counter()
    lines_in = lines_removed = 0
    f_total = f_kept = 0
    t0 = time.perf_counter()
    for i, d in enumerate(docs):
        # each family alone, on the raw text
        for fam in DT_FAMILIES:
            doc = Document(text=d["text"], id=str(i), metadata={"url": d.get("url", "")})
            if _dt_drops(filters[fam].filter(doc)):
                fires[fam] += 1
        # the FineWeb chain: repetition -> quality -> C4 (edits lines) -> FineWeb
        doc = Document(text=d["text"], id=str(i), metadata={"url": d.get("url", "")})
        n0 = sum(1 for ln in d["text"].split("\n") if ln.strip())
        lines_in += n0
        reason = None
        for fam in DT_FAMILIES:
            before = doc.text
            r = filters[fam].filter(doc)
            if _dt_drops(r):
                reason = f"{fam}:{r[1] if isinstance(r, tuple) else 'drop'}"
                doc.text = before
                break
        if reason:
            first[reason] += 1
        else:
            lines_removed += n0 - sum(1 for ln in doc.text.split("\n") if ln.strip())
        fs = formulas(d["text"])
        f_total += len(fs)
        if not reason:
            f_kept += sum(1 for f in fs if f in doc.text)
    return {
        "fires": fires,
        "first": first,
        "dropped": sum(first.values()),
        "lines_in": lines_in,
        "lines_removed": lines_removed,
        "formulas": f_total,
        "formulas_kept": f_kept,
        "seconds": time.perf_counter() - t0,
    }


def time_datatrove(docs: list[dict], filters: dict) -> float:
    from datatrove.data import Document

    t0 = time.perf_counter()
    for i, d in enumerate(docs):
        doc = Document(text=d["text"], id=str(i), metadata={})
        for fam in DT_FAMILIES:
            if _dt_drops(filters[fam].filter(doc)):
                break
    return time.perf_counter() - t0


# --- report -------------------------------------------------------------------------------------


def pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:5.1f}%" if d else "   - "


def share(n: int, d: int) -> str:
    """n of d as a share that is never rounded up to 100% (99.995% prints as 99.99%)."""
    if not d:
        return "-"
    return f"{n:,} of {d:,} ({int(10_000 * n / d) / 100:.2f}%)"


def print_rules() -> None:
    print("== the chain (pipeline/clean_rules.py), in order ==")
    for r in RULES:
        print(f"{r.name:<18} {r.kind:<6} family {r.family:<17} reads {r.reads}")
        print(f"{'':<18} keys: {', '.join('clean.' + k for k in r.config_keys)}")
        print(f"{'':<18} math: {r.math_safety}")
        if r.counters:
            shown = ", ".join(r.counters[:4]) + (", ..." if len(r.counters) > 4 else "")
            print(f"{'':<18} counters: {shown}")


def print_before_after(corpora: list[Corpus], before: dict, after: dict) -> None:
    print("\n== pages dropped, before -> after the thread-aware rules ==")
    print(
        f"{'corpus':<30}{'pages':>6}{'not cleaned':>13}{'dropped before':>16}{'after':>14}"
        f"{'formulas kept before':>23}{'after':>12}"
    )
    for c in corpora:
        b, a = before[c.name], after[c.name]
        n = len(c.docs)
        nc = sum(c.not_cleaned.values())
        print(
            f"{c.name:<30}{n:>6}{nc:>13}{b['dropped']:>6} {pct(b['dropped'], n):>8}"
            f"{a['dropped']:>6} {pct(a['dropped'], n):>7}"
            f"{pct(b['formulas_kept'], b['formulas']):>23}{pct(a['formulas_kept'], a['formulas']):>12}"
        )
    print("(not cleaned: dropped by the extract stage before clean, e.g. not English or empty)")

    print("\n== each page-rule family on its own: share of pages it drops, before -> after ==")
    print(f"{'corpus':<30}" + "".join(f"{f[:17]:>18}" for f in PAGE_FAMILIES))
    for c in corpora:
        n = len(c.docs)
        cells = [
            f"{pct(before[c.name]['fires'][f], n).strip()}->{pct(after[c.name]['fires'][f], n).strip()}"
            for f in PAGE_FAMILIES
        ]
        print(f"{c.name:<30}" + "".join(f"{x:>18}" for x in cells))

    print("\n== lines removed by each line rule (share of non-blank lines), after ==")
    print(f"{'corpus':<30}" + "".join(f"{r[:17]:>18}" for r in LINE_RULE_NAMES))
    for c in corpora:
        a = after[c.name]
        print(
            f"{c.name:<30}"
            + "".join(f"{pct(a['removed'][r], a['lines_in']):>18}" for r in LINE_RULE_NAMES)
        )


def print_datatrove(corpora: list[Corpus], mm: dict, dt: dict) -> None:
    names = [c.name for c in corpora if c.name in dt]
    size = {c.name: len(c.docs) for c in corpora}
    print("\n== mathmine (after) vs datatrove: share of pages each family drops on its own ==")
    print(f"{'rule family':<20}" + "".join(f"{n[:22]:>24}" for n in names))
    print(f"{'':<20}" + "".join(f"{'mathmine':>12}{'datatrove':>12}" for _ in names))
    fam_mm = {"c4": "c4", "fineweb": "fineweb"}
    for fam in DT_FAMILIES:
        row = f"{fam:<20}"
        for n in names:
            row += f"{pct(mm[n]['fires'][fam_mm.get(fam, fam)], size[n]):>12}"
            row += f"{pct(dt[n]['fires'][fam], size[n]):>12}"
        print(row)
    row = f"{'whole chain':<20}"
    for n in names:
        row += f"{pct(mm[n]['dropped'], size[n]):>12}{pct(dt[n]['dropped'], size[n]):>12}"
    print(row)
    row = f"{'formulas kept':<20}"
    for n in names:
        row += f"{pct(mm[n]['formulas_kept'], mm[n]['formulas']):>12}"
        row += f"{pct(dt[n]['formulas_kept'], dt[n]['formulas']):>12}"
    print(row + "   (dropped pages count as lost)")
    for n in names:
        a, b = mm[n]["first"], dt[n]["first"]
        if not (a or b):
            continue
        print(f"\n  {n}: first failing rule of the chain")
        w = max([len(x) for x in list(a) + list(b)] + [10])
        la, lb = a.most_common(), b.most_common()
        print(f"  {'mathmine':<{w}} {'n':>4}    {'datatrove':<{w}} {'n':>4}")
        for i in range(max(len(la), len(lb))):
            ra = f"{la[i][0]:<{w}} {la[i][1]:>4}" if i < len(la) else " " * (w + 5)
            rb = f"{lb[i][0]:<{w}} {lb[i][1]:>4}" if i < len(lb) else ""
            print(f"  {ra}    {rb}")


def print_targets(corpora: list[Corpus], before: dict, after: dict) -> None:
    print("\n== targets ==")
    print("threads: 0 dropped by cleaning, every post present after cleaning (harvest gold)")
    for c in (c for c in corpora if c.kind == "thread"):
        b, a = before[c.name], after[c.name]
        posts = (
            f"; posts present {a['posts_kept']} of {a['posts_fast']} in the fast text"
            f" (before {b['posts_kept']}), {a['posts_lost_kept_pages']} of them lost on kept"
            " pages"
            if a["posts_fast"]
            else ""
        )
        met = a["dropped"] == 0 and a["posts_kept"] == a["posts_fast"]
        print(
            f"  {c.name}: {a['dropped']} of {len(c.docs)} dropped (before {b['dropped']})"
            f"{posts} -> {'met' if met else 'NOT met'}"
        )
        for src, reason, _ in a["dropped_pages"]:
            print(f"      dropped: {src[-70:]}  {reason}")
    print("math pages: 0 dropped, formulas kept")
    for c in (c for c in corpora if c.kind == "math"):
        b, a = before[c.name], after[c.name]
        met = a["dropped"] == 0 and a["formulas_kept"] == a["formulas"]
        print(
            f"  {c.name}: {a['dropped']} of {len(c.docs)} dropped (before {b['dropped']}),"
            f" formulas kept {share(a['formulas_kept'], a['formulas'])}"
            f" (before {share(b['formulas_kept'], b['formulas'])}) -> {'met' if met else 'NOT met'}"
        )
        worst = sorted(a["dropped_pages"], key=lambda x: -x[2])[:8]
        for src, reason, nf in worst:
            print(f"      dropped: {src[-60:]}  {reason}  ({nf} formulas)")
        if len(a["dropped_pages"]) > len(worst):
            print(f"      ... and {len(a['dropped_pages']) - len(worst)} more")
    print(
        f"non-math pages: drop rate of the chain and of each family within {MAX_NONMATH_SHIFT} point"
    )
    for c in (c for c in corpora if c.kind == "nonmath"):
        b, a = before[c.name], after[c.name]
        n = len(c.docs)
        shifts = {"whole chain": (b["dropped"], a["dropped"])}
        shifts.update({f: (b["fires"][f], a["fires"][f]) for f in PAGE_FAMILIES})
        worst = max(abs(y - x) * 100.0 / n for x, y in shifts.values()) if n else 0.0
        parts = ", ".join(
            f"{k} {pct(x, n).strip()}->{pct(y, n).strip()}" for k, (x, y) in shifts.items()
        )
        print(
            f"  {c.name} ({n} pages, {n - a['dropped']} kept): {parts}; largest shift"
            f" {worst:.2f} points -> {'met' if worst <= MAX_NONMATH_SHIFT else 'NOT met'}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="the shared data folder (default: $MATHMINE_BENCH_DATA)")
    args = ap.parse_args(argv)
    data = args.data or os.environ.get("MATHMINE_BENCH_DATA")

    cfg = CleanConfig()
    print_rules()
    corpora = load_fixture_corpora()
    if data:
        corpora += load_shared_corpora(Path(data))
    else:
        print("\nshared corpora skipped (wcxb, magic-html, math seeds, non-math pages):")
        print("  pass --data DIR or set MATHMINE_BENCH_DATA to the shared data folder")
    before = {c.name: run_mathmine(c.docs, before_config(cfg)) for c in corpora}
    after = {c.name: run_mathmine(c.docs, cfg) for c in corpora}
    print_before_after(corpora, before, after)
    filters = datatrove_filters()
    if filters:
        dt = {c.name: run_datatrove(c.docs, filters) for c in corpora if c.datatrove}
        print_datatrove(corpora, after, dt)
    print_targets(corpora, before, after)

    # speed: the fixture pages through both chains, best of 3, this process
    pages = [d for c in corpora if c.datatrove for d in c.docs]
    mb = sum(len(d["text"]) for d in pages) / 1e6
    t_mm = min(time_mathmine(pages, cfg) for _ in range(3))
    t_before = min(time_mathmine(pages, before_config(cfg)) for _ in range(3))
    print(f"\n== speed ({len(pages)} pages, {mb:.1f} MB of text, one core) ==")
    print(f"mathmine clean_document: {len(pages) / t_mm:8.0f} pages/s  {mb / t_mm:6.2f} MB/s")
    print(f"  without the thread-aware rules: {len(pages) / t_before:.0f} pages/s")
    if filters:
        t_dt = min(time_datatrove(pages, filters) for _ in range(3))
        print(f"datatrove 4-filter chain: {len(pages) / t_dt:7.0f} pages/s  {mb / t_dt:6.2f} MB/s")
        print(f"ratio mathmine / datatrove: {t_dt / t_mm:.2f}x")
    # what the analysis costs on its own (spans, lines, tokens), for the record
    t0 = time.perf_counter()
    for d in pages:
        analyse(normalize_text(d["text"]))
    t_an = time.perf_counter() - t0
    n_lines = sum(len(split_lines(d["text"])) for d in pages)
    print(f"normalise + analyse alone: {len(pages) / t_an:.0f} pages/s ({n_lines} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
