"""The linear formula scanner finds exactly what the reference regex finds, and stays linear
on the hostile inputs that made the regex quadratic."""

import random
import re
import subprocess
import sys

from pipeline.math_text import count_formulas, formula_spans, iter_formulas, sub_formulas

# The reference: the regex the scanner replaced (quadratic on hostile input, correct on any).
REFERENCE = re.compile(
    r"\$\$(?!\s*\$)(.+?)\$\$"
    r"|\\\[(.+?)\\\]"
    r"|\\\((.+?)\\\)"
    r"|\\begin\{(equation|align|gather|multline|eqnarray|displaymath|math)\*?\}(.+?)\\end\{\4\*?\}"
    r"|(?<![\\$])\$(?=[^\s$])((?:\\\$|[^$\n])+?)(?<=[^\s\\])\$(?!\d)",
    re.S,
)
PIECES = [
    "$",
    "$$",
    "\\(",
    "\\)",
    "\\[",
    "\\]",
    "a",
    " ",
    "\n",
    "1",
    "\\",
    "x",
    "{",
    "}",
    "\\begin{align}",
    "\\end{align}",
    "\\end{align*}",
    "\\begin{equation*}",
    "\\end{equation}",
]


def reference_spans(text):
    return [(m.start(), m.end()) for m in REFERENCE.finditer(text)]


def test_same_spans_as_the_reference_regex_on_random_text():
    rnd = random.Random(7)
    for _ in range(5000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 40)))
        assert [(a, b) for a, b, _ in formula_spans(text)] == reference_spans(text), repr(text)


def test_real_math_text(data_dir):
    text = (
        "Let $f(x) = x^2$ cost $5 and $10. Then $$\\int_0^1 f = \\tfrac13$$ and \\(a+b\\), "
        "\\[ e^{i\\pi} = -1 \\] with \\begin{align*} a &= b \\\\ c &= d \\end{align*} and "
        "an escaped \\$ sign."
    )
    assert [(a, b) for a, b, _ in formula_spans(text)] == reference_spans(text)
    assert iter_formulas(text) == [
        "f(x) = x^2",
        "\\int_0^1 f = \\tfrac13",
        "a+b",
        " e^{i\\pi} = -1 ",
        " a &= b \\\\ c &= d ",
    ]
    assert count_formulas(text) == 5
    assert sub_formulas(text, lambda f: "F").count("F") == 5
    assert "$5 and $10" in sub_formulas(text, lambda f: "F")


def test_hostile_inputs_finish_quickly():
    """Each of these took the regex minutes; run in a subprocess so a regression fails on the
    timeout instead of hanging the suite."""
    code = (
        "from pipeline.math_text import formula_spans\n"
        "for body in ['\\\\(' * 100000, '$' * 200000, '$a' * 100000, '\\\\[' + '{' * 100000,\n"
        "             '$$' + 'x^' * 100000, ('\\\\begin{align}' + '&' * 10) * 5000, 'a' * 300000 + '$']:\n"
        "    formula_spans(body)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
