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
# \b on both sides: "1.2.3.4.5" (a section number) is not an IP
IP_RE = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(?![\d.]\d)"
)


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
                piece = EMAIL_RE.sub(_email, piece)
            if ips:
                piece = IP_RE.sub(_ip, piece)
        out.append(piece)
    return "".join(out)
