"""PII: e-mail addresses and public IP addresses replaced by fixed placeholders.

Same patterns and placeholders as datatrove's ``PIIFormatter`` (so corpora built either way read
alike), with one math-aware change: formulas are never touched, so ``$a@b.c$`` or a dotted
version number inside TeX stays as written. Private/loopback IPs (192.168.x.x, 127.0.0.1) are
not personal and are kept, as datatrove does by default.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from pipeline.math_text import split_segments

# datatrove's placeholders: example.com/.org are reserved for examples; the IPs did not answer
# pings when datatrove picked them.
EMAIL_PLACEHOLDERS = ("email@example.com", "firstname.lastname@example.org")
IP_PLACEHOLDERS = (
    "22.214.171.124",
    "126.96.36.199",
    "188.8.131.52",
    "184.108.40.206",
    "220.127.116.11",
    "18.104.22.168",
)

EMAIL_RE = re.compile(
    r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:(?:[A-Za-z0-9](?:["
    r"A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?|\[(?:(?:25[0-5]|2[0-4][0-9]|["
    r"01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)])"
)
# RFC 5321's limits: a local part has at most 64 octets, a domain at most 255. EMAIL_RE is
# only run on the slice around each "@" that an address within these limits can occupy: run
# over the whole text it tries every word boundary of a long run of local-part characters
# ("a-a-a-...@") and scans the run from each, quadratic (25 KB took 48 s).
MAX_LOCAL_CHARS = 64
MAX_DOMAIN_CHARS = 255
# \b on both sides: "1.2.3.4.5" (a section number) is not an IP
IP_RE = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(?![\d.]\d)"
)


def iter_emails(text: str):
    """EMAIL_RE's matches in ``text``, in order, in time linear in its length.

    Every address has exactly one "@": the match that uses a given "@" lies between the "@"
    before it and the one after, and within RFC 5321's lengths around it.
    """
    n = len(text)
    pos = 0
    prev_at = -1
    at = text.find("@")
    while at != -1:
        next_at = text.find("@", at + 1)
        lo = max(pos, prev_at + 1, at - MAX_LOCAL_CHARS - 1)
        hi = min(n if next_at == -1 else next_at, at + MAX_DOMAIN_CHARS + 1)
        m = EMAIL_RE.search(text, lo, hi)
        if m is not None:
            yield m
            pos = m.end()
        prev_at, at = at, next_at


def _sub_emails(text: str, repl) -> str:
    out: list[str] = []
    last = 0
    for m in iter_emails(text):
        out.append(text[last : m.start()])
        out.append(repl(m))
        last = m.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


@dataclass
class PIICounts:
    emails: int = 0
    ips: int = 0


def is_public_ip(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).is_global
    except ValueError:
        return False


def replace_pii(
    text: str, emails: bool = True, ips: bool = True, counts: PIICounts | None = None
) -> str:
    """``text`` with e-mails and public IPs outside formulas replaced by placeholders."""
    if counts is None:
        counts = PIICounts()
    if not (("@" in text and emails) or ("." in text and ips)):
        return text
    state = {"e": 0, "i": 0}

    def _email(m: re.Match) -> str:
        counts.emails += 1
        r = EMAIL_PLACEHOLDERS[state["e"] % len(EMAIL_PLACEHOLDERS)]
        state["e"] += 1
        return r

    def _ip(m: re.Match) -> str:
        if not is_public_ip(m.group(0)):
            return m.group(0)
        counts.ips += 1
        r = IP_PLACEHOLDERS[state["i"] % len(IP_PLACEHOLDERS)]
        state["i"] += 1
        return r

    out = []
    for is_math, piece in split_segments(text):
        if not is_math:
            if emails and "@" in piece:
                piece = _sub_emails(piece, _email)
            if ips:
                piece = IP_RE.sub(_ip, piece)
        out.append(piece)
    return "".join(out)
