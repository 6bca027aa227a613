"""Build the bundled seed, negative and held-out sets under classifiers/data/ (run once, by hand).

    python -m classifiers.build_data --shared DIR_WITH_math-seeds_gsm8k_nonmath-pages [--out classifiers/data]

Never run at pipeline or test time: the pipeline reads only the JSONL.gz files this writes.
Held-out rows are chosen by a stable hash of the *source document* (a chapter for the long
TeX books, a question for StackMathQA), so no held-out text shares a document with training text.
discrete-math-levin-html is deliberately not used: the bundled sample WARC holds those pages.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
from pathlib import Path

MAX_WORDS = 1500  # stored text per doc: the scorer reads only the first 2,000 words anyway
HELDOUT_PCT = 20  # percent of source documents held out for evaluation

_TEX_PREAMBLE_END = re.compile(r"\\begin\{document\}")
_TEX_DOC_END = re.compile(r"\\end\{document\}")
_TEX_COMMENT = re.compile(r"(?<!\\)%.*")
_TEX_SECTION = re.compile(r"(?=\\section\{)")


def _held_out(key: str) -> bool:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 100 < HELDOUT_PCT


def _truncate(text: str) -> str:
    words = text.split(" ")
    text = " ".join(words[: MAX_WORDS * 2]) if len(words) > MAX_WORDS * 2 else text
    out, n = [], 0
    for line in text.split("\n"):
        n += len(line.split())
        out.append(line)
        if n >= MAX_WORDS:
            break
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _tex_body(src: str) -> str:
    m = _TEX_PREAMBLE_END.search(src)
    if m:
        src = src[m.end() :]
    m = _TEX_DOC_END.search(src)
    if m:
        src = src[: m.start()]
    return _TEX_COMMENT.sub("", src)


def _rows_planetmath(root: Path):
    for f in sorted((root / "math-seeds/planetmath").glob("*/*.tex.gz")):
        body = _tex_body(gzip.open(f, "rt", errors="replace").read())
        name = f.name.removesuffix(".tex.gz")
        yield (
            name,
            {
                "text": body,
                "url": f"https://planetmath.org/{name.split('-', 2)[-1].lower()}",
                "source": "planetmath",
            },
        )


def _rows_cpalgo(root: Path):
    for f in sorted((root / "math-seeds/cp-algorithms-md").glob("*/*.md.gz")):
        text = gzip.open(f, "rt", errors="replace").read()
        text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
        rel = f"{f.parent.name}/{f.name.removesuffix('.md.gz')}"
        yield (
            rel,
            {
                "text": text,
                "url": f"https://cp-algorithms.com/{rel}.html",
                "source": "cp-algorithms",
            },
        )


def _rows_stackmathqa(root: Path):
    f = root / "math-seeds/stackmathqa/stackmathqa100k_shards_32-127.jsonl.gz"
    for line in gzip.open(f, "rt"):
        r = json.loads(line)
        url = r["meta"]["url"]
        q = url.split("/questions/")[-1].split("/")[0] if "/questions/" in url else url
        yield (
            f"smqa-{url.split('/')[2]}-{q}",
            {"text": f"{r['Q']}\n\n{r['A']}", "url": url, "source": "stackmathqa"},
        )


def _rows_texbook(root: Path, folder: str, site: str):
    for f in sorted((root / "math-seeds" / folder).glob("*.tex.gz")):
        body = _tex_body(gzip.open(f, "rt", errors="replace").read())
        chapter = f.name.removesuffix(".tex.gz")
        for i, part in enumerate(p for p in _TEX_SECTION.split(body) if len(p.split()) > 80):
            # key on the chapter: all sections of a chapter land on the same side of the split
            yield (
                f"{folder}-{chapter}",
                {"text": part, "url": f"https://{site}/{chapter}#s{i}", "source": folder},
            )


_CNXML = "{http://cnx.rice.edu/cnxml}"
_CNXML_BLOCKS = {_CNXML + t for t in ("para", "title", "item", "problem", "solution", "equation")}


def _cnxml_blocks(tree) -> list[str]:
    """The text of every CNXML block (para, title, list item, problem, solution, equation)
    once, in document order: a block's own text without the blocks nested in it (an exercise's
    problem holds paras; taking both text-wise wrote every exercise twice)."""

    def holds_block(el) -> bool:
        return any(d.tag in _CNXML_BLOCKS for d in el.iterdescendants())

    out: list[str] = []

    def block(el) -> None:
        buf: list[str] = [el.text or ""]

        def flush() -> None:
            t = " ".join("".join(buf).split())
            if t:
                out.append(t)
            buf.clear()

        for ch in el:
            if not isinstance(ch.tag, str):
                pass
            elif ch.tag in _CNXML_BLOCKS or holds_block(ch):
                flush()
                walk(ch)
            else:
                buf.append("".join(ch.itertext()))
            buf.append(ch.tail or "")
        flush()

    def walk(el) -> None:
        if el.tag in _CNXML_BLOCKS:
            block(el)
        else:
            for ch in el:
                if isinstance(ch.tag, str):
                    walk(ch)

    walk(tree)
    return out


def _rows_openstax(root: Path):
    from lxml import etree

    for f in sorted((root / "math-seeds/openstax-algebra-cnxml/modules").glob("*/index.cnxml.gz")):
        tree = etree.fromstring(gzip.open(f).read())
        for m in tree.iter("{http://www.w3.org/1998/Math/MathML}math"):
            # linearise MathML to the TeX-ish form an extractor produces: $a+b=c$
            tex = " ".join(t.strip() for t in m.itertext() if t.strip())
            tail = m.tail
            for ch in list(m):
                m.remove(ch)
            m.text = f" ${tex}$ "
            m.tail = tail
        paras = _cnxml_blocks(tree)
        mod = f.parent.name
        yield (
            mod,
            {
                "text": "\n".join(paras),
                "url": f"https://openstax.org/modules/{mod}",
                "source": "openstax",
            },
        )


def _rows_gsm8k(root: Path, limit: int):
    for i, line in enumerate(gzip.open(root / "gsm8k/train.jsonl.gz", "rt")):
        if i >= limit:
            break
        r = json.loads(line)
        yield (
            f"gsm8k-{i}",
            {
                "text": f"{r['question']}\n{r['answer']}",
                "url": f"gsm8k://train/{i}",
                "source": "gsm8k",
            },
        )


def _html_text(html: bytes) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(bytes_to_str(html, detect_encoding(html)))
    return extract_plain_text(tree, main_content=True, alt_texts=False, links=False)


def _rows_nonmath(root: Path):
    base = root / "nonmath-pages"
    lines = (base / "manifest.tsv").read_text().splitlines()[1:]
    for line in lines:
        cols = line.split("\t")
        f, kind, site = cols[0], cols[3], cols[4]
        text = _html_text(gzip.open(base / f).read())
        yield (
            f,
            {
                "text": text,
                "url": f"https://{site}/{Path(f).name.removesuffix('.html.gz')}",
                "source": f"nonmath-pages/{kind}",
            },
        )


def _rows_news(root: Path):
    gt = json.load(gzip.open(root / "article-extraction-benchmark/ground-truth.json.gz"))
    for key, r in sorted(gt.items()):
        yield (
            f"aeb-{key}",
            {
                "text": r["articleBody"],
                "url": r.get("url") or f"aeb://{key}",
                "source": "article-extraction-benchmark",
            },
        )
    rb = root / "readability-test-pages"
    for d in sorted(p for p in rb.iterdir() if p.is_dir()):
        if d.name in ("mathjax", "wikipedia-3", "quanta-1"):
            continue  # the math pages of the set (SOURCES.md); used as held-out positives below
        text = _html_text(gzip.open(d / "source.html.gz").read())
        yield (
            f"rb-{d.name}",
            {"text": text, "url": f"readability://{d.name}", "source": "readability-test-pages"},
        )
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz"):
        for line in gzip.open(root / "dolma-cc-text" / name, "rt"):
            r = json.loads(line)
            url = r.get("metadata", {}).get("url") or f"dolma://{r['id']}"
            yield f"dolma-{r['id']}", {"text": r["text"], "url": url, "source": "dolma-cc-text"}


def _write(path: Path, rows: list[dict]) -> None:
    with gzip.GzipFile(path, "wb", mtime=0, compresslevel=9) as f:
        for r in rows:
            f.write((json.dumps(r, ensure_ascii=False) + "\n").encode())


# Per-source caps keep the bundle a few MB and stop one source (Stacks chapters split into
# sections, GSM8K) from dominating; the held-out cap keeps positives and negatives comparable.
SEED_CAP = {"stacks-project-tex": 350, "gsm8k": 500, "planetmath": 600, "stackmathqa": 600}
HELDOUT_MATH_CAP = 50


def build(root: Path, out: Path, gsm8k_limit: int = 800) -> dict:
    seeds, negatives, heldout = [], [], []
    math_sources = [
        _rows_planetmath(root),
        _rows_cpalgo(root),
        _rows_stackmathqa(root),
        _rows_texbook(root, "stacks-project-tex", "stacks.math.columbia.edu/chapter"),
        _rows_texbook(root, "hott-book-tex", "homotopytypetheory.org/book"),
        _rows_openstax(root),
        _rows_gsm8k(root, gsm8k_limit),
    ]
    counts: dict[tuple[str, bool], int] = {}
    seen: set[str] = set()  # identical texts from different files (test fixtures repeat pages)
    for gen in math_sources:
        for key, row in gen:
            row["text"] = _truncate(row["text"])
            if len(row["text"].split()) < 30 or row["text"] in seen:
                continue
            seen.add(row["text"])
            held = _held_out(key)
            slot = (row["source"], held)
            if counts.get(slot, 0) >= (HELDOUT_MATH_CAP if held else SEED_CAP.get(slot[0], 10**9)):
                continue
            counts[slot] = counts.get(slot, 0) + 1
            (heldout if held else seeds).append({**row, "label": 1})
    # Hermitian matrix (Wikipedia, MathML): a real math web page, held out only
    wiki = _html_text(gzip.open(root / "readability-test-pages/wikipedia-3/source.html.gz").read())
    heldout.append(
        {
            "text": _truncate(wiki),
            "url": "readability://wikipedia-3",
            "source": "readability-test-pages",
            "label": 1,
        }
    )
    for gen in (_rows_nonmath(root), _rows_news(root)):
        for key, row in gen:
            row["text"] = _truncate(row["text"])
            if len(row["text"].split()) < 30 or row["text"] in seen:
                continue
            seen.add(row["text"])
            (heldout if _held_out(key) else negatives).append({**row, "label": 0})
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "seeds.jsonl.gz", [{k: r[k] for k in ("text", "url", "source")} for r in seeds])
    _write(
        out / "negatives.jsonl.gz",
        [{k: r[k] for k in ("text", "url", "source")} for r in negatives],
    )
    _write(out / "heldout.jsonl.gz", heldout)
    summary = {
        "seeds": len(seeds),
        "negatives": len(negatives),
        "heldout_pos": sum(r["label"] for r in heldout),
        "heldout_neg": sum(1 - r["label"] for r in heldout),
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", required=True, help="folder holding math-seeds/, gsm8k/, ...")
    p.add_argument("--out", default=str(Path(__file__).with_name("data")))
    a = p.parse_args(argv)
    print(json.dumps(build(Path(a.shared), Path(a.out))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
