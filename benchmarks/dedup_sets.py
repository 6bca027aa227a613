"""Labelled near-duplicate sets built from real text, for ``benchmarks/bench_dedup.py``.

Each set takes real documents of one source as bases (pairwise Jaccard < 0.3, so families do not
touch each other) and derives variants the way copies arise on the web: sentences deleted or
inserted (from other documents of the source), the page boilerplate replaced (another site's
header and footer), partial copies (a leading or trailing part cut off), light rewording (a
word in every 30 to 300 replaced by a word of another document), and reformatting (paragraphs
re-wrapped, quotes and dashes changed: invisible after normalisation). A variant applies one to
three of these to the base or, a third of the time, to an earlier variant (copies of copies).

Ground truth is the exact Jaccard of the shingle sets dedup itself uses
(``pipeline.minhash.shingle_set``) for every pair inside a family.

Sources (named so a reader knows which were looked at while choosing defaults):

- ``dev-web``: tests/data/dedup/pages.jsonl.gz (trafilatura-eval, article-extraction-benchmark and
  readability test pages; news, blogs, docs; many languages). Always available.
- ``test-stackmath``: StackMathQA question + answer texts (math-seeds/stackmathqa), math with
  LaTeX: another genre and source, never used while choosing the banding or the window.
- ``test-planetmath``: PlanetMath entry bodies (math-seeds/planetmath, the TeX between
  ``\\begin{document}`` and ``\\end{document}``), also held out.

The test sources live in the team's data folder: pass ``--data DIR`` to the bench or set
``MATHMINE_BENCH_DATA`` (the folder holding ``math-seeds/``).
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import minhash as M
from pipeline.config import DedupConfig

DEV_PAGES = Path(__file__).resolve().parent.parent / "tests" / "data" / "dedup" / "pages.jsonl.gz"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
PARA = "\n"  # a paragraph break among the sentence units

# Lines of the kind that surround an article on a news or blog page (navigation, sharing,
# consent, subscription, related links, footer). A variant republished "on another site" gets
# a different header and footer drawn from these.
BOILERPLATE = (
    "Home", "News", "World", "Politics", "Business", "Technology", "Science", "Opinion",
    "Sports", "Culture", "Menu", "Search", "Sign in", "Subscribe", "Log in", "Register",
    "Skip to main content", "Advertisement", "Share this article", "Share on Facebook",
    "Share on Twitter", "Email this story", "Print", "Comments", "Leave a comment",
    "Related articles", "Most popular", "Read more", "You may also like", "Trending now",
    "Follow us on Instagram", "Sign up for our newsletter to get the latest stories in your inbox",
    "We use cookies to improve your experience on our site. By continuing you agree to our use "
    "of cookies.",
    "Accept all cookies", "Manage preferences", "Privacy policy", "Terms of use", "Contact us",
    "About us", "Careers", "Advertise with us", "All rights reserved.",
    "Copyright 2024 The Daily Courier Media Group. All rights reserved.",
    "This article was originally published on our partner site.",
    "Posted by the editorial team", "Filed under: General", "Tags: news, analysis",
    "Previous post", "Next post", "Back to top", "Loading comments...",
    "Support independent journalism: become a member today.",
    "Photo: handout", "Updated 3 hours ago", "5 min read",
)  # fmt: skip


@dataclass
class NearDupSet:
    name: str
    docs: list[str] = field(default_factory=list)
    family: list[int] = field(default_factory=list)
    recipe: list[str] = field(default_factory=list)  # the edits that made each doc
    truth: dict[tuple[int, int], float] = field(default_factory=dict)  # in-family pairs

    @property
    def bases(self) -> int:
        return len(set(self.family))


# --- sources ---------------------------------------------------------------------------------


def load_dev_web() -> list[str]:
    return [json.loads(x)["text"] for x in gzip.open(DEV_PAGES, "rt")]


def load_stackmath(data: Path) -> list[str]:
    f = data / "math-seeds" / "stackmathqa" / "stackmathqa100k_shards_32-127.jsonl.gz"
    rows = [json.loads(x) for x in gzip.open(f, "rt")]
    return [f"{r.get('Q', '')}\n{r.get('A', '')}" for r in rows]


def load_planetmath(data: Path) -> list[str]:
    out = []
    for f in sorted((data / "math-seeds" / "planetmath").glob("*/*.tex.gz")):
        tex = gzip.open(f, "rt", errors="replace").read()
        body = tex.split("\\begin{document}", 1)[-1].split("\\end{document}", 1)[0]
        out.append(body.strip())
    return out


# --- edits -----------------------------------------------------------------------------------


def to_units(text: str) -> list[str]:
    """Sentences, with PARA after each paragraph."""
    units = []
    for para in text.split("\n"):
        para = para.strip()
        if para:
            units.extend(s for s in _SENTENCE_END.split(para) if s)
            units.append(PARA)
    return units


def from_units(units: list[str]) -> str:
    out, line = [], []
    for u in units:
        if u == PARA:
            if line:
                out.append(" ".join(line))
            line = []
        else:
            line.append(u)
    if line:
        out.append(" ".join(line))
    return "\n".join(out)


def _sentences(units):
    return [i for i, u in enumerate(units) if u != PARA]


def drop_sentences(units, rng, donors):
    rate = rng.uniform(0.02, 0.15)
    return [u for u in units if u == PARA or rng.random() >= rate], f"drop{rate:.2f}"


def insert_sentences(units, rng, donors):
    rate = rng.uniform(0.02, 0.15)
    out = []
    for u in units:
        out.append(u)
        if u != PARA and rng.random() < rate:
            out.append(rng.choice(donors))
    return out, f"insert{rate:.2f}"


def partial_copy(units, rng, donors):
    """A leading or trailing part of the text is missing (excerpt, 'read more' truncation)."""
    idx = _sentences(units)
    keep = rng.uniform(0.8, 0.97)
    n = max(1, round(len(idx) * keep))
    if rng.random() < 0.5:
        return units[: idx[n - 1] + 1] + [PARA], f"head{keep:.2f}"
    return units[idx[len(idx) - n] :], f"tail{keep:.2f}"


def reword(units, rng, donors):
    rate = rng.uniform(0.003, 0.03)
    words = [w for d in rng.sample(donors, min(5, len(donors))) for w in d.split()] or ["word"]
    out = []
    for u in units:
        if u == PARA:
            out.append(u)
        else:
            out.append(
                " ".join(w if rng.random() >= rate else rng.choice(words) for w in u.split())
            )
    return out, f"reword{rate:.3f}"


def reformat(units, rng, donors):
    """Paragraphs re-wrapped and typography changed: the normalised text stays the same."""
    swaps = (("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2014", " - "))
    if rng.random() < 0.5:
        swaps = tuple((b, a) for a, b in swaps)
    out = []
    for u in units:
        if u == PARA:
            if rng.random() < 0.5:  # merge with the next paragraph
                continue
            out.append(u)
        else:
            for a, b in swaps:
                u = u.replace(a, b)
            out.append(u)
            if rng.random() < 0.1:
                out.append(PARA)
    return out, "reformat"


EDITS = (drop_sentences, insert_sentences, partial_copy, reword, reformat)


def site_boilerplate(rng) -> tuple[list[str], list[str]]:
    lines = rng.sample(BOILERPLATE, rng.randint(4, 14))
    cut = rng.randint(1, len(lines) - 1)
    return lines[:cut], lines[cut:]


def make_variant(body, rng, donors):
    """(new body units, recipe) from a body's units: one to three edits."""
    recipe = []
    for edit in rng.sample(EDITS, rng.choice((1, 1, 2, 2, 3))):
        body, tag = edit(body, rng, donors)
        recipe.append(tag)
    return body, recipe


# --- a set -----------------------------------------------------------------------------------


def choose_bases(texts, cfg: DedupConfig, n_base: int, rng, min_words=150, max_words=4000):
    pool = [t for t in texts if min_words <= len(t.split()) <= max_words]
    rng.shuffle(pool)
    bases, sets, rest = [], [], []
    for t in pool:
        s = set(M.shingle_set(t, cfg).tolist())
        if len(bases) < n_base and all(len(s & u) / len(s | u) < 0.3 for u in sets):
            bases.append(t)
            sets.append(s)
        else:
            rest.append(t)
    return bases, rest


def build_set(
    name: str, texts: list[str], cfg: DedupConfig, n_base: int, variants: int = 6, seed: int = 1
) -> NearDupSet:
    rng = random.Random(seed)
    bases, rest = choose_bases(texts, cfg, n_base, rng)
    donors = [s for t in rest for s in _SENTENCE_END.split(t.replace("\n", " ")) if s.strip()]
    out = NearDupSet(name)
    for f, text in enumerate(bases):
        head, foot = site_boilerplate(rng) if rng.random() < 0.5 else ([], [])
        made = [(to_units(text), head, foot)]
        out.docs.append(from_units(head + [PARA] + made[0][0] + foot))
        out.family.append(f)
        out.recipe.append("base")
        for _ in range(variants):
            body, head, foot = made[0] if rng.random() < 0.67 else rng.choice(made[1:] or made)
            body, recipe = make_variant(list(body), rng, donors)
            if rng.random() < 0.5:
                head, foot = site_boilerplate(rng)
                recipe.append("boilerplate")
            made.append((body, head, foot))
            out.docs.append(from_units(list(head) + [PARA] + body + list(foot)))
            out.family.append(f)
            out.recipe.append("+".join(recipe))
    shingles = [set(M.shingle_set(d, cfg).tolist()) for d in out.docs]
    members = defaultdict(list)
    for i, f in enumerate(out.family):
        members[f].append(i)
    for idx in members.values():
        for a, b in itertools.combinations(idx, 2):
            sa, sb = shingles[a], shingles[b]
            out.truth[(a, b)] = len(sa & sb) / len(sa | sb)
    return out


def shingle_jaccard(a: str, b: str, cfg: DedupConfig) -> float:
    return M.exact_jaccard(a, b, cfg)
