"""Domain and URL-path statistics of a selection (DeepSeekMath section 2.1, steps 4-6).

A domain is math-related when more than ``domain_share`` of its pages were selected; inside such
domains, URL path prefixes (``mathoverflow.net/questions``) are proposed with their page counts
and selected share, accepted by a threshold or a reviewed file, and the unselected pages under
accepted prefixes become new positives. Everything here works on plain lists.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import UserError

PATH_COLUMNS = ("domain", "path_prefix", "pages", "selected", "selected_share", "accepted")


def path_prefixes(url: str, max_depth: int = 2) -> list[str]:
    """``https://www.x.org/a/b/c.html`` -> ``['www.x.org/a', 'www.x.org/a/b']`` (depth <= max).

    Prefixes keep the host (sub-domains often separate math from the rest: math.x.edu) and
    only directory segments: the last segment is the page itself.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    host = (parts.hostname or "").lower()
    if not host:
        return []
    segs = [s for s in parts.path.split("/") if s]
    if segs and not parts.path.endswith("/"):
        segs = segs[:-1]
    out = [host + "/"]
    for i in range(1, min(len(segs), max_depth) + 1):
        out.append(host + "/" + "/".join(segs[:i]))
    return out


def url_key(url: str) -> str:
    """``host/path`` of a URL, the form prefixes are matched against."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return (parts.hostname or "").lower() + (parts.path or "/")


def is_under(url: str, prefixes: Iterable[str]) -> bool:
    key = url_key(url)
    for p in prefixes:
        if p.endswith("/"):
            if key.startswith(p):
                return True
        elif key == p or key.startswith(p + "/"):
            return True
    return False


def domain_stats(rows: Iterable[tuple[str, bool]]) -> dict[str, dict]:
    """``(domain, selected)`` rows -> {domain: {pages, selected, share}}."""
    out: dict[str, dict] = {}
    for domain, selected in rows:
        d = out.setdefault(domain, {"pages": 0, "selected": 0})
        d["pages"] += 1
        d["selected"] += 1 if selected else 0
    for d in out.values():
        d["share"] = d["selected"] / d["pages"] if d["pages"] else 0.0
    return out


def math_domains(stats: dict[str, dict], share: float) -> list[dict]:
    """Domains whose selected share exceeds ``share``, most selected first."""
    found = [
        {"domain": dom, **v}
        for dom, v in stats.items()
        if dom and v["selected"] and v["share"] > share
    ]
    return sorted(found, key=lambda d: (-d["selected"], -d["share"], d["domain"]))


@dataclass(frozen=True)
class PathRule:
    accept_share: float = 0.5
    min_pages: int = 3
    max_depth: int = 2


def path_stats(
    rows: Iterable[tuple[str, str, bool]], domains: Iterable[str], rule: PathRule
) -> list[dict]:
    """``(url, domain, selected)`` rows -> proposed prefixes inside ``domains``.

    Each row is counted under every prefix of its URL (host root, first directory, ...).
    ``accepted`` is the threshold rule; a reviewed file can override it (apply_reviewed).
    """
    wanted = set(domains)
    agg: dict[tuple[str, str], list[int]] = {}
    for url, domain, selected in rows:
        if domain not in wanted:
            continue
        for p in path_prefixes(url, rule.max_depth):
            a = agg.setdefault((domain, p), [0, 0])
            a[0] += 1
            a[1] += 1 if selected else 0
    out = []
    for (domain, prefix), (pages, sel) in agg.items():
        share = sel / pages
        out.append(
            {
                "domain": domain,
                "path_prefix": prefix,
                "pages": pages,
                "selected": sel,
                "selected_share": round(share, 4),
                "accepted": pages >= rule.min_pages and share >= rule.accept_share,
            }
        )
    out.sort(key=lambda r: (r["domain"], r["path_prefix"]))
    return out


def write_paths_tsv(path: str | Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(PATH_COLUMNS)
    for r in rows:
        w.writerow(
            [
                r["domain"],
                r["path_prefix"],
                r["pages"],
                r["selected"],
                r["selected_share"],
                "yes" if r["accepted"] else "no",
            ]
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(buf.getvalue())


def read_paths_tsv(path: str | Path) -> list[dict]:
    rows = list(csv.DictReader(Path(path).read_text().splitlines(), delimiter="\t"))
    for r in rows:
        r["pages"] = int(r["pages"])
        r["selected"] = int(r["selected"])
        r["selected_share"] = float(r["selected_share"])
        r["accepted"] = r["accepted"].strip().lower() in ("yes", "true", "1", "y")
    return rows


def read_accept_file(path: str | Path) -> set[str]:
    """Accepted prefixes from a reviewed file: a url_paths.tsv with its ``accepted`` column
    edited, or plain lines of ``host/path`` prefixes (``#`` comments allowed)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"--accept-paths {str(p)!r} does not exist; pass a url_paths.tsv or a list")
    text = p.read_text()
    first = text.splitlines()[0] if text.strip() else ""
    if first.split("\t")[:2] == ["domain", "path_prefix"]:
        return {r["path_prefix"] for r in read_paths_tsv(p) if r["accepted"]}
    out = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(line.removeprefix("https://").removeprefix("http://"))
    return out


def apply_reviewed(rows: list[dict], accepted: set[str]) -> list[dict]:
    """Set ``accepted`` from a reviewed set of prefixes (it replaces the threshold rule)."""
    return [{**r, "accepted": r["path_prefix"] in accepted} for r in rows]


def minimal_prefixes(prefixes: Iterable[str]) -> list[str]:
    """Drop prefixes covered by a shorter accepted one (for reporting)."""
    ps = sorted(set(prefixes), key=len)
    out: list[str] = []
    for p in ps:
        if not any(
            p == q or (q.endswith("/") and p.startswith(q)) or p.startswith(q + "/") for q in out
        ):
            out.append(p)
    return sorted(out)
