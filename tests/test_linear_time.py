"""Every scan of page or document text grows linearly with its input (issue 15), so the
per-page wall-time cap holds by construction: an adversarial input of each family
(benchmarks/adversarial.py) at 100 KB and 400 KB must take well under the 16x of a quadratic
scan. Times are CPU seconds, best of up to three runs (a loaded machine only adds time); the
bound 8 leaves room for noise and for the cache misses of a larger input. Nothing here asserts
an absolute time: ``make reliability`` prints the times at the 5 MB page limit.
"""

from __future__ import annotations

import pytest

from benchmarks.adversarial import PAGE_FAMILIES, TEXT_FAMILIES, TEXT_FUNCTIONS, growth
from pipeline.config import ExtractConfig
from pipeline.html_text import extract_text

SMALL, LARGE = 100_000, 400_000
BOUND = 8.0
NO_CAP = ExtractConfig(page_timeout_s=0)  # the cap would hide the growth we measure

pytestmark = pytest.mark.slow


def _assert_linear(fn, family, name):
    a, b, ratio = growth(fn, family, SMALL, LARGE, BOUND)
    assert ratio <= BOUND, (
        f"{name}: {a:.4f} s at {SMALL:,} chars, {b:.4f} s at {LARGE:,} (x{ratio:.1f})"
    )


@pytest.mark.parametrize("mode", ["fast", "careful"])
@pytest.mark.parametrize("family", sorted(PAGE_FAMILIES))
def test_extract_text_is_linear(family, mode):
    _assert_linear(
        lambda html: extract_text(html, mode=mode, config=NO_CAP), PAGE_FAMILIES[family], family
    )


@pytest.mark.parametrize("function", sorted(TEXT_FUNCTIONS))
@pytest.mark.parametrize("family", sorted(TEXT_FAMILIES))
def test_text_functions_are_linear(family, function):
    _assert_linear(TEXT_FUNCTIONS[function], TEXT_FAMILIES[family], f"{function} on {family}")


def test_the_families_are_adversarial_for_a_backtracking_scan():
    """The generator is the test's teeth: on its input a lazy-regex formula finder (what
    classifiers/features.py used before) grows quadratically, and the bound catches it."""
    import re

    lazy = re.compile(r"\\\(.+?\\\)", re.S)
    _, _, ratio = growth(
        lambda t: lazy.findall(t), TEXT_FAMILIES["\\( openers"], 5_000, 20_000, BOUND
    )
    assert ratio > BOUND
