"""URL utilities: the normal form used for exact URL dedup, and the registered domain.

``normalize_url`` makes two captures of one page compare equal (case of scheme and host,
default ports, fragments, query order, tracking parameters) without merging distinct pages:
the path keeps its case and ``www.`` is kept, because both can name different content.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Query parameters that only record how a visitor arrived; they never change the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "igshid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "vero_id",
        "vero_conv",
        "oly_anon_id",
        "oly_enc_id",
        "wickedid",
        "__s",
        "ref_src",
    }
)
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")

_extractors: dict[bool, object] = {}  # built on first use per process (no import-time work)


def _is_tracking(name: str) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n.startswith(TRACKING_PREFIXES)


def normalize_url(url: str) -> str:
    """The dedup key of a URL.

    Lowercases scheme and host, drops a trailing dot on the host, the default port, userinfo
    and the fragment, uppercases percent escapes, turns an empty path into ``/``, sorts the
    query parameters and drops tracking ones (``utm_*``, ``fbclid``, ``gclid``...). A string
    that does not parse as a URL is returned stripped, unchanged otherwise.
    """
    url = (url or "").strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:  # IPv6 literal: urlsplit removed the brackets
        host = f"[{host}]"
    if port is not None and DEFAULT_PORTS.get(scheme) != port:
        host = f"{host}:{port}"
    path = _PERCENT.sub(lambda m: m.group(0).upper(), parts.path) or ("/" if host else "")
    query = ""
    if parts.query:
        pairs = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
        ]
        pairs.sort()
        query = urlencode(pairs, quote_via=quote, safe="/:@!$'()*,;")
    return urlunsplit((scheme, host, path, query, ""))


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""


def registered_domain(url: str) -> str:
    """The public-suffix-aware registered domain (``forums.bbc.co.uk`` -> ``bbc.co.uk``).

    Uses tldextract's bundled suffix list snapshot (never fetched); hosts without a public
    suffix (IP addresses, ``localhost``, intranet names) fall back to the host itself.
    """
    host = _host(url)
    if not host:
        return ""
    return (_domain_under_suffix(host) or host).lower()


def private_domain(host: str) -> str | None:
    """The registered domain with the suffix list's private section counted as suffixes too
    (``user.github.io`` stays whole): Common Crawl's ``url_host_private_domain``."""
    return _domain_under_suffix(host, private=True) or None


def _domain_under_suffix(host: str, private: bool = False) -> str:
    """tldextract's label under the public suffix, from its bundled suffix list (never fetched;
    one extractor per process and per list section)."""
    ext = _extractors.get(private)
    if ext is None:
        import tldextract

        ext = _extractors[private] = tldextract.TLDExtract(
            suffix_list_urls=(), cache_dir=None, include_psl_private_domains=private
        )
    return ext(host).top_domain_under_public_suffix
