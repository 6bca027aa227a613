"""Extraction benchmark: quality, speed and math recall, each against baselines run here.

    python -m benchmarks.bench_extract [--aeb DIR] [--warc FILE] [--skip-f1] [--skip-speed]

1. Careful path: mean per-page token F1 on the article-extraction-benchmark (181 pages with
   ground truth), next to trafilatura ``favor_precision``, trafilatura default and
   resiliparse ``main_content`` measured on the same pages in the same run.
2. Fast path: pages/s on one core over a WARC made by ``make_bench_warc.py``, counting WARC
   reading and charset detection, next to plain resiliparse (FastWARC + detect_encoding +
   extract_plain_text) over the same file, and next to resiliparse extraction alone on the
   pages already decoded (the figure the issue's 500 pages/s target was set against: 590).
3. Formula recall per markup kind on the fixtures in tests/data/html (both paths).

Data: ``--aeb`` / ``--warc``, else ``$MATHMINE_BENCH_DATA/article-extraction-benchmark`` and
``$MATHMINE_BENCH_DATA/bench.warc.gz``. A missing input skips its section with a message.
"""

from __future__ import annotations

import argparse
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
FIXTURES = REPO / "tests" / "data" / "html"
_WORD = re.compile(r"\w+")


def token_f1(pred: str, truth: str) -> float:
    """Bag-of-words F1 (lower-cased \\w+ tokens, multiset overlap)."""
    p = Counter(_WORD.findall(pred.lower()))
    t = Counter(_WORD.findall(truth.lower()))
    if not p or not t:
        return 1.0 if not p and not t else 0.0
    overlap = sum((p & t).values())
    if not overlap:
        return 0.0
    prec, rec = overlap / sum(p.values()), overlap / sum(t.values())
    return 2 * prec * rec / (prec + rec)


def _default_path(arg: str | None, name: str) -> Path | None:
    if arg:
        return Path(arg)
    base = os.environ.get("MATHMINE_BENCH_DATA")
    return Path(base) / name if base else None


def load_aeb(root: Path) -> list[tuple[str, str, str]]:
    """[(url, html, truth)] of the article-extraction-benchmark folder."""
    from pipeline.charset import decode_html

    truth = json.loads(gzip.open(root / "ground-truth.json.gz").read())
    pages = []
    for p in sorted((root / "html").glob("*.html.gz")):
        key = p.name.split(".")[0]
        if key not in truth:
            continue
        html, _ = decode_html(gzip.open(p).read())
        pages.append((truth[key].get("url", ""), html, truth[key]["articleBody"]))
    return pages


def bench_f1(root: Path) -> dict:
    import trafilatura
    from resiliparse.extract.html2text import extract_plain_text

    from pipeline.config import ExtractConfig
    from pipeline.html_text import Extraction, extract_text

    pages = load_aeb(root)
    cfg = ExtractConfig(page_timeout_s=0)

    def ours(mode):
        def f(url, html):
            r = extract_text(html, url=url, mode=mode, config=cfg)
            return r.text if isinstance(r, Extraction) else ""

        return f

    systems = {
        "mathmine careful": ours("careful"),
        "trafilatura favor_precision": lambda url, html: (
            trafilatura.extract(html, url=url, favor_precision=True) or ""
        ),
        "trafilatura default": lambda url, html: trafilatura.extract(html, url=url) or "",
        "resiliparse main_content": lambda url, html: extract_plain_text(html, main_content=True),
        "mathmine fast": ours("fast"),
    }
    out = {}
    print(f"\n[1] token F1 on article-extraction-benchmark ({len(pages)} pages)")
    for name, fn in systems.items():
        t0 = time.perf_counter()
        scores = [token_f1(fn(url, html), truth) for url, html, truth in pages]
        dt = time.perf_counter() - t0
        out[name] = statistics.mean(scores)
        print(f"  {name:30s} F1 {out[name]:.4f}   ({len(pages) / dt:6.1f} pages/s)")
    base = out["trafilatura favor_precision"]
    print(
        f"  careful / trafilatura favor_precision = {out['mathmine careful'] / base:.4f}"
        f"   (target: careful F1 >= 0.96)"
    )
    return out


def _plain_resiliparse(path: Path) -> int:
    """Baseline: FastWARC + detect_encoding + resiliparse main-content extraction."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    n = 0
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True):
            body = rec.reader.read()
            html = bytes_to_str(body, detect_encoding(body))
            extract_plain_text(HTMLTree.parse(html), main_content=True)
            n += 1
    return n


def _decoded_pages(path: Path) -> list[str]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    pages = []
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True):
            body = rec.reader.read()
            pages.append(bytes_to_str(body, detect_encoding(body)))
    return pages


def _extraction_alone(pages: list[str]) -> int:
    """The issue's reference figure: resiliparse parse + main-content extraction of pages
    already read and decoded (no WARC reading, no charset detection)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    for html in pages:
        extract_plain_text(HTMLTree.parse(html), main_content=True)
    return len(pages)


def _ours_fast(path: Path) -> tuple[int, int]:
    """mathmine fast path: pipeline.warc reading + decode_html + extract_text(mode='fast')."""
    from pipeline.charset import decode_html
    from pipeline.config import ExtractConfig
    from pipeline.html_text import Extraction, extract_text
    from pipeline.records import Dropped
    from pipeline.warc import iter_records

    cfg = ExtractConfig()
    n = formulas = 0
    with open(path, "rb") as f:
        for rec in iter_records(f, str(path), cfg):
            if isinstance(rec, Dropped):
                continue
            html, _ = decode_html(rec.body, rec.content_type)
            r = extract_text(html, url=rec.url, mode="fast", config=cfg)
            n += 1
            if isinstance(r, Extraction):
                formulas += r.formulas
    return n, formulas


def bench_speed(path: Path, repeats: int = 3) -> dict:
    print(f"\n[2] fast path throughput, one core, over {path} ({path.stat().st_size / 1e6:.1f} MB)")
    pages = _decoded_pages(path)
    systems = (
        ("extraction alone", lambda _p: _extraction_alone(pages)),
        ("plain resiliparse", _plain_resiliparse),
        ("mathmine fast", _ours_fast),
    )
    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    ratios: list[float] = []
    for _ in range(repeats):
        # alternate A, B in every round: on a shared machine the load drifts, and a ratio of
        # two runs made seconds apart is steadier than either absolute figure
        round_t = {}
        for name, fn in systems:
            t0 = time.perf_counter()
            res = fn(path)
            round_t[name] = time.perf_counter() - t0
            counts[name] = res if isinstance(res, int) else res[0]
            best[name] = min(best.get(name, round_t[name]), round_t[name])
        ratios.append(round_t["plain resiliparse"] / round_t["mathmine fast"])
    out = {}
    for name, dt in best.items():
        out[name] = counts[name] / dt
        print(f"  {name:20s} {counts[name]} pages in {dt:6.2f} s = {out[name]:7.1f} pages/s (best)")
    out["ratio_median"] = statistics.median(ratios)
    print(
        f"  mathmine fast / plain resiliparse: median of {repeats} paired rounds "
        f"{out['ratio_median']:.3f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(
        "  target: >= 500 pages/s on one core; the issue measured resiliparse extraction alone "
        f"at ~590 pages/s on its machine, here it runs {out['extraction alone']:.0f}"
    )
    return out


def bench_formulas() -> dict:
    sys.path.insert(0, str(REPO))
    from pipeline.html_text import Extraction, extract_text
    from tests.test_extract_fixtures import expected_formulas, fixture_pages, recall_of

    print(f"\n[3] formula recall per markup kind on {FIXTURES.relative_to(REPO)}")
    per_kind: dict[tuple[str, str], list[int]] = {}
    for page in fixture_pages():
        html = page.html()
        want = expected_formulas(page, html)
        for mode in ("fast", "careful"):
            r = extract_text(html, url=page.url, mode=mode)
            text = r.text if isinstance(r, Extraction) else ""
            found, total = recall_of(want, text)
            acc = per_kind.setdefault((page.kind, mode), [0, 0])
            acc[0] += found
            acc[1] += total
    out = {}
    print(f"  {'kind':18s} {'fast':>16s} {'careful':>16s}")
    for kind in sorted({k for k, _ in per_kind}):
        row = []
        for mode in ("fast", "careful"):
            found, total = per_kind.get((kind, mode), [0, 0])
            out[f"{kind}/{mode}"] = found / total if total else 1.0
            row.append(f"{found:4d}/{total:<4d} {100 * out[f'{kind}/{mode}']:5.1f}%")
        print(f"  {kind:18s} {row[0]:>16s} {row[1]:>16s}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aeb", help="article-extraction-benchmark folder")
    ap.add_argument("--warc", help="WARC made by make_bench_warc.py")
    ap.add_argument("--skip-f1", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-formulas", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    results: dict = {}
    if not args.skip_f1:
        aeb = _default_path(args.aeb, "article-extraction-benchmark")
        if aeb and (aeb / "ground-truth.json.gz").is_file():
            results["f1"] = bench_f1(aeb)
        else:
            print(
                "[1] skipped: no article-extraction-benchmark folder; pass --aeb DIR or set "
                "MATHMINE_BENCH_DATA to a folder containing article-extraction-benchmark/"
            )
    if not args.skip_speed:
        warc = _default_path(args.warc, "bench.warc.gz")
        if warc and warc.is_file():
            results["speed"] = bench_speed(warc, args.repeats)
        else:
            print(
                "[2] skipped: no benchmark WARC; build one with make_bench_warc.py and pass "
                "--warc FILE or put it at $MATHMINE_BENCH_DATA/bench.warc.gz"
            )
    if not args.skip_formulas:
        results["formula_recall"] = bench_formulas()
    print("\n" + json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
