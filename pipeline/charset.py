"""Bytes -> str for HTML bodies: the declared charset when it is right, detection when not.

Order follows what browsers do (WHATWG "determine the character encoding"): a BOM wins, then
the HTTP header charset, then ``<meta charset>`` in the first KB, then detection (uchardet via
resiliparse). A declared charset is trusted only if the body strictly decodes with it: Common
Crawl has many pages that say ISO-8859-1 and are UTF-8 (and the reverse), and a wrong guess
turns every non-ASCII character (and many TeX symbols) into mojibake.
"""

from __future__ import annotations

import codecs
import re

from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:+-]+)", re.I)
# <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">
_META_CHARSET = re.compile(rb"<meta[^>]{0,500}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:+-]+)", re.I)
# Sniffing only the head of the body keeps detection O(1) per page (WHATWG: 1024 bytes for the
# meta prescan; uchardet gets a bounded sample too).
_META_PRESCAN = 2048
_DETECT_SAMPLE = 32_768

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _normalise(label: str) -> str | None:
    """A WHATWG-canonical Python codec name for ``label``, or None if unknown."""
    name = map_encoding_to_html5(label.strip().strip("\"'"), fallback_utf8=False)
    if not name:
        return None
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name


def header_charset(content_type: str) -> str | None:
    """The charset parameter of an HTTP Content-Type value, canonicalised, or None."""
    m = _HEADER_CHARSET.search(content_type or "")
    return _normalise(m.group(1)) if m else None


def meta_charset(body: bytes) -> str | None:
    """The charset declared by a ``<meta>`` tag in the first 2 KB of ``body``, or None."""
    m = _META_CHARSET.search(body[:_META_PRESCAN])
    return _normalise(m.group(1).decode("ascii", "replace")) if m else None


def _strict(body: bytes, enc: str) -> str | None:
    try:
        return body.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode an HTML body; returns ``(text, charset used)``. Never raises.

    A declared charset (header, then meta) that fails a strict decode is skipped; detection
    decides then, and the final decode uses ``errors="replace"`` so a broken byte costs one
    U+FFFD, not the page.
    """
    if not body:
        return "", "utf-8"
    for bom, enc in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(enc, errors="replace"), enc
    tried: list[str] = []
    for enc in (header_charset(content_type), meta_charset(body)):
        if enc and enc not in tried:
            tried.append(enc)
            text = _strict(body, enc)
            if text is not None:
                return text, enc
    # Most of the web is UTF-8 and a strict UTF-8 decode of non-UTF-8 bytes almost always
    # fails, so trying it before the (slower, sampled) detector is both fast and safe.
    if "utf-8" not in tried:
        text = _strict(body, "utf-8")
        if text is not None:
            return text, "utf-8"
    try:
        enc = detect_encoding(body, max_len=_DETECT_SAMPLE, html5_compatible=True) or "utf-8"
        enc = _normalise(enc) or "utf-8"
    except Exception:  # noqa: BLE001 - detection must never cost the page
        enc = "utf-8"
    text = _strict(body, enc)
    if text is None:
        # The detector's guess also fails strictly: windows-1252 decodes almost any byte
        # sequence, so it loses the least text; replace what it cannot map.
        enc = enc if enc != "utf-8" else "windows-1252"
        text = body.decode(enc, errors="replace")
    return text, enc
