"""Presentation MathML -> LaTeX, for pages whose MathML carries no TeX annotation or alttext.

Works on the HTML DOM that lexbor (resiliparse) already built: ``<math>`` is parsed as HTML
foreign content, so no XML parser runs, no DTD is read and no entity is ever expanded or
fetched (issue 11). The conversion is the common subset (tokens, scripts, fractions, roots,
under/over, tables, fences); anything unknown degrades to its children's text, never raises.
"""

from __future__ import annotations

from resiliparse.parse.html import NodeType

# Hostile MathML can nest arbitrarily; past this depth we keep the text only (no recursion).
MAX_MATHML_DEPTH = 100

# Unicode operators and identifiers that have a TeX name. Letters/digits pass through.
SYMBOLS: dict[str, str] = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon",
    "ϵ": r"\epsilon", "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "ϑ": r"\vartheta",
    "ι": r"\iota", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi",
    "π": r"\pi", "ϖ": r"\varpi", "ρ": r"\rho", "ϱ": r"\varrho", "σ": r"\sigma", "ς": r"\varsigma",
    "τ": r"\tau", "υ": r"\upsilon", "φ": r"\varphi", "ϕ": r"\phi", "χ": r"\chi", "ψ": r"\psi",
    "ω": r"\omega", "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda",
    "Ξ": r"\Xi", "Π": r"\Pi", "Σ": r"\Sigma", "Υ": r"\Upsilon", "Φ": r"\Phi", "Ψ": r"\Psi",
    "Ω": r"\Omega",
    "∑": r"\sum", "∏": r"\prod", "∐": r"\coprod", "∫": r"\int", "∬": r"\iint", "∭": r"\iiint",
    "∮": r"\oint", "√": r"\sqrt", "∞": r"\infty", "∂": r"\partial", "∇": r"\nabla",
    "±": r"\pm", "∓": r"\mp", "×": r"\times", "÷": r"\div", "⋅": r"\cdot", "·": r"\cdot",
    "∘": r"\circ", "∗": r"\ast", "⊗": r"\otimes", "⊕": r"\oplus", "∧": r"\wedge", "∨": r"\vee",
    "∩": r"\cap", "∪": r"\cup", "⊂": r"\subset", "⊃": r"\supset", "⊆": r"\subseteq",
    "⊇": r"\supseteq", "∈": r"\in", "∉": r"\notin", "∋": r"\ni", "∅": r"\emptyset",
    "∀": r"\forall", "∃": r"\exists", "¬": r"\neg", "≤": r"\leq", "≥": r"\geq", "≠": r"\neq",
    "≈": r"\approx", "≡": r"\equiv", "∼": r"\sim", "≃": r"\simeq", "≅": r"\cong", "∝": r"\propto",
    "≪": r"\ll", "≫": r"\gg", "→": r"\to", "←": r"\leftarrow", "↔": r"\leftrightarrow",
    "⇒": r"\Rightarrow", "⇐": r"\Leftarrow", "⇔": r"\Leftrightarrow", "↦": r"\mapsto",
    "…": r"\ldots", "⋯": r"\cdots", "⋮": r"\vdots", "⋱": r"\ddots", "ℝ": r"\mathbb{R}",
    "ℕ": r"\mathbb{N}", "ℤ": r"\mathbb{Z}", "ℚ": r"\mathbb{Q}", "ℂ": r"\mathbb{C}",
    "ℓ": r"\ell", "ℏ": r"\hbar", "∣": r"\mid", "∥": r"\parallel", "⊥": r"\perp", "∠": r"\angle",
    "′": "'", "″": "''", "−": "-", "⁡": "", "⁢": "", "⁣": ",", "⁤": "", "\u00a0": " ",
    "⟨": r"\langle", "⟩": r"\rangle", "⌊": r"\lfloor", "⌋": r"\rfloor", "⌈": r"\lceil",
    "⌉": r"\rceil", "‖": r"\|", "{": r"\{", "}": r"\}",
}  # fmt: skip

# Named functions rendered upright: <mi>sin</mi> -> \sin
FUNCTIONS = frozenset(
    "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth log ln lg exp lim "
    "liminf limsup sup inf max min det dim ker deg gcd arg Pr hom mod".split()
)

ACCENTS = {"^": r"\hat", "ˆ": r"\hat", "¯": r"\bar", "‾": r"\overline", "→": r"\vec",
           "~": r"\tilde", "˜": r"\tilde", "˙": r"\dot", "¨": r"\ddot", "⏞": r"\overbrace",
           "⏟": r"\underbrace", "_": r"\underline"}  # fmt: skip


def iter_children(node):
    """Children of a resiliparse node by sibling links.

    ``node.child_nodes`` / query results are collections whose iteration is quadratic in
    resiliparse 2.0 (a <body> of 5,000 children: minutes); sibling links are O(1) a step.
    """
    n = node.first_child
    while n is not None:
        yield n
        n = n.next_sibling


def _elements(node) -> list:
    return [c for c in iter_children(node) if c.type == NodeType.ELEMENT]


def _sym(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    if text in FUNCTIONS:
        return "\\" + text + " "
    if len(text) == 1:
        s = SYMBOLS.get(text, text)
        return s + " " if s.startswith("\\") and s[-1].isalpha() else s
    out = []
    for ch in text:
        s = SYMBOLS.get(ch, ch)
        out.append(s + " " if s.startswith("\\") and s[-1].isalpha() else s)
    return "".join(out)


def _group(s: str) -> str:
    s = s.strip()
    return s if len(s) == 1 else "{" + s + "}"


def _conv(node, depth: int) -> str:
    if node.type == NodeType.TEXT:
        return _sym(node.text)
    if node.type != NodeType.ELEMENT:
        return ""
    if depth > MAX_MATHML_DEPTH:
        return _sym(node.text)
    tag = node.tag.lower().split(":")[-1]
    kids = _elements(node)

    def c(i: int) -> str:
        return _conv(kids[i], depth + 1) if i < len(kids) else ""

    if tag in ("annotation", "annotation-xml", "none", "mprescripts"):
        return ""
    if tag == "semantics":
        return c(0)
    if tag in ("mi", "mn", "mo", "ms"):
        txt = node.text.strip()
        if tag == "mi" and node.getattr("mathvariant") == "normal" and len(txt) > 1:
            return r"\mathrm{" + txt + "}"
        if tag == "mi" and len(txt) > 1 and txt not in FUNCTIONS:
            return r"\mathrm{" + txt + "}" if txt.isalpha() else _sym(txt)
        return _sym(txt)
    if tag == "mtext":
        txt = node.text.strip()
        return r"\text{" + txt + "}" if txt else ""
    if tag == "mspace":
        return r"\ "
    if tag == "msup":
        return _group(c(0)) + "^" + _group(c(1))
    if tag == "msub":
        return _group(c(0)) + "_" + _group(c(1))
    if tag == "msubsup":
        return _group(c(0)) + "_" + _group(c(1)) + "^" + _group(c(2))
    if tag == "mfrac":
        if node.getattr("linethickness") in ("0", "0px", "0em"):
            return r"\binom{" + c(0) + "}{" + c(1) + "}"
        return r"\frac{" + c(0) + "}{" + c(1) + "}"
    if tag == "msqrt":
        return r"\sqrt{" + "".join(_conv(k, depth + 1) for k in kids) + "}"
    if tag == "mroot":
        return r"\sqrt[" + c(1) + "]{" + c(0) + "}"
    if tag in ("mover", "munder", "munderover"):
        base = c(0)
        if tag == "mover" and len(kids) > 1:
            acc = kids[1].text.strip()
            if acc in ACCENTS and kids[1].tag.lower() == "mo":
                return ACCENTS[acc] + "{" + base + "}"
            return r"\overset{" + c(1) + "}{" + base + "}"
        if tag == "munder":
            acc = kids[1].text.strip() if len(kids) > 1 else ""
            if acc in ("_", "⏟", "̲"):
                return ACCENTS.get(acc, r"\underline") + "{" + base + "}"
            if base.strip().startswith(("\\sum", "\\prod", "\\lim", "\\int", "\\bigcup", "\\max")):
                return base.strip() + "_" + _group(c(1))
            return r"\underset{" + c(1) + "}{" + base + "}"
        b = base.strip()
        if b.startswith(("\\sum", "\\prod", "\\int", "\\bigcup", "\\bigcap", "\\coprod")):
            return b + "_" + _group(c(1)) + "^" + _group(c(2))
        return r"\overset{" + c(2) + r"}{\underset{" + c(1) + "}{" + base + "}}"
    if tag == "mfenced":
        op = node.getattr("open") if node.hasattr("open") else "("
        cl = node.getattr("close") if node.hasattr("close") else ")"
        sep = node.getattr("separators") if node.hasattr("separators") else ","
        inner = (sep[:1] or "").join(_conv(k, depth + 1) for k in kids)
        return r"\left" + (_sym(op) or ".") + " " + inner + r" \right" + (_sym(cl) or ".")
    if tag == "mtable":
        rows = []
        for r in kids:
            cells = _elements(r) if r.tag.lower().endswith("tr") else [r]
            if r.tag.lower().endswith("mlabeledtr"):
                cells = cells[1:]
            rows.append(" & ".join(_conv(x, depth + 1).strip() for x in cells))
        return r"\begin{matrix}" + r" \\ ".join(rows) + r"\end{matrix}"
    if tag == "mmultiscripts":
        base = c(0)
        out = _group(base)
        rest = kids[1:]
        for i in range(0, len(rest) - 1, 2):
            if rest[i].tag.lower() == "mprescripts":
                break
            sub, sup = _conv(rest[i], depth + 1), _conv(rest[i + 1], depth + 1)
            out += ("_" + _group(sub) if sub else "") + ("^" + _group(sup) if sup else "")
        return out
    # math, mrow, mstyle, mpadded, mphantom, menclose, merror, mtd, unknown: concatenate
    return "".join(_conv(k, depth + 1) for k in iter_children(node))


def mathml_to_latex(math_node) -> str:
    """LaTeX for a ``<math>`` DOM node (resiliparse/lexbor), best effort, never raises."""
    try:
        s = _conv(math_node, 0)
    except Exception:  # noqa: BLE001 - odd MathML degrades to its text, never costs the page
        s = _sym(math_node.text)
    return " ".join(s.split())
