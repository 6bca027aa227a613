"""Show what the extractor makes of HTML files: one JSON object per line on stdout,
``{"path", "text", "formulas", "source"}`` (plus ``title``, ``math_markup``, or ``dropped``
with the reason when a per-page limit applies). Reads .html and .html.gz; bytes are decoded
like crawled pages (BOM, <meta charset>, detection).

``source`` says how the text was made (pipeline.html_text.SOURCES): ``fast`` (resiliparse
main content), ``careful`` (trafilatura), ``thread`` (the posts of a forum or Q&A thread read
by its engine's markup, pipeline/threads.py), and ``+fast`` when the careful text got back
formulas (or, on a thread URL, posts) that only the fast text had.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help=".html or .html.gz files")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--careful",
        dest="mode",
        action="store_const",
        const="careful",
        help="what export writes: a forum / Q&A thread's posts in order without per-post "
        "chrome (Stack Exchange: question, answers, comments), else trafilatura-grade "
        "boilerplate removal; then every formula the fast text has and this text lacks is "
        'put back in place ("source" ends in "+fast")',
    )
    mode.add_argument(
        "--fast",
        dest="mode",
        action="store_const",
        const="fast",
        help="what extract writes (the default): resiliparse main content, or a thread's "
        "posts when --url looks like a thread's and the page is a known forum engine's",
    )
    p.set_defaults(mode="fast")
    p.add_argument(
        "--url",
        default="",
        help="the page's URL (helps boilerplate removal; the fast path reads threads only on "
        "thread-like URLs)",
    )


def read_html_file(path: str, max_bytes: int = 0) -> bytes:
    """The bytes of an .html or .html.gz file, at most ``max_bytes + 1`` of them (0 = all).

    A gzip bomb stops at the cap (the caller sees a body over the page limit) instead of
    inflating into memory. UserError if the file cannot be read.
    """
    from pipeline.errors import UserError

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: no such file; pass existing .html or .html.gz files")
    limit = max_bytes + 1 if max_bytes else -1
    try:
        with open(p, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(p, "rb") as f:
            return f.read(limit)
    except (OSError, EOFError) as e:
        raise UserError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None


def main(args: argparse.Namespace) -> int:
    from pipeline.charset import decode_html
    from pipeline.config import load_config
    from pipeline.html_text import Extraction, extract_text

    config = load_config(args.config, args.overrides)
    # Read every file first so a typo in the 3rd name fails before output starts.
    cap = config.extract.max_page_bytes
    bodies = [(path, read_html_file(path, cap)) for path in args.files]
    for path, body in bodies:
        if cap and len(body) > cap:
            obj = {"path": path, "text": "", "formulas": 0, "dropped": "too_large"}
            obj["detail"] = f"more than {cap} bytes"
            sys.stdout.write(json.dumps(obj) + "\n")
            continue
        html, charset = decode_html(body)
        res = extract_text(html, url=args.url, mode=args.mode, config=config.extract)
        if isinstance(res, Extraction):
            obj = {
                "path": path,
                "text": res.text,
                "formulas": res.formulas,
                "title": res.title,
                "math_markup": res.math_markup,
                "charset": charset,
                "source": res.source,
            }
        else:
            obj = {"path": path, "text": "", "formulas": 0, "dropped": res.reason}
            if res.detail:
                obj["detail"] = res.detail
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0
