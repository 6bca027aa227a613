"""Thread pages and math pages through both extraction paths: every post kept, per-post chrome
gone, and every formula of the fast text kept by the careful text.

    make bench-threads   (or: .venv/bin/python -m benchmarks.bench_threads [--data DIR] ...)

1. Math pages: per-page share of the fast text's formulas found in the careful text (mean,
   worst pages), on every math HTML page at hand: tests/data/html, the math pages of
   sample/sample.warc.gz, Levin's Discrete Mathematics and PlanetMath LaTeXML pages
   (math-seeds), the readability math pages, the harvest futura-sciences thread.
2. Thread pages with gold posts (tests/data/forum harvest, dev and test reported apart): gold
   posts kept (trigram containment >= 0.9, see tests/forum_gold.py), out of order, repeated,
   per-post chrome lines, for the fast path, trafilatura favor_precision (the careful path
   before threads were read) and the careful path; Stack Exchange pages: question, answers
   and comments kept (their texts read with lxml, an independent parser).
3. Unseen thread pages (forum-pages/wcxb, magic-html; no default was chosen on them): token
   recall / precision / F1 against their main-content ground truth, and chrome lines.
4. Article benchmark: careful-path token F1 (target >= 0.96) next to trafilatura
   favor_precision and the fast path, and which pages were read as threads.
5. Fast path cost: the thread gate on non-thread pages (us/page, share of pages let through),
   and fast extraction with and without threads on the pages it let through.

Data: ``--data DIR`` or ``$MATHMINE_BENCH_DATA`` (the shared data folder holding forum-pages/,
math-seeds/, readability-test-pages/, article-extraction-benchmark/, trafilatura-eval/,
nonmath-pages/). tests/data and sample/ are always used; a missing folder skips its part.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.charset import decode_html  # noqa: E402
from pipeline.config import ExtractConfig  # noqa: E402
from pipeline.html_text import Extraction, extract_text  # noqa: E402
from tests.forum_gold import forum_pages, score_posts, stackexchange_posts  # noqa: E402
from tests.test_extract_fixtures import formula_recall  # noqa: E402

CFG = ExtractConfig(page_timeout_s=0)
# the same without reading threads (the fields are absent from configs before they existed)
NO_THREADS = dataclasses.replace(
    CFG, **{k: False for k in ("forum_threads", "fast_forum_threads") if hasattr(CFG, k)}
)
# CJK scripts have no spaces: one token per character there, words elsewhere
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+"
)


def _read(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return decode_html(raw)[0]


def _text(html: str, url: str, mode: str, cfg: ExtractConfig = CFG) -> tuple[str, str]:
    r = extract_text(html, url=url, mode=mode, config=cfg)
    if isinstance(r, Extraction):
        return r.text, getattr(r, "source", "?")
    return "", f"dropped:{r.reason}"


def _trafilatura_precise(html: str, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url or None, favor_precision=True) or ""


# --- 1. math pages ---------------------------------------------------------------------------


def math_pages(data: Path | None, planetmath: int) -> list[tuple[str, str, str]]:
    """[(name, url, html)] of every math HTML page at hand."""
    from tests.test_extract_fixtures import fixture_pages

    pages = []
    for p in fixture_pages():
        if p.kind != "none":
            pages.append((f"tests/data/html/{p.file}", p.url, p.html()))
    pages.extend(_sample_math_pages())
    if data is None:
        return pages
    seeds = data / "math-seeds"
    for p in sorted((seeds / "discrete-math-levin-html").glob("*.html.gz")):
        pages.append(
            (f"levin/{p.name}", f"https://discrete.openmathbooks.org/dmoi4/{p.name[:-3]}", _read(p))
        )
    pm = sorted((seeds / "planetmath").glob("*/html/*.html.gz"))
    for p in pm[:planetmath] if planetmath >= 0 else pm:
        pages.append((f"planetmath/{p.name}", "", _read(p)))
    for name in ("mathjax", "wikipedia-3", "quanta-1"):
        p = data / "readability-test-pages" / name / "source.html.gz"
        if p.exists():
            pages.append((f"readability/{name}", "", _read(p)))
    for p in (data / "forum-pages" / "harvest" / "goldDocuments").glob("*latex-debarque*"):
        doc = json.loads(gzip.decompress(p.read_bytes()))
        pages.append((f"harvest/{p.name}", doc["url"], doc["html"]))
    return pages


def _sample_math_pages() -> list[tuple[str, str, str]]:
    from pipeline.records import Dropped
    from pipeline.warc import iter_records

    manifest = REPO / "sample" / "manifest.tsv"
    math_urls = {
        ln.split("\t")[0]
        for ln in manifest.read_text().splitlines()[1:]
        if ln.split("\t")[1:2] == ["math"]
    }
    out = []
    with open(REPO / "sample" / "sample.warc.gz", "rb") as f:
        for rec in iter_records(f, "sample.warc.gz", CFG):
            if not isinstance(rec, Dropped) and rec.url in math_urls:
                out.append(
                    (f"sample/{rec.url}", rec.url, decode_html(rec.body, rec.content_type)[0])
                )
    return out


def bench_math(data: Path | None, planetmath: int) -> dict:
    pages = math_pages(data, planetmath)
    print(f"\n[1] formulas of the fast text kept by the careful text, {len(pages)} math pages")
    rows = []
    sources: Counter = Counter()
    for name, url, html in pages:
        fast, _ = _text(html, url, "fast")
        careful, source = _text(html, url, "careful")
        traf = _trafilatura_precise_math(html, url)
        found, total = formula_recall(fast, careful)
        tfound, _ = formula_recall(fast, traf)
        sources[source] += 1
        if total:
            rows.append((found / total, tfound / total, total, name, source))
    by_set: dict[str, list] = {}
    for r in rows:
        by_set.setdefault(r[3].split("/")[0], []).append(r)
    print(
        f"  {'pages':22s} {'n':>4s} {'formulas':>8s} {'careful mean':>12s} {'worst':>6s}"
        "   (trafilatura alone: mean, worst)"
    )
    for name, rs in [*sorted(by_set.items()), ("all", rows)]:
        n_formulas = sum(r[2] for r in rs)
        print(
            f"  {name:22s} {len(rs):4d} {n_formulas:8d} {statistics.mean(r[0] for r in rs):12.4f}"
            f" {min(r[0] for r in rs):6.3f}   ({statistics.mean(r[1] for r in rs):.4f},"
            f" {min(r[1] for r in rs):.3f})"
        )
    print("  worst pages (careful recall, formulas, source):")
    for r in sorted(rows)[:5]:
        print(f"    {r[0]:.3f}  {r[2]:4d}  {r[4]:14s} {r[3]}")
    print(f"  sources: {dict(sources)}")
    print(
        "  trafilatura alone: favor_precision on the math-rewritten page, the careful path\n"
        "  without reading threads or putting formulas back"
    )
    return {
        "pages": len(rows),
        "mean": statistics.mean(r[0] for r in rows),
        "worst": min(r[0] for r in rows),
        "pages_below_1": sum(1 for r in rows if r[0] < 1),
        "trafilatura_mean": statistics.mean(r[1] for r in rows),
    }


def _trafilatura_precise_math(html: str, url: str) -> str:
    """trafilatura favor_precision on the page with math rewritten to LaTeX (the old careful
    path without its formula insertion)."""
    from resiliparse.parse.html import HTMLTree

    from pipeline.math_markup import protect_raw_tex, restore_placeholders, rewrite_math

    tree = HTMLTree.parse(html)
    res = rewrite_math(tree, html, 0.0, protect=True)
    serialized = protect_raw_tex(tree.document.html, res)
    return restore_placeholders(_trafilatura_markdown(serialized, url), res.placeholders)


def _trafilatura_markdown(html: str, url: str) -> str:
    import trafilatura

    return (
        trafilatura.extract(
            html,
            url=url or None,
            favor_precision=True,
            include_tables=True,
            include_formatting=True,
            output_format="markdown",
            deduplicate=False,
        )
        or ""
    )


# --- 2. gold threads -------------------------------------------------------------------------


def bench_gold_threads() -> dict:
    print("\n[2] thread pages with gold posts (tests/data/forum harvest)")
    out = {}
    systems = {
        "fast": lambda p, h: _text(h, p.url, "fast"),
        "fast, no threads": lambda p, h: _text(h, p.url, "fast", NO_THREADS),
        "trafilatura precision": lambda p, h: (_trafilatura_precise_math(h, p.url), "trafilatura"),
        "careful": lambda p, h: _text(h, p.url, "careful"),
    }
    for split in ("dev", "test"):
        pages = forum_pages(split, gold=True)
        print(f"  {split}: {len(pages)} pages, {sum(len(p.posts) for p in pages)} gold posts")
        print(
            f"    {'system':22s} {'posts kept':>14s} {'all kept':>9s} {'ooo':>4s} {'rep':>4s}"
            f" {'chrome':>7s} {'outside':>8s}"
        )
        for name, fn in systems.items():
            kept = total = full = ooo = rep = chrome = 0
            outside = []
            sources: Counter = Counter()
            for p in pages:
                text, source = fn(p, p.html())
                sources[source] += 1
                s = score_posts(text, p.posts)
                kept += s.kept
                total += s.posts
                full += s.kept == s.posts
                ooo += s.out_of_order
                rep += s.repeated
                chrome += s.chrome_lines
                outside.append(s.outside_share)
            out[f"{split}/{name}"] = {
                "posts_kept": kept / total,
                "pages_all_kept": full / len(pages),
            }
            print(
                f"    {name:22s} {kept:5d}/{total:<5d}{kept / total:4.0%}"
                f" {full:4d}/{len(pages):<4d}"
                f" {ooo:4d} {rep:4d} {chrome:7d} {statistics.mean(outside):8.2f}"
            )
            if name == "careful":
                print(f"      sources: {dict(sources)}")
        damaged = [p for p in pages if p.reserialized]
        print(
            f"    ({len(damaged)} of these pages had a self-closed <iframe/> from harvest's XHTML"
            " re-serialization, repaired before extraction: tests/forum_gold.py)"
        )
    print(
        "  posts kept: gold posts with >= 90% of their word trigrams in the text; all kept: pages\n"
        "  keeping every gold post; ooo: kept posts out of gold order; rep: posts whose text\n"
        "  appears twice; chrome: occurrences of lines repeated 3+ times in no gold post;\n"
        "  outside: mean share of the text's trigrams in no gold post (chrome, titles, ads)"
    )
    out["stackexchange"] = bench_stackexchange()
    return out


def bench_stackexchange() -> dict:
    pages = [p for p in forum_pages() if p.engine == "Stack Exchange"]
    print(
        f"\n  Stack Exchange pages ({len(pages)}, dev): posts present (trigram containment >= 0.9)"
    )
    res: dict = {}
    for name, mode in (("fast", "fast"), ("careful", "careful")):
        got: Counter = Counter()
        tot: Counter = Counter()
        for p in pages:
            html = p.html()
            text, _ = _text(html, p.url, mode)
            posts = stackexchange_posts(html)
            s = score_posts(text, [t for _, t in posts])
            for (kind, _), c in zip(posts, s.containment):
                tot[kind] += 1
                got[kind] += c >= 0.9
        res[name] = {k: got[k] / tot[k] for k in tot}
        print(
            f"    {name:8s} "
            + "  ".join(f"{k} {got[k]}/{tot[k]}" for k in ("question", "answer", "comment"))
        )
    return res


# --- 3. unseen thread pages ------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def prf(pred: str, truth: str) -> tuple[float, float, float]:
    p, t = Counter(_tokens(pred)), Counter(_tokens(truth))
    if not p or not t:
        return (0.0, 0.0, 0.0)
    o = sum((p & t).values())
    if not o:
        return (0.0, 0.0, 0.0)
    prec, rec = o / sum(p.values()), o / sum(t.values())
    return rec, prec, 2 * prec * rec / (prec + rec)


def repeated_lines(text: str, truth: str) -> int:
    """Occurrences of lines repeated 3+ times in ``text`` that the ground truth lacks."""
    t = " ".join(_tokens(truth))
    lines = Counter(" ".join(_tokens(ln)) for ln in text.splitlines())
    return sum(n for ln, n in lines.items() if ln and n >= 3 and ln not in t)


def unseen_pages(data: Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """{set: [(engine, url, html, truth)]}"""
    sets: dict[str, list] = {}
    wcxb = data / "forum-pages" / "wcxb"
    engines = {}
    for line in (wcxb / "SOURCES.md").read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 5 and cells[1].endswith(".html.gz"):
            engines[cells[1]] = cells[4].split("[")[0].strip()
    for split in ("dev", "test"):
        rows = []
        for p in sorted((wcxb / split / "html").glob("*.html.gz")):
            gt_path = wcxb / split / "ground-truth" / p.name.replace(".html.gz", ".json.gz")
            gt = json.loads(gzip.decompress(gt_path.read_bytes()))
            truth = gt["ground_truth"].get("main_content")
            if truth:  # one page has none
                engine = engines.get(f"{split}/html/{p.name}", "?")
                rows.append((engine, gt.get("url", ""), _read(p), truth))
        sets[f"wcxb {split}"] = rows
    mh = data / "forum-pages" / "magic-html"
    base = json.loads(gzip.decompress((mh / "base.json.gz").read_bytes()))
    eng = {}
    for line in (mh / "SOURCES.md").read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 5 and cells[1].endswith(".html"):
            eng[cells[1][:-5]] = cells[4].split("[")[0].strip()
    rows = []
    for key, v in sorted(base.items()):
        p = mh / f"{key}.html.gz"
        if p.exists():
            rows.append((eng.get(key, "?"), v.get("url", ""), _read(p), v["content"]))
    sets["magic-html"] = rows
    return sets


def bench_unseen(data: Path) -> dict:
    sets = unseen_pages(data)
    print(
        "\n[3] unseen thread pages: token recall / precision / F1 against main-content ground truth"
    )
    out = {}
    for name, rows in sets.items():
        print(f"  {name}: {len(rows)} pages")
        print(f"    {'system':22s} {'recall':>7s} {'prec':>7s} {'F1':>7s} {'chrome':>7s}")
        threads = Counter()
        for sys_name, fn in (
            ("fast, no threads", lambda u, h: _text(h, u, "fast", NO_THREADS)[0]),
            ("fast", lambda u, h: _text(h, u, "fast")[0]),
            ("trafilatura precision", lambda u, h: _trafilatura_precise_math(h, u)),
            ("careful", None),
        ):
            scores, chrome = [], 0
            for engine, url, html, truth in rows:
                if fn is None:
                    text, source = _text(html, url, "careful")
                    threads[(engine, source.startswith("thread"))] += 1
                else:
                    text = fn(url, html)
                scores.append(prf(text, truth))
                chrome += repeated_lines(text, truth)
            r, p, f = (statistics.mean(s[i] for s in scores) for i in range(3))
            out[f"{name}/{sys_name}"] = {"recall": r, "precision": p, "f1": f, "chrome": chrome}
            print(f"    {sys_name:22s} {r:7.3f} {p:7.3f} {f:7.3f} {chrome:7d}")
        read = sum(n for (e, t), n in threads.items() if t)
        print(f"    read as threads by the careful path: {read}/{len(rows)}")
        missed = Counter(e for (e, t), n in threads.items() for _ in range(n) if not t)
        print(f"    not read as threads, by engine: {dict(missed.most_common(12))}")
    return out


# --- 4. article benchmark --------------------------------------------------------------------


def bench_articles(data: Path) -> dict:
    from benchmarks.bench_extract import load_aeb, token_f1

    pages = load_aeb(data / "article-extraction-benchmark")
    print(f"\n[4] careful-path token F1 on the article benchmark ({len(pages)} pages)")
    out = {}
    sources: Counter = Counter()
    for name, fn in (
        ("careful", lambda u, h: _text(h, u, "careful")),
        ("careful, no threads", lambda u, h: _text(h, u, "careful", NO_THREADS)),
        ("trafilatura precision", lambda u, h: (_trafilatura_precise(h, u), "")),
        ("fast", lambda u, h: _text(h, u, "fast")),
    ):
        scores = []
        t0 = time.perf_counter()
        for url, html, truth in pages:
            text, source = fn(url, html)
            if name == "careful":
                sources[source] += 1
            scores.append(token_f1(text, truth))
        ms = (time.perf_counter() - t0) / len(pages) * 1000
        out[name] = statistics.mean(scores)
        print(f"  {name:24s} F1 {out[name]:.4f}   {ms:6.1f} ms/page")
    print(f"  careful sources: {dict(sources)}   (target: careful F1 >= 0.96)")
    return out


# --- 5. fast path cost -----------------------------------------------------------------------


def bench_gate(data: Path, repeats: int) -> dict:
    from benchmarks.bench_extract import load_aeb
    from pipeline.threads import looks_like_thread_url

    pages = [(u, h) for u, h, _ in load_aeb(data / "article-extraction-benchmark")]
    ev = data / "trafilatura-eval"
    for url, v in json.loads(gzip.decompress((ev / "evaldata.json.gz").read_bytes())).items():
        p = next(
            (
                d / f"{v['file']}.gz"
                for d in (ev / "eval", ev / "cache")
                if (d / f"{v['file']}.gz").exists()
            ),
            None,
        )
        if p is not None:
            pages.append((url, _read(p)))
    nonthread = [(u, h) for u, h in pages if u]
    threads = [(p.url, p.html()) for p in forum_pages()]
    print(f"\n[5] fast path cost of reading threads ({len(nonthread)} non-thread pages with URLs)")
    t0 = time.perf_counter()
    for _ in range(100):
        for u, _h in nonthread:
            looks_like_thread_url(u)
    gate_us = (time.perf_counter() - t0) / (100 * len(nonthread)) * 1e6
    let_through = [(u, h) for u, h in nonthread if looks_like_thread_url(u)]
    print(
        f"  URL gate: {gate_us:.2f} us/page; lets {len(let_through)}/{len(nonthread)} non-thread"
        " pages through to the selector walks"
    )
    out = {"gate_us": gate_us, "let_through": len(let_through) / len(nonthread)}
    for label, group in (
        ("non-thread pages", nonthread),
        ("let-through non-thread pages", let_through),
        ("thread pages (tests/data/forum)", threads),
    ):
        if not group:
            continue
        best = {}
        ratios = []
        for _ in range(repeats):
            rt = {}
            for name, cfg in (("off", NO_THREADS), ("on", CFG)):
                t0 = time.perf_counter()
                for u, h in group:
                    extract_text(h, url=u, mode="fast", config=cfg)
                rt[name] = (time.perf_counter() - t0) / len(group) * 1000
                best[name] = min(best.get(name, 1e9), rt[name])
            ratios.append(rt["on"] / rt["off"])
        print(
            f"  {label:32s} fast path {best['off']:6.2f} ms/page without threads, {best['on']:6.2f}"
            f" with (x{statistics.median(ratios):.3f}, median of {repeats} paired rounds)"
        )
        out[label] = {
            "off_ms": best["off"],
            "on_ms": best["on"],
            "ratio": statistics.median(ratios),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="shared data folder (default $MATHMINE_BENCH_DATA)")
    ap.add_argument("--planetmath", type=int, default=300, help="PlanetMath pages (-1: all 1,536)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--only", help="comma-separated sections to run: math,gold,unseen,articles,cost"
    )
    args = ap.parse_args(argv)
    base = args.data or os.environ.get("MATHMINE_BENCH_DATA")
    data = Path(base) if base else None
    if data is None or not data.is_dir():
        print(
            "no shared data folder: pass --data DIR or set MATHMINE_BENCH_DATA; only tests/data"
            " and sample/ are used"
        )
        data = None
    only = (
        set(args.only.split(",")) if args.only else {"math", "gold", "unseen", "articles", "cost"}
    )
    results: dict = {}
    if "math" in only:
        results["math"] = bench_math(data, args.planetmath)
    if "gold" in only:
        results["gold"] = bench_gold_threads()
    if data is not None:
        if "unseen" in only and (data / "forum-pages").is_dir():
            results["unseen"] = bench_unseen(data)
        if "articles" in only and (data / "article-extraction-benchmark").is_dir():
            results["articles"] = bench_articles(data)
        if "cost" in only and (data / "trafilatura-eval").is_dir():
            results["cost"] = bench_gate(data, args.repeats)
    print("\n" + json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
