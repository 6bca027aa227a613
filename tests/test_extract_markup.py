"""Unit tests of the math pieces: MathML -> LaTeX, formula counting, delimiter configs, TeX
images, and the rewrite's edge cases (adjacent formulas, MathJax v3 data-latex, AsciiMath)."""

from __future__ import annotations

import random
import re

import pytest
from resiliparse.parse.html import HTMLTree

from pipeline.html_text import Extraction, extract_text
from pipeline.math_markup import (
    MAX_CONFIG_CHARS,
    has_math_markup,
    page_delimiters,
    protect_raw_tex,
    restore_placeholders,
    rewrite_math,
    split_markup,
    sub_delimited,
)
from pipeline.math_text import count_formulas, formulas
from pipeline.mathml import mathml_to_latex

PROSE = "<p>" + "Ordinary prose about a theorem and its proof, written for students. " * 6 + "</p>"


def _latex(mathml: str) -> str:
    tree = HTMLTree.parse(f"<html><body>{mathml}</body></html>")
    return mathml_to_latex(tree.document.query_selector("math"))


@pytest.mark.parametrize(
    "mathml, tex",
    [
        ("<math><msup><mi>x</mi><mn>2</mn></msup></math>", "x^2"),
        ("<math><msub><mi>a</mi><mrow><mi>i</mi><mi>j</mi></mrow></msub></math>", "a_{ij}"),
        ("<math><mfrac><mn>1</mn><mn>2</mn></mfrac></math>", r"\frac{1}{2}"),
        ("<math><msqrt><mi>x</mi></msqrt></math>", r"\sqrt{x}"),
        ("<math><mroot><mi>x</mi><mn>3</mn></mroot></math>", r"\sqrt[3]{x}"),
        ("<math><mi>α</mi><mo>≤</mo><mi>β</mi></math>", r"\alpha \leq \beta"),
        (
            "<math><munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi>"
            "</munderover><mi>i</mi></math>",
            r"\sum_{i=1}^ni",
        ),
        ("<math><mover><mi>x</mi><mo>¯</mo></mover></math>", r"\bar{x}"),
        ("<math><mi>sin</mi><mi>x</mi></math>", r"\sin x"),
        ("<math><mtext>if</mtext><mi>x</mi></math>", r"\text{if}x"),
        (
            "<math><mtable><mtr><mtd><mn>1</mn></mtd><mtd><mn>0</mn></mtd></mtr>"
            "<mtr><mtd><mn>0</mn></mtd><mtd><mn>1</mn></mtd></mtr></mtable></math>",
            r"\begin{matrix}1 & 0 \\ 0 & 1\end{matrix}",
        ),
        ("<math><mfenced><mi>a</mi><mi>b</mi></mfenced></math>", r"\left( a,b \right)"),
    ],
)
def test_mathml_to_latex(mathml, tex):
    assert _latex(mathml) == tex


def test_mathml_hostile_nesting_is_bounded():
    deep = "<math>" + "<mrow>" * 5000 + "<mi>x</mi>" + "</mrow>" * 5000 + "</math>"
    assert _latex(deep) == "x"  # no RecursionError, text kept


def test_count_formulas_ignores_prices():
    text = "It costs $5 and $10, but $x^2$ and $$y$$ and \\(z\\) and \\[w\\] are math."
    assert count_formulas(text) == 4
    assert formulas(text) == ["$x^2$", "$$y$$", "\\(z\\)", "\\[w\\]"]
    assert count_formulas("\\begin{align} a &= b \\end{align}") == 1


def test_page_delimiters_mathjax_v2_v3_and_katex():
    v2 = r"""MathJax.Hub.Config({tex2jax: {inlineMath: [['$','$'], ['\\(','\\)']],
             displayMath: [['$$','$$']]}});"""
    assert page_delimiters(v2) == ([("$", "$"), ("\\(", "\\)")], [("$$", "$$")])
    v3 = 'window.MathJax = {tex: {inlineMath: [["[m]", "[/m]"]]}};'
    assert page_delimiters(v3) == ([("[m]", "[/m]")], [])
    katex = 'renderMathInElement(document.body, {delimiters: [{left: "@@", right: "@@", display: true}]})'
    assert page_delimiters(katex) == ([], [("@@", "@@")])


def test_has_math_markup_prefilter():
    assert not has_math_markup("<p>Math.random() in a script; no markup here</p>")
    for s in (
        '<script type="math/tex">',
        "<math>",
        'class="katex"',
        "latex.php?latex=x",
        "mimetex.cgi?x",
    ):
        assert has_math_markup(s), s


def test_adjacent_inline_formulas_stay_apart():
    page = f"<html><body>{PROSE}<p><math><mi>a</mi></math><math><mi>b</mi></math> end</p></body></html>"
    for mode in ("fast", "careful"):
        res = extract_text(page, mode=mode)
        assert isinstance(res, Extraction)
        assert "$a$ $b$" in res.text and "$a$$b$" not in res.text
        assert res.formulas == 2


def test_mathjax_v3_data_latex_and_display():
    page = (
        f"<html><body>{PROSE}<p>Inline "
        '<mjx-container class="MathJax" jax="CHTML" data-latex="x_1"><mjx-math><mjx-c></mjx-c>'
        "</mjx-math></mjx-container> and</p>"
        '<mjx-container class="MathJax" jax="SVG" display="true"><svg></svg><mjx-assistive-mml>'
        '<math display="block"><semantics><mi>y</mi><annotation encoding="application/x-tex">'
        "y^2</annotation></semantics></math></mjx-assistive-mml></mjx-container></body></html>"
    )
    for mode in ("fast", "careful"):
        res = extract_text(page, mode=mode)
        assert "$x_1$" in res.text and "$$y^2$$" in res.text
        assert res.formulas == 2


def test_protect_and_restore_round_trip():
    html = f"<html><body>{PROSE}<p>Raw \\(a_1\\) and <script type='math/tex'>b_2</script></p></body></html>"
    tree = HTMLTree.parse(html)
    res = rewrite_math(tree, html, protect=True)
    body = protect_raw_tex(tree.body.html, res)
    assert "a_1" not in body and "b_2" not in body  # both hidden behind placeholders
    assert len(res.placeholders) == 2
    assert restore_placeholders(body, res.placeholders).count("_") == 2
    # scripts are not text: jQuery is not math
    js = "<p>x</p><script>$(a).b($)</script><p>cost $5 and $x_1$</p>"
    out = protect_raw_tex(js, res)
    assert "$(a).b($)" in out and "$x_1$" not in out and "cost $5" in out


def test_mathml_script_and_data_mathml_use_html_parser():
    page = (
        f"<html><body>{PROSE}<p>A <script type='math/mml'><math><mfrac><mi>p</mi><mi>q</mi>"
        "</mfrac></math></script> and a saved MathJax 2 frame "
        '<span class="MathJax" data-mathml="&lt;math&gt;&lt;msup&gt;&lt;mi&gt;e&lt;/mi&gt;'
        '&lt;mi&gt;x&lt;/mi&gt;&lt;/msup&gt;&lt;/math&gt;">ex</span>.</p></body></html>'
    )
    res = extract_text(page)
    assert "$\\frac{p}{q}$" in res.text and "$e^x$" in res.text
    assert "ex." not in res.text  # the rendered glyphs are gone


def test_bench_token_f1():
    from benchmarks.bench_extract import token_f1

    assert token_f1("The cat sat", "the cat sat") == 1.0
    assert token_f1("", "something") == 0.0
    # 2 of 3 predicted tokens right, 2 of 4 truth tokens found: P=2/3, R=1/2
    assert abs(token_f1("a b x", "a b c d") - 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5)) < 1e-12


def test_careful_keeps_lists_code_and_tables_readable():
    page = (
        f"<html><body><article><h1>Title</h1>{PROSE}<ul><li>first item here</li>"
        "<li>second item $x_1$ here</li></ul><pre><code>def f(x_1):\n    return x_1 * 2</code>"
        "</pre><table><tr><th>n</th><th>n squared</th></tr><tr><td>2</td><td>4</td></tr>"
        f"</table>{PROSE}</article></body></html>"
    )
    text = extract_text(page, mode="careful").text
    assert "# Title" in text
    assert "- second item $x_1$ here" in text  # list kept, TeX not escaped
    assert "def f(x_1):\n    return x_1 * 2" in text  # code kept verbatim, indentation too
    assert "| n | n squared |" in text and "| 2 | 4 |" in text


# --- the linear scans of math_markup find what the regexes they replaced found -------------------

OLD_MARKUP_SPLIT = re.compile(
    r"(<script\b.*?</script\s*>|<style\b.*?</style\s*>|<textarea\b.*?</textarea\s*>"
    r"|<!--.*?-->|<[^>]*>)",
    re.S | re.I,
)
HTML_PIECES = ["<", ">", "<p>", "</p>", "<script>", "</script>", "<SCRIPT x>", "</script >",
               "<scripts>", "<style>", "</style>", "<textarea>", "</textarea>", "<!--", "-->",
               "a", " ", "$x$", "\n", "<b title='a><script'>"]  # fmt: skip


def test_split_markup_is_the_regex_split():
    rnd = random.Random(11)
    for _ in range(4000):
        html = "".join(rnd.choice(HTML_PIECES) for _ in range(rnd.randint(0, 25)))
        assert split_markup(html) == OLD_MARKUP_SPLIT.split(html), repr(html)


def test_sub_delimited_is_the_lazy_regex():
    rnd = random.Random(5)
    for left, right in [("[m]", "[/m]"), ("@@", "@@"), ("<<", ">>"), ("[", "]")]:
        pat = re.compile(re.escape(left) + r"(.+?)" + re.escape(right), re.S)
        units = [left, right, "x", " ", "\n", "[", "m", "]", "@", "<", ">"]
        for _ in range(1500):
            t = "".join(rnd.choice(units) for _ in range(rnd.randint(0, 20)))
            assert sub_delimited(t, left, right, lambda b: f"<{b}>") == pat.subn(
                lambda m: f"<{m.group(1)}>", t
            ), (left, t)


def test_page_delimiters_reads_quotes_escapes_and_bounded_blocks():
    cfg = """MathJax = {tex: {inlineMath: [["\\\\(", "\\\\)"], ['[m]', '[/m]'], ['it\\'s', "x"]],
             displayMath: [ [ '$$' , '$$' ] ]}};"""
    assert page_delimiters(cfg) == (
        [("\\(", "\\)"), ("[m]", "[/m]"), ("it's", "x")],
        [("$$", "$$")],
    )
    # a block is read within MAX_CONFIG_CHARS of its key, and only the first blocks are read
    far = "inlineMath: [[" + " " * MAX_CONFIG_CHARS + "['a','b']]"
    assert page_delimiters(far) == ([], [])
    junk = "inlineMath:[[" * 100 + "]] inlineMath: [['[m]','[/m]']]"
    assert page_delimiters(junk) == ([], [])


def test_displaystyle_is_stripped():
    from pipeline.math_markup import _strip_displaystyle

    assert _strip_displaystyle(" {\\displaystyle  x^2 } ") == "x^2"
    assert _strip_displaystyle("\\displaystyle x") == "x"
    assert _strip_displaystyle("{\\displaystyle x") == "{\\displaystyle x"
    assert _strip_displaystyle("{\\displaystyle" + " " * 100_000 + "x").endswith("x")


def test_careful_keeps_the_prose_backslashes_verbatim():
    """Backslashes of prose are hidden from trafilatura's Markdown regexes and come back as the
    page wrote them, a private-use character of the page included."""
    html = (
        f"<html><body>{PROSE}<p>A stray \\( opener, C:\\dir\\bfile, a \\*star, \ue000b and "
        f"\ue000s raw, then \\(x^2\\) and \\[y\\].</p>{PROSE}</body></html>"
    )
    text = extract_text(html, mode="careful").text
    assert (
        "A stray \\( opener, C:\\dir\\bfile, a \\*star, \ue000b and \ue000s raw, "
        "then \\(x^2\\) and \\[y\\]." in text
    )


def test_a_figure_drawn_with_latex_is_not_a_formula():
    page = (
        f"<html><body>{PROSE}<p><img src='generated/latex-image/dots.svg' alt='Five equally "
        "spaced dots in a vertical line'> and <img class='latex' src='x.png' alt='x^2+1'></p>"
        f"{PROSE}</body></html>"
    )
    res = extract_text(page)
    assert formulas(res.text) == ["$x^2+1$"] and res.formulas == 1
