"""Linear-time scanning of hostile text: the next closer after an opener, remembered.

A scanner that pairs openers with closers (``\\(`` with ``\\)``, ``<script`` with
``</script>``, a page's own ``[m]`` with ``[/m]``) and searches for the closer from every opener
rescans the rest of the text once per opener when the closer is missing: ``"\\(" * 100_000``
costs 10^10 steps. The same holds for a regular expression with a lazy unbounded body
(``\\((.+?)\\)``), which is what a backtracking engine does internally. Scanners here move left
to right, so :func:`memo_next` remembers the last answer: a search that starts between the last
search's start and its answer has the same answer, and a search that found nothing finds
nothing from any later start. Each closer kind then costs one pass over the text in total.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Find = Callable[[int], "tuple[int, int] | None"]


def memo_next(find: Find) -> Find:
    """Wrap ``find(start) -> (begin, end) | None`` (the first match at or after ``start``) so
    that non-decreasing starts cost one pass in total.

    Correct for any ``find`` that returns the leftmost match beginning at or after ``start``
    (whatever it looks at before ``start``); a start left of the last one searches afresh.
    """
    last_start = -1
    last: tuple[int, int] | None = None

    def next_match(start: int) -> tuple[int, int] | None:
        nonlocal last_start, last
        if 0 <= last_start <= start and (last is None or last[0] >= start):
            return last
        last_start, last = start, find(start)
        return last

    return next_match


def escaped(text: str, i: int) -> bool:
    """True if ``text[i]`` is preceded by an odd number of backslashes."""
    j = i - 1
    while j >= 0 and text[j] == "\\":
        j -= 1
    return (i - 1 - j) % 2 == 1


def next_unescaped(text: str, needle: str) -> Find:
    """Finder of ``needle`` not preceded by an odd run of backslashes (``\\$`` is not ``$``)."""

    def find(start: int) -> tuple[int, int] | None:
        pos = start
        while True:
            pos = text.find(needle, pos)
            if pos == -1:
                return None
            if not escaped(text, pos):
                return pos, pos + len(needle)
            pos += 1

    return memo_next(find)


def next_substring(text: str, needle: str) -> Find:
    """Finder of a literal ``needle``."""

    def find(start: int) -> tuple[int, int] | None:
        pos = text.find(needle, start)
        return None if pos == -1 else (pos, pos + len(needle))

    return memo_next(find)


def next_pattern(text: str, pattern: re.Pattern) -> Find:
    """Finder of a regular expression whose matches have a bounded length (a closing tag)."""

    def find(start: int) -> tuple[int, int] | None:
        m = pattern.search(text, start)
        return None if m is None else m.span()

    return memo_next(find)
