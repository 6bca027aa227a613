"""Rebuild the dedup fixtures from a checkout of the team's third-party data folder.

Usage: python tests/data/dedup/make_fixtures.py SHARED_DATA_DIR
Writes pages.jsonl.gz (plain text of real web pages, extracted with resiliparse) and
dolma_cc.jsonl.gz (the dolma Common Crawl docs, text and url only). Never run by tests.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path


def extract(html: bytes) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(bytes_to_str(html, detect_encoding(html)))
    return extract_plain_text(tree, main_content=True)


def main(src: Path) -> None:
    out = Path(__file__).parent
    pages = []
    for sub, pattern in (
        ("trafilatura-eval", "*/*.html.gz"),
        ("article-extraction-benchmark", "html/*.html.gz"),
        ("readability-test-pages", "*/source.html.gz"),
    ):
        for f in sorted((src / sub).glob(pattern)):
            text = extract(gzip.decompress(f.read_bytes()))
            if len(text.split()) >= 20:
                pages.append({"source": f"{sub}/{f.relative_to(src / sub)}", "text": text})
    with gzip.open(out / "pages.jsonl.gz", "wt", compresslevel=9) as w:
        for p in pages:
            w.write(json.dumps(p, ensure_ascii=False) + "\n")
    docs = []
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz"):
        for line in gzip.open(src / "dolma-cc-text" / name, "rt"):
            d = json.loads(line)
            docs.append({"id": d["id"], "url": d["metadata"]["url"], "text": d["text"]})
    with gzip.open(out / "dolma_cc.jsonl.gz", "wt", compresslevel=9) as w:
        for d in docs:
            w.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"{len(pages)} pages, {len(docs)} dolma docs")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
