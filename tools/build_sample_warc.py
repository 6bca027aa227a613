#!/usr/bin/env python3
"""Build the bundled sample WARC (sample/sample.warc.gz) from the team's shared data folder.

    python tools/build_sample_warc.py --shared DIR [OUT_DIR]    (OUT_DIR defaults to sample/)

Run once by hand; the pipeline and the tests only read what this writes:
``sample.warc.gz`` (Common Crawl shaped: a warcinfo record, then request/response/metadata
triples, gzipped per record), ``manifest.tsv`` (url, kind=math|nonmath, source, near_dup_of: one
row per HTML response) and ``SOURCES.md`` (attribution for every source).

Page bytes are copied unchanged; only WARC and HTTP headers are made here. The genuine Common
Crawl excerpts (and dolma's small science WARCs) are copied gzip member by gzip member, byte for
byte, records and headers untouched.

Classifier hygiene: the recall engineer trains on math-seeds (not discrete-math-levin-html) and
on non-math pages of nonmath-pages / article-extraction-benchmark / readability-test-pages,
holding out a stable-hash 20% of them (classifiers/build_data.py ``_held_out``). This sample
takes from those three sets only pages in the held-out part, so no page here was a training
example; trafilatura-eval pages (never used by the classifier) fill up the non-math side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import random
import re
import sys
import uuid
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REPO = Path(__file__).resolve().parent.parent
HELDOUT_PCT = 20  # must equal classifiers/build_data.py HELDOUT_PCT (tests check the split)
MAX_WARC_BYTES = 10_000_000
SEED = 20240520
LEVIN_BASE = "https://discrete.openmathbooks.org/dmoi4/"
# pages of a math site that are navigation/front matter rather than math text
# pi-ch* are 10-30 word peer-instruction stubs; *-a4 are print copies of other pages
LEVIN_SKIP = re.compile(
    r"^(index|dmoi4|frontmatter|backmatter|preface|peer-instruction|pi-ch)|-a4$"
)
# The book keeps old URLs of renamed sections (sec_paths and sec_gt-paths: word 5-gram Jaccard
# 0.997): real near-duplicates, marked in manifest.tsv so tests expect one of each pair.
NEAR_DUP_JACCARD = 0.75
READABILITY_MATH = ("mathjax", "wikipedia-3", "quanta-1")
MATH_MARKERS = re.compile(
    rb"mathjax|katex|<math[\s>]|\\frac\{|\\begin\{(equation|align)|class=\"tex\"|alt=\"\\\\",
    re.IGNORECASE,
)
GENUINE_CC = ("cc_whirlwind.warc.gz", "resiliparse_warcfile.warc.gz")
DOLMA_SCIENCE = {"dolma_science_0.warc.gz": "math", "dolma_science_1.warc.gz": "nonmath"}
DOLMA_MATH_URLS = {"http://localhost:8000/math.html", "http://localhost:8000/taylor.html"}

# non-math budget per source (pages); the size cap keeps the whole WARC under MAX_WARC_BYTES
NONMATH_CAPS = {
    "nonmath-pages": 150,
    "article-extraction-benchmark": 30,
    "readability-test-pages": 20,
    "trafilatura-eval": 200,
}
MAX_NONMATH_GZ = 45_000  # skip very large pages: a few hundred pages must fit in ~10 MB


def held_out(key: str) -> bool:
    """The classifier's held-out split (same hash as classifiers/build_data.py)."""
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 100 < HELDOUT_PCT


def canonical_url(html: bytes) -> str:
    head = html[:200_000]
    for pat in (
        rb"<link[^>]*rel=[\"']canonical[\"'][^>]*href=[\"']([^\"']+)[\"']",
        rb"<link[^>]*href=[\"']([^\"']+)[\"'][^>]*rel=[\"']canonical[\"']",
        rb"<meta[^>]*property=[\"']og:url[\"'][^>]*content=[\"']([^\"']+)[\"']",
        rb"saved from url=\(\d+\)(https?://\S+?) ?-->",
    ):
        m = re.search(pat, head, re.IGNORECASE)
        if m:
            url = m.group(1).decode("utf-8", "replace").strip()
            if re.match(r"https?://[^/\s]+", url):
                return url.replace("&amp;", "&")
    return ""


def has_math(html: bytes) -> bool:
    return bool(MATH_MARKERS.search(html))


def near_duplicates(pages) -> dict[str, str]:
    """url -> url of an earlier (sorted) page whose main text it nearly repeats."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    shingles = {}
    for url, _kind, _src, html in sorted(pages):
        words = extract_plain_text(
            HTMLTree.parse(bytes_to_str(html, detect_encoding(html))), main_content=True
        ).split()
        shingles[url] = set(zip(words, words[1:], words[2:], words[3:], words[4:]))
    dup_of: dict[str, str] = {}
    urls = list(shingles)
    for i, a in enumerate(urls):
        for b in urls[i + 1 :]:
            sa, sb = shingles[a], shingles[b]
            if b not in dup_of and sa and sb and len(sa & sb) / len(sa | sb) >= NEAR_DUP_JACCARD:
                dup_of[b] = dup_of.get(a, a)
    return dup_of


# ------------------------------------------------------------------------------------------
# page sources: each yields (url, kind, source, html bytes)


def levin_pages(shared: Path):
    root = shared / "math-seeds" / "discrete-math-levin-html"
    for p in sorted(root.glob("*.html.gz")):
        name = p.name[: -len(".html.gz")]
        if LEVIN_SKIP.search(name):
            continue
        yield LEVIN_BASE + name + ".html", "math", "discrete-math-levin-html", gzip.open(p).read()


def readability_math_pages(shared: Path):
    for d in READABILITY_MATH:
        html = gzip.open(shared / "readability-test-pages" / d / "source.html.gz").read()
        yield canonical_url(html), "math", f"readability-test-pages/{d}", html


def tsne_page(shared: Path):
    html = gzip.open(shared / "trafilatura-eval/cache/en.wikipedia.org.tsne.html.gz").read()
    yield canonical_url(html), "math", "trafilatura-eval/cache/en.wikipedia.org.tsne.html", html


def nonmath_pages(shared: Path):
    base = shared / "nonmath-pages"
    for line in (base / "manifest.tsv").read_text().splitlines()[1:]:
        cols = line.split("\t")
        f, kind, site, gz = cols[0], cols[3], cols[4], int(cols[7])
        if not held_out(f) or gz > MAX_NONMATH_GZ:
            continue
        html = gzip.open(base / f).read()
        url = canonical_url(html) or fallback_url(site, f)
        yield url, "nonmath", f"nonmath-pages/{f} ({kind})", html


def fallback_url(site: str, file: str) -> str:
    """A plausible URL for a page whose HTML names none (site labels are not always hosts)."""
    stem = Path(file).name.removesuffix(".html.gz")
    if site.startswith("court:"):  # juriscraper court id -> the court's opinions listing
        return f"https://www.courtlistener.com/?court={site.split(':', 1)[1]}&example={stem}"
    if "javadoc" in site.lower():  # EasyPost javadoc on GitHub Pages
        path = file.split("/", 1)[1].removesuffix(".html.gz")
        return f"https://easypost.github.io/easypost-java/{path}.html"
    if "." not in site or " " in site:
        return ""
    return f"https://{site}/{stem}"


def aeb_pages(shared: Path):
    root = shared / "article-extraction-benchmark"
    truth = json.loads(gzip.open(root / "ground-truth.json.gz").read())
    for p in sorted((root / "html").glob("*.html.gz")):
        key = p.name.split(".")[0]
        if not held_out(f"aeb-{key}") or p.stat().st_size > MAX_NONMATH_GZ:
            continue
        html = gzip.open(p).read()
        url = truth.get(key, {}).get("url") or canonical_url(html)
        if url:
            yield url, "nonmath", f"article-extraction-benchmark/html/{p.name}", html


def readability_nonmath_pages(shared: Path):
    root = shared / "readability-test-pages"
    for d in sorted(x for x in root.iterdir() if x.is_dir()):
        src = d / "source.html.gz"
        if d.name in READABILITY_MATH or not src.exists() or not held_out(f"rb-{d.name}"):
            continue
        if src.stat().st_size > MAX_NONMATH_GZ:
            continue
        html = gzip.open(src).read()
        url = canonical_url(html)
        if url:
            yield url, "nonmath", f"readability-test-pages/{d.name}", html


def trafilatura_pages(shared: Path):
    root = shared / "trafilatura-eval"
    meta = json.loads(gzip.open(root / "evaldata.json.gz").read())
    for url, v in sorted(meta.items()):
        if "://" not in url or "tsne" in v["file"]:
            continue
        p = root / "eval" / (v["file"] + ".gz")
        if not p.exists():
            p = root / "cache" / (v["file"] + ".gz")
        if not p.exists() or p.stat().st_size > MAX_NONMATH_GZ:
            continue
        yield url, "nonmath", f"trafilatura-eval/{p.parent.name}/{p.name}", gzip.open(p).read()


# ------------------------------------------------------------------------------------------
# writing


def record_uuid(*parts: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join(parts))}>"


def content_type(html: bytes) -> str:
    try:
        html.decode("utf-8")
        return "text/html; charset=UTF-8"
    except UnicodeDecodeError:
        return "text/html"  # unknown server charset: the extractor must detect it, as on the web


def write_page(w: WARCWriter, url: str, html: bytes, when: dt.datetime) -> None:
    date = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    host = url.split("/")[2]
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    req_id = record_uuid("request", url)
    resp_id = record_uuid("response", url)
    req_http = StatusAndHeaders(
        f"GET {path} HTTP/1.1",
        [
            ("Host", host),
            ("User-Agent", "CCBot/2.0 (https://commoncrawl.org/faq/)"),
            ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            ("Accept-Encoding", "br,gzip"),
        ],
        is_http_request=True,
    )
    req = w.create_warc_record(
        url,
        "request",
        payload=io.BytesIO(b""),
        http_headers=req_http,
        warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": req_id},
    )
    resp_http = StatusAndHeaders(
        "200 OK",
        [
            ("Content-Type", content_type(html)),
            ("Content-Length", str(len(html))),
            ("Date", when.strftime("%a, %d %b %Y %H:%M:%S GMT")),
        ],
        protocol="HTTP/1.1",
    )
    resp = w.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(html),
        length=None,
        http_headers=resp_http,
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Record-ID": resp_id,
            "WARC-Concurrent-To": req_id,
        },
    )
    meta = w.create_warc_record(
        url,
        "metadata",
        payload=io.BytesIO(b"fetchTimeMs: 212\r\ncharset-detected: UTF-8\r\n"),
        warc_content_type="application/warc-fields",
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Record-ID": record_uuid("metadata", url),
            "WARC-Refers-To": resp_id,
        },
    )
    for r in (req, resp, meta):
        w.write_record(r)


def collect(shared: Path) -> tuple[list[tuple[str, str, str, bytes]], dict[str, int]]:
    math = [*levin_pages(shared), *readability_math_pages(shared), *tsne_page(shared)]
    nonmath = []
    taken: dict[str, int] = {}
    for src, gen in (
        ("nonmath-pages", nonmath_pages(shared)),
        ("article-extraction-benchmark", aeb_pages(shared)),
        ("readability-test-pages", readability_nonmath_pages(shared)),
        ("trafilatura-eval", trafilatura_pages(shared)),
    ):
        for page in gen:
            if taken.get(src, 0) >= NONMATH_CAPS[src] or has_math(page[3]):
                continue
            taken[src] = taken.get(src, 0) + 1
            nonmath.append(page)
    pages, seen = [], set()
    for page in math + nonmath:
        page = (page[0].strip(), *page[1:])  # an evaldata key has a trailing space
        if page[0] in seen or not page[0] or any(c.isspace() for c in page[0]):
            continue
        seen.add(page[0])
        pages.append(page)
    return pages, taken


def build(shared: Path, out_dir: Path) -> dict:
    pages, taken = collect(shared)
    rng = random.Random(SEED)
    rng.shuffle(pages)  # a crawl interleaves topics
    out_dir.mkdir(parents=True, exist_ok=True)
    warc_path = out_dir / "sample.warc.gz"
    t0 = dt.datetime(2024, 5, 20, 3, 0, tzinfo=dt.UTC)
    # only the math side is checked: a shard test needs to know which math pages may collapse
    dup_of = near_duplicates([p for p in pages if p[1] == "math"])
    manifest = []
    # genuine excerpts go in whole, at fixed positions among the generated triples
    inserts = {
        len(pages) // 4: GENUINE_CC[0],
        len(pages) // 2: GENUINE_CC[1],
        (3 * len(pages)) // 4: "dolma_science_0.warc.gz",
        len(pages) - 1: "dolma_science_1.warc.gz",
    }
    with open(warc_path, "wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.0")
        info = w.create_warcinfo_record(
            warc_path.name,
            {
                "software": "mathmine tools/build_sample_warc.py (page bytes unchanged)",
                "format": "WARC File Format 1.0",
                "description": "mathmine bundled sample: real math and non-math pages; see SOURCES.md",
                "isPartOf": "mathmine-sample",
            },
        )
        info.rec_headers.replace_header("WARC-Record-ID", record_uuid("warcinfo", "sample"))
        info.rec_headers.replace_header("WARC-Date", t0.strftime("%Y-%m-%dT%H:%M:%SZ"))
        w.write_record(info)
        for i, (url, kind, source, html) in enumerate(pages):
            if i in inserts:
                manifest += copy_warc(shared / "warc" / inserts[i], fh)
            write_page(w, url, html, t0 + dt.timedelta(seconds=7 * i))
            manifest.append((url, kind, source, dup_of.get(url, "")))
    size = warc_path.stat().st_size
    if size > MAX_WARC_BYTES:
        raise SystemExit(f"{warc_path} is {size} bytes, over {MAX_WARC_BYTES}: lower the caps")
    with open(out_dir / "manifest.tsv", "w") as f:
        f.write("url\tkind\tsource\tnear_dup_of\n")
        for row in manifest:
            f.write("\t".join(row) + "\n")
    write_sources(out_dir, manifest)
    unattributed = [r for r in manifest if not _attributed(r)]
    if unattributed:
        raise SystemExit(f"no SOURCES.md row for {unattributed[:3]}")
    kinds = {k: sum(1 for r in manifest if r[1] == k) for k in ("math", "nonmath")}
    return {
        "warc": str(warc_path),
        "bytes": size,
        "pages": len(manifest),
        **kinds,
        "nonmath_by_source": taken,
    }


NONMATH_FOLDER_LICENSES = {
    "zyte-product-benchmark": "scrapinghub/product-extraction-benchmark @ cba97d7a8d42aeefd4021bc15d482f297faceaa3, MIT (Zyte)",
    "recipe-scrapers": "hhursev/recipe-scrapers @ d08ddd0240ee0ff73dd9d705e43077a821944716, MIT",
    "juriscraper": "freelawproject/juriscraper @ 8446197f3885164fd337624490cf466d8817d775, BSD-2-Clause (Free Law Project)",
    "sportsipy": "roclark/sportsipy @ fffb7c8170454720622089cf794ebcb106245e4d, MIT",
    "howdoi-page-cache": "gleitz/howdoi @ 033dd3ced06761d9d0b3a52068ea358405ab79d9, MIT",
    "discourse-onebox": "discourse/onebox @ a40aabdffe51d35d6a715b92776dc8be97f34dc3, MIT",
    "drf-mkdocs-site": "encode/django-rest-framework gh-pages @ c043dfea4f8e0c3122005284ebc17cd62a66d375, BSD-3-Clause",
    "easypost-javadoc": "EasyPost/easypost-java @ c20bfaf4fa68b95fdacecde40d4b78fcfef5422f, MIT",
    "sqlalchemy-docs": "PyPI sdist sqlalchemy-2.1.9 (built Sphinx docs), MIT",
    "alembic-docs": "PyPI sdist alembic-1.20.1 (built docs), MIT",
    "mako-docs": "PyPI sdist mako-1.4.3 (built docs), MIT",
}

SOURCES_HEAD = """# sample/ — the bundled sample WARC: sources and licenses

`sample.warc.gz` is written by `tools/build_sample_warc.py --shared <shared data folder>`
(deterministic: rebuilding gives the same bytes). Every page in it is a real third-party page;
page bytes are copied unchanged, only WARC/HTTP headers (and Common-Crawl-style request and
metadata records) were written by mathmine. The genuine Common Crawl and dolma records are
copied byte for byte, headers included. `manifest.tsv` lists every HTML response:
`url`, `kind` (math | nonmath), `source` (file it came from), `near_dup_of` (a math page whose
main text is a >= 0.75 word-5-gram Jaccard repeat of another page of the book: dedup keeps one).

URLs: the page's own canonical / og:url / "saved from" URL when it has one; the source data's
URL otherwise (article-extraction-benchmark ground truth, trafilatura evaldata keys); for
discrete-math-levin-html the book's site `https://discrete.openmathbooks.org/dmoi4/<page>`;
for nonmath-pages without a canonical URL `https://<site>/<file stem>` (site from that set's
manifest: plausible, not necessarily live).

Page content belongs to its authors and sites; it is redistributed here as test/sample data
under the licenses of the collections that publish it, listed below. None of these pages is a
training example of the bundled classifier (see the builder's docstring).

| source | pages here | kind | origin | license |
|---|---|---|---|---|
"""


def write_sources(out_dir: Path, manifest) -> None:
    def count(prefix: str) -> int:
        return sum(1 for r in manifest if r[2].startswith(prefix))

    rows = [
        (
            "warc/cc_whirlwind.warc.gz",
            "nonmath",
            "Genuine Common Crawl CC-MAIN-2024-22 excerpt, commoncrawl/whirlwind-python @ 08dcfbe4d579a7b1ee27e7ce39a019de6292c1c7 `whirlwind.warc.gz` (warcinfo, request, response, metadata); page an.wikipedia.org (CC BY-SA)",
            "Apache-2.0 (repo); Common Crawl Terms of Use",
        ),
        (
            "warc/resiliparse_warcfile.warc.gz",
            "nonmath",
            "Genuine Common Crawl CC-MAIN-2020-34 excerpt, chatnoir-eu/chatnoir-resiliparse @ 70459f0399718955d7dff1dec30781e07af1bbb7 `tests/data/warcfile.warc.gz` (50 records)",
            "Apache-2.0 (repo); Common Crawl Terms of Use",
        ),
        (
            "warc/dolma_science_0.warc.gz",
            "math",
            "allenai/dolma @ 42e1514cc11750de140376e55c2ecea2ae6682da `tests/data/science/0.warc.gz` (math.html, taylor.html)",
            "Apache-2.0",
        ),
        (
            "warc/dolma_science_1.warc.gz",
            "nonmath",
            "allenai/dolma @ 42e1514cc11750de140376e55c2ecea2ae6682da `tests/data/science/1.warc.gz` (games.html, science.html)",
            "Apache-2.0",
        ),
        (
            "discrete-math-levin-html",
            "math",
            "Oscar Levin, *Discrete Mathematics: An Open Introduction* (4th ed.), oscarlevin/discrete-book gh-pages @ e5e8c57c9754416b36aeef5d3b2673887541f0b8 (PreTeXt HTML, MathJax 3)",
            "CC BY-SA 4.0, (c) Oscar Levin",
        ),
        (
            "readability-test-pages/mathjax",
            "math",
            "mozilla/readability @ ab4027a8b37669745016869a37a504727992b2ba `test/test-pages/mathjax` (MathJax demo page mml-chtml)",
            "Apache-2.0 (repo; MathJax demos Apache-2.0)",
        ),
        (
            "readability-test-pages/wikipedia-3",
            "math",
            "same repo, `test/test-pages/wikipedia-3` (Wikipedia: Hermitian matrix)",
            "Apache-2.0 (repo); article text CC BY-SA 4.0, Wikipedia contributors",
        ),
        (
            "readability-test-pages/quanta-1",
            "math",
            "same repo, `test/test-pages/quanta-1` (Quanta Magazine, The Hidden Heroines of Chaos)",
            "Apache-2.0 (repo); article (c) Quanta Magazine",
        ),
        (
            "trafilatura-eval/cache/en.wikipedia.org.tsne",
            "math",
            "adbar/trafilatura @ e90b0ef51ab026fdb905fb6c5b3c84dd3d784fd5 `tests/cache/en.wikipedia.org.tsne.html` (Wikipedia: t-SNE)",
            "Apache-2.0 (repo); article text CC BY-SA 4.0, Wikipedia contributors",
        ),
        (
            "readability-test-pages/",
            "nonmath",
            "mozilla/readability @ ab4027a8b37669745016869a37a504727992b2ba `test/test-pages/*` (news/blog pages; the classifier's held-out part only)",
            "Apache-2.0 (repo); pages third-party",
        ),
        (
            "article-extraction-benchmark",
            "nonmath",
            "scrapinghub/article-extraction-benchmark @ 4a3bc979f76c0df73cb95fe272e2fc1b96f9f010 `html/*.html.gz` (news/blog pages; held-out part only)",
            "MIT (Zyte); pages third-party",
        ),
        (
            "trafilatura-eval/eval",
            "nonmath",
            "adbar/trafilatura @ e90b0ef51ab026fdb905fb6c5b3c84dd3d784fd5 `tests/eval/*.html` (multilingual news, blogs, gov pages)",
            "Apache-2.0 (repo); pages third-party",
        ),
        (
            "trafilatura-eval/cache",
            "nonmath",
            "same repo, `tests/cache/*.html` (other than t-SNE)",
            "Apache-2.0 (repo); pages third-party",
        ),
    ]
    lines = [SOURCES_HEAD]
    for prefix, kind, origin, lic in rows:
        n = sum(1 for r in manifest if r[2].startswith(prefix) and r[1] == kind)
        lines.append(f"| {prefix} | {n} | {kind} | {origin} | {lic} |\n")
    for folder, origin in NONMATH_FOLDER_LICENSES.items():
        n = count(f"nonmath-pages/{folder}/")
        if n:
            repo, lic = origin.rsplit(", ", 1)
            lines.append(
                f"| nonmath-pages/{folder} | {n} | nonmath | {repo} (held-out part only) | {lic}; pages third-party |\n"
            )
    total = len(manifest)
    lines.append(f"\nTotal: {total} HTML pages ({sum(r[1] == 'math' for r in manifest)} math).\n")
    (out_dir / "SOURCES.md").write_text("".join(lines))


def copy_warc(path: Path, fh) -> list[tuple[str, str, str, str]]:
    """Append a real WARC file member by member, unchanged; manifest rows for its HTML pages."""
    sys.path.insert(0, str(REPO))
    from pipeline.config import ExtractConfig
    from pipeline.records import RawRecord
    from pipeline.warc import iter_records

    data = path.read_bytes()
    fh.write(data)
    rows = []
    kind_default = DOLMA_SCIENCE.get(path.name, "nonmath")
    for item in iter_records(io.BytesIO(data), path.name, ExtractConfig()):
        if isinstance(item, RawRecord):
            kind = "math" if item.url in DOLMA_MATH_URLS else kind_default
            if kind_default == "math" and item.url not in DOLMA_MATH_URLS:
                kind = "nonmath"
            if kind == "nonmath" and has_math(item.body):
                raise SystemExit(f"{item.url} in {path.name} has math markup: label it")
            rows.append((item.url, kind, f"warc/{path.name} (genuine records, unchanged)", ""))
    return rows


def _attributed(row) -> bool:
    src = row[2]
    if src.startswith("nonmath-pages/"):
        return src.split("/")[1] in NONMATH_FOLDER_LICENSES
    return src.startswith(
        (
            "warc/",
            "discrete-math-levin-html",
            "readability-test-pages/",
            "article-extraction-benchmark",
            "trafilatura-eval/",
        )
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--shared",
        required=True,
        type=Path,
        help="the shared data folder holding warc/, math-seeds/, nonmath-pages/, ...",
    )
    ap.add_argument("out", nargs="?", type=Path, default=REPO / "sample")
    a = ap.parse_args(argv)
    print(json.dumps(build(a.shared.resolve(), a.out), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
