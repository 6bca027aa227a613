"""URL lists: a blocklist that drops pages by domain, URL word or URL substring, and an
allowlist of domains that bypass the quality rules.

File format, one entry a line: ``example.com`` (the host or any parent domain), ``word:xxx``
(a token of the URL), ``substr:xxx`` (a substring of the URL with non-alphanumerics removed);
``#`` starts a comment. The bundled blocklist is datatrove's (see its header).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.clean_analysis import Analysed
from pipeline.config import CleanConfig

DEFAULT_BLOCKLIST = Path(__file__).with_name("data") / "url_blocklist.txt"


@dataclass(frozen=True)
class UrlList:
    """Domains (match the host or any parent), URL words (tokens) and URL substrings."""

    domains: frozenset[str]
    words: frozenset[str]
    substrings: tuple[str, ...]

    def match(self, url: str) -> str | None:
        """The entry kind that matches ``url`` ('domain', 'word', 'substr'), or None."""
        try:
            host = (urlsplit(url).hostname or "").lower().rstrip(".")
        except ValueError:
            host = ""
        if host and self.domains:
            parts = host.split(".")
            for i in range(len(parts) - 1):
                if ".".join(parts[i:]) in self.domains:
                    return "domain"
        low = url.lower()
        if self.words:
            toks = set(re.split(r"[^a-z0-9]+", low))
            if toks & self.words:
                return "word"
        if self.substrings:
            flat = re.sub(r"[^a-z0-9]+", "", low)
            for s in self.substrings:
                if s in flat:
                    return "substr"
        return None


def parse_url_list(lines: Iterable[str]) -> UrlList:
    """Lines: ``example.com`` (domain), ``word:xxx`` (URL token), ``substr:xxx`` (URL substring,
    compared with non-alphanumerics removed); ``#`` starts a comment."""
    domains, words, subs = set(), set(), []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("word:"):
            words.add(re.sub(r"[^a-z0-9]+", "", line[5:].lower()))
        elif line.startswith("substr:"):
            subs.append(re.sub(r"[^a-z0-9]+", "", line[7:].lower()))
        else:
            domains.add(line.lower().removeprefix("domain:").strip().rstrip("."))
    return UrlList(
        frozenset(domains), frozenset(w for w in words if w), tuple(s for s in subs if s)
    )


@lru_cache(maxsize=8)
def load_url_list(path: str) -> UrlList:
    p = Path(path)
    if not p.is_file():
        from pipeline.errors import UserError

        raise UserError(f"URL list {path!r} does not exist; fix clean.url_blocklist/allowlist")
    return parse_url_list(p.read_text(encoding="utf-8").splitlines())


def blocklist_for(cfg: CleanConfig) -> UrlList:
    return load_url_list(cfg.url_blocklist or str(DEFAULT_BLOCKLIST))


def allowlist_for(cfg: CleanConfig) -> UrlList | None:
    return load_url_list(cfg.url_allowlist) if cfg.url_allowlist else None


def url_blocklist(text: str, url: str, cfg: CleanConfig, a: Analysed | None = None) -> str | None:
    kind = blocklist_for(cfg).match(url)
    return f"url_blocklist_{kind}" if kind else None
