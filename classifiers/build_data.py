"""Build the bundled training and evaluation sets under classifiers/data/ (run once, by hand).

    python -m classifiers.build_data --shared DIR_WITH_math-seeds_gsm8k_nonmath-pages [--out classifiers/data]

Never run at pipeline or test time: the pipeline reads only the JSONL.gz files this writes.

Every source *document* (a file; a question for StackMathQA; a chapter for the long TeX books,
whose sections are separate rows) falls in a band ``sha1(key) % 100``, so no evaluation text
shares a document with a training text:

- **train** (seeds.jsonl.gz, negatives.jsonl.gz): band >= 40 of the training collections.
- **dev** (heldout.jsonl.gz, ``"split": "dev"``): band < 20 of the training collections. This
  band was the whole held-out set before the split: ``recall.lr``, ``recall.max_words`` and the
  cleaning relaxations were chosen on it. Tune on dev.
- **test** (heldout.jsonl.gz, ``"split": "test"``): band 20-39 of the training collections (they
  were training rows before, never evaluated on) plus UNSEEN_COLLECTIONS, whole collections no
  training or dev row comes from (their band < 20 rows, once held out and looked at, are left
  out). No default was chosen on test.

Evaluation rows that are near-duplicates (NEAR_DUP_CONTAINMENT) of a training row are dropped;
test rows also when they are near-duplicates of a dev row or of a page of the cleaning fixtures
(tests/data/clean/*.jsonl, which the cleaning rules were developed on). Pages of the bundled
sample WARC (sample/manifest.tsv) are in no set: the sample run trains on its crawl's own pages
as negatives. Math rows are capped per source and set (EVAL_MATH_CAP), seeds per source.
discrete-math-levin-html is deliberately not used: the bundled sample WARC holds those pages.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

MAX_WORDS = 1500  # stored text per doc: the scorer reads only the first 2,000 words anyway
# Bands of sha1(document key) % 100. DEV_PCT is the held-out share of the earlier build (the
# sample WARC, tools/build_sample_warc.py, takes its non-math pages from that band only).
DEV_PCT = 20
TEST_PCT = 20
# Collections held out whole: they test pages unlike any seed or negative. cp-algorithms
# (Markdown articles with code) and the HoTT book (research TeX) are two of the seven math
# collections; dolma-cc-text (random Common Crawl pages) and wcxb forum threads (a genre no
# negative has) are non-math.
UNSEEN_COLLECTIONS = ("cp-algorithms", "hott-book-tex", "dolma-cc-text", "forum-pages")
# An evaluation row is a near-duplicate when this share of its distinct word 13-grams occurs in
# one single training row (test rows: or one dev row, or one cleaning fixture). 13 consecutive
# words are rarely shared by chance: unrelated documents of one collection share at most 0.6%
# (Stacks and HoTT chapters); from 5% up the shared 13-grams are copied passages (OpenStax
# definitions and worked examples restated across two books, 5-61%; a PlanetMath entry and its
# "properties of" entry, 68%; product pages of one shop, 7-90%); between 1% and 5% they are a
# quoted sentence or formula. 0.05 keeps copied passages out of evaluation.
NEAR_DUP_N = 13
NEAR_DUP_CONTAINMENT = 0.05

_TEX_PREAMBLE_END = re.compile(r"\\begin\{document\}")
_TEX_DOC_END = re.compile(r"\\end\{document\}")
_TEX_COMMENT = re.compile(r"(?<!\\)%.*")
_TEX_SECTION = re.compile(r"(?=\\section\{)")


def _band(key: str) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 100


def _held_out(key: str) -> bool:
    """Never a training document: the key falls in the dev or the test band."""
    return _band(key) < DEV_PCT + TEST_PCT


def _split_of(key: str, collection: str) -> str | None:
    """'train', 'dev', 'test', or None (an unseen collection's dev band: left out)."""
    band = _band(key)
    if collection in UNSEEN_COLLECTIONS:
        return "test" if band >= DEV_PCT else None
    if band < DEV_PCT:
        return "dev"
    return "test" if band < DEV_PCT + TEST_PCT else "train"


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


def _row(key: str, text: str, url: str, source: str) -> tuple[str, dict]:
    """(document key, row): the key is what the dev/test split groups by."""
    return key, {"text": text, "url": url, "source": source}


def _rows_planetmath(root: Path):
    for f in sorted((root / "math-seeds/planetmath").glob("*/*.tex.gz")):
        body = _tex_body(gzip.open(f, "rt", errors="replace").read())
        name = f.name.removesuffix(".tex.gz")
        yield _row(
            name, body, f"https://planetmath.org/{name.split('-', 2)[-1].lower()}", "planetmath"
        )


def _rows_cpalgo(root: Path):
    for f in sorted((root / "math-seeds/cp-algorithms-md").glob("*/*.md.gz")):
        text = gzip.open(f, "rt", errors="replace").read()
        text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
        rel = f"{f.parent.name}/{f.name.removesuffix('.md.gz')}"
        yield _row(rel, text, f"https://cp-algorithms.com/{rel}.html", "cp-algorithms")


def _rows_stackmathqa(root: Path):
    f = root / "math-seeds/stackmathqa/stackmathqa100k_shards_32-127.jsonl.gz"
    for line in gzip.open(f, "rt"):
        r = json.loads(line)
        url = r["meta"]["url"]
        q = url.split("/questions/")[-1].split("/")[0] if "/questions/" in url else url
        yield _row(f"smqa-{url.split('/')[2]}-{q}", f"{r['Q']}\n\n{r['A']}", url, "stackmathqa")


def _rows_texbook(root: Path, folder: str, site: str):
    for f in sorted((root / "math-seeds" / folder).glob("*.tex.gz")):
        body = _tex_body(gzip.open(f, "rt", errors="replace").read())
        chapter = f.name.removesuffix(".tex.gz")
        for i, part in enumerate(p for p in _TEX_SECTION.split(body) if len(p.split()) > 80):
            # key on the chapter: all sections of a chapter land on the same side of the split
            yield _row(f"{folder}-{chapter}", part, f"https://{site}/{chapter}#s{i}", folder)


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
        yield _row(mod, "\n".join(paras), f"https://openstax.org/modules/{mod}", "openstax")


def _rows_gsm8k(root: Path, limit: int):
    for i, line in enumerate(gzip.open(root / "gsm8k/train.jsonl.gz", "rt")):
        if i >= limit:
            break
        r = json.loads(line)
        yield _row(f"gsm8k-{i}", f"{r['question']}\n{r['answer']}", f"gsm8k://train/{i}", "gsm8k")


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
        yield _row(
            f,
            text,
            f"https://{site}/{Path(f).name.removesuffix('.html.gz')}",
            f"nonmath-pages/{kind}",
        )


def _rows_news(root: Path):
    gt = json.load(gzip.open(root / "article-extraction-benchmark/ground-truth.json.gz"))
    for key, r in sorted(gt.items()):
        yield _row(
            f"aeb-{key}",
            r["articleBody"],
            r.get("url") or f"aeb://{key}",
            "article-extraction-benchmark",
        )
    rb = root / "readability-test-pages"
    for d in sorted(p for p in rb.iterdir() if p.is_dir()):
        if d.name in ("mathjax", "wikipedia-3", "quanta-1"):
            continue  # the math pages of the set: in the sample WARC or of ambiguous label
        text = _html_text(gzip.open(d / "source.html.gz").read())
        yield _row(f"rb-{d.name}", text, f"readability://{d.name}", "readability-test-pages")
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz"):
        for line in gzip.open(root / "dolma-cc-text" / name, "rt"):
            r = json.loads(line)
            url = r.get("metadata", {}).get("url") or f"dolma://{r['id']}"
            yield _row(f"dolma-{r['id']}", r["text"], url, "dolma-cc-text")


def _rows_forums(root: Path):
    """wcxb forum threads (both of its splits; the same URL in both is kept once)."""
    base = root / "forum-pages/wcxb"
    for f in sorted(base.glob("*/html/*.html.gz")):
        part, fid = f.parts[-3], f.name.split(".")[0]
        truth = json.load(gzip.open(base / part / "ground-truth" / f"{fid}.json.gz"))
        text = _html_text(gzip.open(f).read())
        yield _row(f"wcxb-{truth['url']}", text, truth["url"], "forum-pages/wcxb")


def _sample_keys(manifest: Path) -> set[str]:
    """Document keys of the pages in the bundled sample WARC (its manifest's source column)."""
    keys: set[str] = set()
    for line in manifest.read_text().splitlines()[1:]:
        src = line.split("\t")[2].split(" ")[0]
        if src.startswith("nonmath-pages/"):
            keys.add(src.removeprefix("nonmath-pages/"))
        elif src.startswith("article-extraction-benchmark/"):
            keys.add("aeb-" + Path(src).name.split(".")[0])
        elif src.startswith("readability-test-pages/"):
            keys.add("rb-" + src.split("/")[1])
    return keys


def _word_ngrams(text: str) -> np.ndarray:
    """Distinct hashes of the word 13-grams of ``text`` (the decontamination stage's tokens)."""
    from pipeline.decontam import tokenize
    from pipeline.ngram_hash import ngram_hashes, token_hashes

    toks = tokenize(text)
    if len(toks) < NEAR_DUP_N:
        return np.empty(0, dtype=np.uint64)
    return np.unique(ngram_hashes(token_hashes(toks), NEAR_DUP_N))


class NgramOwners:
    """Which indexed documents hold each 13-gram, to find the largest share of a text's 13-grams
    that one indexed document holds (containment, not Jaccard: a short page copied into a long
    one counts)."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self.docs = 0
        self._hashes = np.empty(0, dtype=np.uint64)
        self._owners = np.empty(0, dtype=np.int64)

    def add(self, texts) -> None:
        for t in texts:
            hs = _word_ngrams(t)
            self._parts.append((hs, np.full(len(hs), self.docs, dtype=np.int64)))
            self.docs += 1
        hs = np.concatenate([h for h, _ in self._parts])
        owners = np.concatenate([o for _, o in self._parts])
        order = np.argsort(hs, kind="stable")
        self._hashes, self._owners = hs[order], owners[order]

    def containment(self, text: str) -> float:
        q = _word_ngrams(text)
        if not len(q) or not len(self._hashes):
            return 0.0
        lo = np.searchsorted(self._hashes, q, "left")
        hi = np.searchsorted(self._hashes, q, "right")
        n = hi - lo
        if not n.sum():
            return 0.0
        # every (13-gram, owner) pair: the owners of q[i] sit at lo[i] .. hi[i]-1
        starts = np.repeat(lo - np.concatenate(([0], np.cumsum(n)[:-1])), n)
        owners = self._owners[starts + np.arange(n.sum())]
        return float(np.bincount(owners).max() / len(q))


def _write(path: Path, rows: list[dict]) -> None:
    with gzip.GzipFile(path, "wb", mtime=0, compresslevel=9) as f:
        for r in rows:
            f.write((json.dumps(r, ensure_ascii=False) + "\n").encode())


# Per-source caps keep the bundle a few MB and stop one source (Stacks chapters split into
# sections, GSM8K) from dominating; the evaluation cap keeps positives and negatives comparable.
SEED_CAP = {"stacks-project-tex": 350, "gsm8k": 500, "planetmath": 600, "stackmathqa": 600}
EVAL_MATH_CAP = 50  # math rows per source and per set (dev, test)
REPO = Path(__file__).resolve().parent.parent


def _cap_math(rows: list[dict]) -> list[dict]:
    counts: Counter = Counter()
    out = []
    for r in rows:
        if r["label"] == 1:
            if counts[r["source"]] >= EVAL_MATH_CAP:
                continue
            counts[r["source"]] += 1
        out.append(r)
    return out


def _drop_near_dups(rows: list[dict], index: NgramOwners, dropped: Counter, label: str):
    kept = []
    for r in rows:
        if index.containment(r["text"]) >= NEAR_DUP_CONTAINMENT:
            dropped[f"{label}: {r['source']}"] += 1
        else:
            kept.append(r)
    return kept


def _cleaning_fixture_texts(folder: Path) -> list[str]:
    texts = []
    for f in sorted(folder.glob("*.jsonl")):
        texts += [json.loads(x)["text"] for x in f.read_text().split("\n") if x.strip()]
    return texts


def build(
    root: Path,
    out: Path,
    gsm8k_limit: int = 800,
    sample_manifest: Path | None = None,
    cleaning_fixtures: Path | None = None,
) -> dict:
    in_sample = _sample_keys(sample_manifest or REPO / "sample" / "manifest.tsv")
    sources = [
        (1, _rows_planetmath(root)),
        (1, _rows_cpalgo(root)),
        (1, _rows_stackmathqa(root)),
        (1, _rows_texbook(root, "stacks-project-tex", "stacks.math.columbia.edu/chapter")),
        (1, _rows_texbook(root, "hott-book-tex", "homotopytypetheory.org/book")),
        (1, _rows_openstax(root)),
        (1, _rows_gsm8k(root, gsm8k_limit)),
        (0, _rows_nonmath(root)),
        (0, _rows_news(root)),
        (0, _rows_forums(root)),
    ]
    seeds, negatives = [], []
    candidates: dict[str, list[dict]] = {"dev": [], "test": []}
    seed_counts: Counter = Counter()
    left_out: Counter = Counter()
    seen: set[str] = set()  # identical texts from different files (test fixtures repeat pages)
    for label, gen in sources:
        for key, row in gen:
            row["text"] = _truncate(row["text"])
            if len(row["text"].split()) < 30 or row["text"] in seen:
                continue
            seen.add(row["text"])
            collection = row["source"].split("/")[0]
            if key in in_sample:
                left_out["in the sample WARC"] += 1
                continue
            split = _split_of(key, collection)
            if split is None:
                left_out["unseen collection, dev band"] += 1
            elif split == "train" and label:
                if seed_counts[row["source"]] < SEED_CAP.get(row["source"], 10**9):
                    seed_counts[row["source"]] += 1
                    seeds.append(row)
            elif split == "train":
                negatives.append(row)
            else:
                unseen = collection in UNSEEN_COLLECTIONS
                candidates[split].append(
                    {**row, "label": label, "split": split, "unseen_collection": unseen}
                )
    index = NgramOwners()
    index.add(r["text"] for r in seeds + negatives)
    near_dups: Counter = Counter()
    dev = _cap_math(_drop_near_dups(candidates["dev"], index, near_dups, "dev vs train"))
    index.add(r["text"] for r in dev)
    test = _drop_near_dups(candidates["test"], index, near_dups, "test vs train or dev")
    # the cleaning rules were developed on these fixture pages: no test row may be one of them
    fixtures = NgramOwners()
    fixtures.add(_cleaning_fixture_texts(cleaning_fixtures or REPO / "tests" / "data" / "clean"))
    test = _cap_math(_drop_near_dups(test, fixtures, near_dups, "test vs cleaning fixtures"))
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "seeds.jsonl.gz", seeds)
    _write(out / "negatives.jsonl.gz", negatives)
    _write(out / "heldout.jsonl.gz", dev + test)

    def counts(rows: list[dict]) -> dict:
        return {
            "math": sum(r["label"] for r in rows),
            "non_math": sum(1 - r["label"] for r in rows),
        }

    return {
        "seeds": len(seeds),
        "negatives": len(negatives),
        "dev": counts(dev),
        "test": counts(test),
        "test_unseen_collections": counts([r for r in test if r["unseen_collection"]]),
        "near_duplicates_dropped": dict(sorted(near_dups.items())),
        "left_out": dict(left_out),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", required=True, help="folder holding math-seeds/, gsm8k/, ...")
    p.add_argument("--out", default=str(Path(__file__).with_name("data")))
    a = p.parse_args(argv)
    print(json.dumps(build(Path(a.shared), Path(a.out))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
