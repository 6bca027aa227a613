"""Rebuild the clean-stage text fixtures from the team's shared data (run once, by hand).

Not used at test time: the tests read the committed JSONL files next to this script.
Usage: .venv/bin/python tests/data/clean/build_fixtures.py /path/to/shared/data
       .venv/bin/python tests/data/clean/build_fixtures.py /path/to/shared/data out/sample
       (the second form writes math_pages_extracted.jsonl from a `mathmine sample` run)
       .venv/bin/python tests/data/clean/build_fixtures.py /path/to/shared/data --math-tables
       (writes only math_tables.jsonl: PlanetMath table pages through mathmine's fast path)

Math pages become text the way the extractor emits it: MathML with ``alttext`` -> ``$..$`` /
``$$..$$``, MathJax ``\\(..\\)`` / ``\\[..\\]`` left as written, Markdown+LaTeX and StackMathQA
JSONL as written. Non-math pages go through resiliparse's plain-text extractor (main content,
as the fast path does), so their junk is real extraction junk.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

OUT = Path(__file__).parent


def _html_with_tex(html: str) -> str:
    """Replace every <math alttext=..> element by its TeX between dollars."""
    import lxml.html

    root = lxml.html.fromstring(html)
    for m in root.xpath("//*[local-name()='math']"):
        tex = (m.get("alttext") or "").strip()
        if tex.startswith("{\\displaystyle") and tex.endswith("}"):
            tex = tex[len("{\\displaystyle") : -1].strip()
        block = m.get("display") == "block"
        span = m.makeelement("span", {})
        span.text = f"$${tex}$$" if block else f"${tex}$"
        span.tail = m.tail
        parent = m.getparent()
        # Wikipedia wraps MathML in a span next to an <img> fallback; drop the fallback image
        parent.replace(m, span)
    for img in root.xpath("//img[contains(@class,'mwe-math-fallback')]"):
        img.getparent().remove(img)
    return lxml.html.tostring(root, encoding="unicode")


def _plain(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=True, alt_texts=False, preserve_formatting=True)


def _gz(p: Path) -> str:
    return gzip.decompress(p.read_bytes()).decode("utf-8", "replace")


def build_math(shared: Path) -> list[dict]:
    rng = random.Random(7)
    docs = []
    seeds = shared / "math-seeds"
    cp = sorted((seeds / "cp-algorithms-md").glob("*/*.md.gz"))
    for p in rng.sample(cp, 14):
        rel = p.relative_to(seeds / "cp-algorithms-md").as_posix()[: -len(".md.gz")]
        docs.append(
            {
                "source": "cp-algorithms-md",
                "url": f"https://cp-algorithms.com/{rel}.html",
                "text": _gz(p),
            }
        )
    lines = gzip.decompress(
        (seeds / "stackmathqa" / "stackmathqa100k_shards_32-127.jsonl.gz").read_bytes()
    ).splitlines()
    for i in rng.sample(range(len(lines)), 12):
        row = json.loads(lines[i])
        meta = row.get("meta") or {}
        url = meta.get("url") or f"https://math.stackexchange.com/questions/stackmathqa-{i}"
        docs.append(
            {"source": "stackmathqa", "url": url, "text": row["Q"].strip() + "\n\n" + row["A"]}
        )
    pm = sorted((seeds / "planetmath").glob("*/html/*.html.gz"))
    for p in rng.sample(pm, 10):
        name = p.name[: -len(".html.gz")]
        docs.append(
            {
                "source": "planetmath-html",
                "url": f"https://planetmath.org/{name.split('-', 2)[-1].lower()}",
                "text": _plain(_html_with_tex(_gz(p))),
            }
        )
    lev = sorted((seeds / "discrete-math-levin-html").glob("sec_*.html.gz"))
    for p in rng.sample(lev, 6):
        docs.append(
            {
                "source": "discrete-math-levin-html",
                "url": f"https://discrete.openmathbooks.org/dmoi4/{p.name[: -len('.gz')]}",
                "text": _plain(_gz(p)),
            }
        )
    rp = shared / "readability-test-pages"
    for name, url in (
        ("mathjax", "https://www.mathjax.org/example-page"),
        ("wikipedia-3", "https://en.wikipedia.org/wiki/Hermitian_matrix"),
    ):
        docs.append(
            {
                "source": f"readability-test-pages/{name}",
                "url": url,
                "text": _plain(_html_with_tex(_gz(rp / name / "source.html.gz"))),
            }
        )
    return docs


def build_nonmath(shared: Path) -> list[dict]:
    rng = random.Random(11)
    root = shared / "nonmath-pages"
    rows = [r.split("\t") for r in (root / "manifest.tsv").read_text().splitlines()[1:]]
    by_kind: dict[str, list[list[str]]] = {}
    for r in rows:
        if r[5] and not r[5].lower().startswith("en"):
            continue
        by_kind.setdefault(r[3], []).append(r)
    docs = []
    for kind, rs in sorted(by_kind.items()):
        for r in rng.sample(rs, min(len(rs), 8 if len(rs) > 20 else 2)):
            text = _plain(_gz(root / r[0]))
            if not text.strip():
                continue
            docs.append(
                {
                    "source": f"nonmath-pages/{r[0]}",
                    "kind": kind,
                    "url": f"https://{r[4]}/{Path(r[0]).name[:24]}",
                    "text": text[:30_000],
                }
            )
    return docs


OPENSTAX_MODULES = ("m81245", "m81255", "m81270", "m81418")  # exercise-heavy sections


def build_openstax(shared: Path) -> list[dict]:
    """OpenStax algebra sections with exercise sets: CNXML text of the innermost paragraph-like
    elements (para, title, item, equation), MathML linearised to ``$..$`` as the recall
    seeds do."""
    from lxml import etree

    mathml = "{http://www.w3.org/1998/Math/MathML}math"
    keep = ("para", "title", "item", "equation")
    out = []
    for mod in OPENSTAX_MODULES:
        f = shared / "math-seeds/openstax-algebra-cnxml/modules" / mod / "index.cnxml.gz"
        tree = etree.fromstring(gzip.decompress(f.read_bytes()))
        for m in list(tree.iter(mathml)):
            tex = " ".join(t.strip() for t in m.itertext() if t.strip())
            tail = m.tail
            for ch in list(m):
                m.remove(ch)
            m.text, m.tail = f" ${tex}$ ", tail
        paras = []
        for el in tree.iter():
            if not isinstance(el.tag, str) or etree.QName(el).localname not in keep:
                continue
            anc = el.getparent()
            while anc is not None and not (
                isinstance(anc.tag, str) and etree.QName(anc).localname in keep
            ):
                anc = anc.getparent()
            if anc is None:
                t = " ".join("".join(el.itertext()).split())
                if t:
                    paras.append(t)
        out.append(
            {
                "source": f"openstax-algebra-cnxml/modules/{mod}",
                "url": f"https://openstax.org/modules/{mod}",
                "text": "\n".join(paras),
            }
        )
    return out


def build_extracted(run_dir: Path) -> list[dict]:
    """The math pages of the bundled sample WARC as mathmine's own extractor emitted them
    (docs/ of a ``mathmine sample`` run): every math page except Levin's book, of which every
    fourth page (in URL order) is taken to keep the file small."""
    import csv

    import pyarrow.parquet as pq

    repo = Path(__file__).resolve().parents[3]
    with open(repo / "sample" / "manifest.tsv", newline="") as f:
        kinds = {r["url"]: r for r in csv.DictReader(f, delimiter="\t")}
    rows = pq.read_table(run_dir / "docs", columns=["url", "text"]).to_pylist()
    math = sorted(
        (r for r in rows if kinds.get(r["url"], {}).get("kind") == "math"), key=lambda r: r["url"]
    )
    levin = [r for r in math if "openmathbooks.org" in r["url"]]
    keep = [r for r in math if "openmathbooks.org" not in r["url"]] + levin[::4]
    return [
        {"source": f"sample-warc/{kinds[r['url']]['source']}", "url": r["url"], "text": r["text"]}
        for r in keep
    ]


# PlanetMath pages that are tables of invariants: short math tokens by nature (the factorization
# table was dropped by Gopher's mean word length, the others by its alphabetic-word share)
MATH_TABLE_PAGES = (
    "11_Number_theory/html/11A41-TableOfIntegerFactorizationsFor0N1001.html.gz",
    "11_Number_theory/html/11A51-FactorizationsOfNFor1N50.html.gz",
    "11_Number_theory/html/11N56-ListOfDivisorsOfSomeSmallHighlyCompositeNumbers.html.gz",
)


def build_math_tables(shared: Path) -> list[dict]:
    """PlanetMath table pages as mathmine's extract stage emits them (fast path)."""
    from pipeline.html_text import extract_text

    out = []
    for rel in MATH_TABLE_PAGES:
        name = rel.rsplit("/", 1)[-1][: -len(".html.gz")]
        url = f"https://planetmath.org/{name.split('-', 1)[-1].lower()}"
        ext = extract_text(_gz(shared / "math-seeds/planetmath" / rel), url=url, mode="fast")
        out.append({"source": f"planetmath/{rel}", "url": url, "text": ext.text})
    return out


def main() -> None:
    shared = Path(sys.argv[1])
    if sys.argv[2:] == ["--math-tables"]:
        docs = build_math_tables(shared)
        with open(OUT / "math_tables.jsonl", "w") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        print("math_tables", len(docs), sum(len(d["text"]) for d in docs), "chars")
        return
    if len(sys.argv) > 2:
        # a `mathmine sample` run folder: the extractor's own text of the sample's math pages
        docs = build_extracted(Path(sys.argv[2]))
        with open(OUT / "math_pages_extracted.jsonl", "w") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        print("math_pages_extracted", len(docs), sum(len(d["text"]) for d in docs), "chars")
        return
    for name, docs in (
        ("math_pages", build_math(shared)),
        ("nonmath_pages", build_nonmath(shared)),
        ("openstax_exercises", build_openstax(shared)),
    ):
        with open(OUT / f"{name}.jsonl", "w") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        print(name, len(docs), sum(len(d["text"]) for d in docs), "chars")


if __name__ == "__main__":
    main()
