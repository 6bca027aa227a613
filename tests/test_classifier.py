"""fastText features, training, the lazily loaded scorer and held-out evaluation (no Spark)."""

from __future__ import annotations

import dataclasses
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifiers.evaluate import (
    average_precision,
    evaluate,
    evaluate_heldout,
    heldout_sets,
    pr_curve,
    precision_recall_at,
)
from classifiers.fasttext_model import _MODELS, MathScorer, train_classifier
from classifiers.features import (
    dollar_delimiters,
    formula_bucket,
    sample_words,
    to_fasttext_line,
)
from classifiers.seeds import (
    iter_seed_uri,
    load_bundled_negatives,
    load_bundled_seeds,
    load_heldout,
    load_seeds,
)
from pipeline.config import RecallConfig
from pipeline.errors import UserError

REPO = Path(__file__).resolve().parent.parent


def test_fasttext_line_spaces_latex_and_prepends_markup():
    line = to_fasttext_line("Let $\\frac{a}{b} = c$.\n\nThen  X^2!", 3, ["mathjax", "MathML"])
    toks = line.split(" ")
    assert toks[:4] == ["__nf_2_4__", "__mm_mathjax__", "__mm_mathml__", "__tex_cmds_few__"]
    assert "\\frac" in toks and "{" in toks and "x" in toks and "^" in toks
    assert "\n" not in line and "  " not in line and line == line.lower()
    # formula count: the larger of the extractor's and the text's own
    assert to_fasttext_line("$a$ and $b$ and $$c$$").startswith("__nf_2_4__ ")
    assert to_fasttext_line("no math here").split(" ")[0] == "__nf_0__"
    assert [formula_bucket(n) for n in (0, 1, 3, 7, 50)] == [
        "__nf_0__",
        "__nf_1__",
        "__nf_2_4__",
        "__nf_5_19__",
        "__nf_20p__",
    ]
    # the token counts formulas by the one definition (pipeline.math_text): prices are prose
    assert to_fasttext_line("\\(x\\) then \\[y\\] and \\begin{align} z \\end{align}").startswith(
        "__nf_2_4__ "
    )
    assert to_fasttext_line("It costs $5 and $10 for $x$ apples.").startswith("__nf_1__ ")


def test_mathjax_delimiters_read_as_the_training_texts_dollars():
    """MathJax pages write \\(..\\) and \\[..\\], the training texts $..$ and $$..$$: the
    classifier must see one formula the same way whichever delimiters the page used (26 of 53
    of the sample's Levin pages scored >= 0.5 while it did not, 44 after)."""
    mathjax = "Let \\(p \\imp q\\) hold; then \\[\\neg q \\imp \\neg p\\] and \\(x\\)."
    dollars = "Let $p \\imp q$ hold; then $$\\neg q \\imp \\neg p$$ and $x$."
    assert dollar_delimiters(mathjax) == dollars
    assert to_fasttext_line(mathjax, 3, ["raw_tex"]) == to_fasttext_line(dollars, 3, ["raw_tex"])
    assert "\\ (" not in to_fasttext_line(mathjax)
    # only formulas change: an environment keeps its TeX, a lone or escaped \\( is text
    env = "\\begin{align} a \\end{align} and \\\\(not math"
    assert dollar_delimiters(env) == env
    assert dollar_delimiters("") == "" and dollar_delimiters("$5 and $10") == "$5 and $10"


def test_long_docs_are_truncated():
    long = " ".join(f"w{i}" for i in range(10_000))
    line = to_fasttext_line(long, max_words=2000)
    toks = line.split(" ")
    # 4 runs of 500 words at 0, 2500, 5000, 7500: the opening navigation cannot fill it all
    assert len(toks) == 2001 and toks[1] == "w0" and toks[-1] == "w7999"
    assert "w500" not in toks and "w2500" in toks and "w5500" not in toks and "w5499" in toks
    assert sample_words("a b c", 2) == ["a", "b"]
    assert sample_words(" ".join(map(str, range(10))), 4) == ["0", "2", "4", "6"]
    short = " ".join(f"w{i}" for i in range(300))
    assert to_fasttext_line(short, max_words=500).endswith("w299")
    huge = " ".join(f"w{i}" for i in range(200_000))
    assert to_fasttext_line(huge, max_words=100).split(" ")[-1] == "w1524"  # scans 2,000 words


def test_evaluate_on_a_hand_made_list():
    scores = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1]
    labels = [1, 1, 0, 1, 1, 0, 0, 0]
    m = precision_recall_at(scores, labels, 0.5)
    assert (m["tp"], m["fp"], m["fn"]) == (3, 1, 1)
    assert m["precision"] == 0.75 and m["recall"] == 0.75
    curve = pr_curve(scores, labels)
    assert curve[0] == (0.9, 1.0, 0.25) and curve[-1] == (0.1, 0.5, 1.0)
    # AP = 1*.25 + 1*.25 + .75*.25 + .8*.25
    assert average_precision(scores, labels) == pytest.approx(0.8875)
    assert average_precision([0.9, 0.1], [1, 0]) == 1.0
    e = evaluate(scores, labels, 0.5)
    assert e["n_pos"] == 4 and e["n_neg"] == 4 and e["pr_auc"] == 0.8875
    # per named set: the first four rows dev, the rest test (two of them unseen collections)
    rows = [
        {"label": y, "split": "dev" if i < 4 else "test", "unseen_collection": i >= 6}
        for i, y in enumerate(labels)
    ]
    assert heldout_sets(rows) == {
        "dev": [0, 1, 2, 3],
        "test": [4, 5, 6, 7],
        "test_seed_collections": [4, 5],
        "test_unseen_collections": [6, 7],
    }
    per_set = evaluate_heldout(scores, rows, 0.5)
    assert per_set["dev"] == evaluate(scores[:4], labels[:4], 0.5)
    assert (per_set["dev"]["tp"], per_set["dev"]["fp"], per_set["test"]["fn"]) == (3, 1, 1)
    # test's one positive (0.4) is below the threshold, nothing is predicted positive
    assert per_set["test"]["recall"] == 0.0 and per_set["test"]["tp"] + per_set["test"]["fp"] == 0
    assert per_set["test_unseen_collections"]["n_pos"] == 0
    with pytest.raises(ValueError, match="split"):
        heldout_sets([{"label": 1, "url": "x"}])


def test_bundled_data_is_real_and_disjoint():
    seeds, negs = load_bundled_seeds(), load_bundled_negatives()
    dev, test = load_heldout("dev"), load_heldout("test")
    assert len(seeds) > 2000 and len(negs) > 500
    assert sum(r["label"] for r in dev) >= 200 and sum(1 - r["label"] for r in dev) >= 40
    assert sum(r["label"] for r in test) >= 300 and sum(1 - r["label"] for r in test) >= 250
    assert len(load_heldout()) == len(dev) + len(test)
    sets = [{r["text"] for r in rows} for rows in (seeds + negs, dev, test)]
    assert not sets[0] & sets[1] and not sets[0] & sets[2] and not sets[1] & sets[2]
    sources = {r["source"] for r in seeds}
    assert {"planetmath", "stackmathqa", "gsm8k", "openstax", "stacks-project-tex"} <= sources
    kinds = {r["source"].split("/")[-1] for r in negs}
    assert len(kinds) >= 8  # never one genre: docs, shops, recipes, courts, tables, news...
    assert not any("discrete-math-levin" in r["source"] for r in seeds + negs + dev + test)
    # whole collections held out: in test only, and test has both math and non-math of them
    unseen = {r["source"].split("/")[0] for r in test if r["unseen_collection"]}
    assert unseen == {"cp-algorithms", "hott-book-tex", "dolma-cc-text", "forum-pages"}
    elsewhere = {r["source"].split("/")[0] for r in seeds + negs + dev}
    assert not unseen & elsewhere
    assert {r["label"] for r in test if r["unseen_collection"]} == {0, 1}
    assert not any(r["unseen_collection"] for r in dev)
    with pytest.raises(ValueError, match="dev"):
        load_heldout("train")


_WORD = re.compile(r"\w+")


def _word_13grams(text: str) -> np.ndarray:
    w = _WORD.findall(text.lower())
    return np.unique(np.array([hash(" ".join(w[i : i + 13])) for i in range(len(w) - 12)], "i8"))


class _Owners:
    """Largest share of a text's word 13-grams held by one indexed text: plain ``\\w+`` words
    and Python's string hash, not the build's decontamination tokens and n-gram hashes."""

    def __init__(self, texts: list[str]):
        grams = [_word_13grams(t) for t in texts]
        h = np.concatenate(grams)
        owner = np.repeat(np.arange(len(grams)), [len(g) for g in grams])
        order = np.argsort(h, kind="stable")
        self.h, self.owner = h[order], owner[order]

    def worst(self, text: str) -> float:
        q = _word_13grams(text)
        lo, hi = np.searchsorted(self.h, q, "left"), np.searchsorted(self.h, q, "right")
        hits = [self.owner[a:b] for a, b in zip(lo, hi) if b > a]
        return float(np.bincount(np.concatenate(hits)).max() / len(q)) if hits else 0.0


@pytest.mark.slow
def test_no_heldout_row_is_a_near_duplicate_of_what_it_is_held_out_from():
    """No dev row shares 5% of its 13-grams with one training row, no test row with one training
    or dev row (classifiers/build_data.py NEAR_DUP_CONTAINMENT), counted here independently."""
    train = [r["text"] for r in load_bundled_seeds() + load_bundled_negatives()]
    dev = [r["text"] for r in load_heldout("dev")]
    test = [r["text"] for r in load_heldout("test")]
    owners = _Owners(train)
    # the measure finds what it should: half of a training text is all inside that text
    assert owners.worst(" ".join(train[7].split()[:400])) == 1.0
    # the build reads NFKC tokens with punctuation as spaces, this test plain \w+ words: they
    # read OpenStax's Unicode math a little differently (one dev row: 0.047 there, 0.059 here)
    assert max(owners.worst(t) for t in dev) < 0.065
    owners = _Owners(train + dev)
    assert max(owners.worst(t) for t in test) < 0.065


def test_bundled_openstax_sections_hold_each_block_once():
    """CNXML nests paras in problems and solutions; the build takes each block's own text
    once (it once wrote every exercise twice, and the cleaning rules rightly dropped those)."""
    from collections import Counter

    rows = [r for r in load_bundled_seeds() + load_heldout() if r["source"] == "openstax"]
    assert len(rows) > 100
    lines = repeated = 0
    for r in rows:
        counts = Counter(ln for ln in r["text"].split("\n") if len(ln.split()) > 8)
        lines += sum(counts.values())
        repeated += sum(n - 1 for n in counts.values())
    # textbooks do restate instructions ("In the following exercises, simplify each
    # expression."): 2.0% of these lines; with the nesting bug 22.7% were repeats
    assert lines > 5_000 and repeated / lines < 0.05


def test_seed_files_jsonl_and_parquet(tmp_path):
    import gzip
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = load_bundled_seeds()[:5]
    j = tmp_path / "owm.jsonl.gz"
    with gzip.open(j, "wt") as f:
        for r in rows:
            f.write(json.dumps({"text": r["text"], "url": r["url"], "date": "x"}) + "\n")
    p = tmp_path / "owm.parquet"
    pq.write_table(
        pa.table({"url": [r["url"] for r in rows], "text": [r["text"] for r in rows]}), p
    )
    for uri in (str(j), f"file://{p}"):
        got = list(iter_seed_uri(uri))
        assert [g["url"] for g in got] == [r["url"] for r in rows]
    assert len(load_seeds([str(j), str(p)], limit=7)) == 7
    assert len(load_seeds([])) == len(load_bundled_seeds())
    with pytest.raises(UserError):
        list(iter_seed_uri(str(tmp_path / "missing.jsonl")))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(UserError, match="line 1"):
        list(iter_seed_uri(str(bad)))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    cfg = RecallConfig(dim=64, bucket=100_000, threads=2)
    path = tmp_path_factory.mktemp("ft") / "model.bin"
    train_classifier(load_bundled_seeds()[::8], load_bundled_negatives()[::3], cfg, path)
    return str(path)


def test_scorer_pickles_only_its_path_and_loads_lazily(small_model, tmp_path):
    s = MathScorer(small_model)
    blob = pickle.dumps(s)
    assert len(blob) < 500  # the model (megabytes) never travels
    _MODELS.pop(small_model, None)
    s2 = pickle.loads(blob)
    assert not s2.is_loaded()
    held = load_heldout()
    math = next(r for r in held if r["label"] == 1 and r["source"] == "stackmathqa")
    other = next(r for r in held if r["label"] == 0 and r["source"].startswith("nonmath"))
    p_math, p_other = s2.score(math["text"]), s2.score(other["text"])
    assert s2.is_loaded() and 0 <= p_other < 0.5 < p_math <= 1
    first = _MODELS[small_model]
    assert MathScorer(small_model).model is first  # one load per process
    assert s2.score_many([math["text"], (other["text"], 0, [])]) == pytest.approx(
        [p_math, p_other], abs=1e-6
    )
    # a fresh process (an executor) unpickles the path and loads the model on first use
    (tmp_path / "scorer.pkl").write_bytes(blob)
    (tmp_path / "text.txt").write_text(math["text"])
    code = (
        "import pickle,sys; from classifiers import fasttext_model as m; "
        f"s=pickle.loads(open({str(tmp_path / 'scorer.pkl')!r},'rb').read()); "
        "assert not m._MODELS; "
        f"print(s.score(open({str(tmp_path / 'text.txt')!r}).read()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout.strip()) == pytest.approx(p_math, abs=1e-6)


def test_training_needs_both_classes(tmp_path):
    with pytest.raises(ValueError):
        train_classifier(["a b c"], [], RecallConfig(dim=8), tmp_path / "m.bin")


# Runs in a fresh Python: leaves a freed 64 MB block of 0x40 bytes (floats of 3.0) on the heap,
# as a long-lived driver leaves freed buffers behind, then trains twice on the same file:
# fastText directly in that process, and train_classifier. Prints the sha256 of each model.
_POISONED_TRAINING = r"""
import ctypes, hashlib, sys
from pathlib import Path
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: large blocks come from the heap
libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: freed heap stays in the process
n = 64 << 20
block = libc.malloc(n)
ctypes.memset(block, 0x40, n)
libc.free(block)
import fasttext
from classifiers.fasttext_model import train_classifier
from classifiers.seeds import load_bundled_negatives, load_bundled_seeds
from pipeline.config import RecallConfig
out = Path(sys.argv[1])
cfg = RecallConfig(dim=16, bucket=20_000, threads=1, epoch=1)
pos, neg = load_bundled_seeds()[::40], load_bundled_negatives()[::20]
try:
    direct = fasttext.train_supervised(
        input=sys.argv[2], dim=16, bucket=20_000, thread=1, epoch=1, minCount=3, wordNgrams=3,
        verbose=0,
    )
    rows = direct.get_input_matrix()
    print("direct", int((abs(rows).sum(axis=1) > 0).sum()), rows.shape[0])
except RuntimeError as e:
    print("direct", e)
train_classifier(pos, neg, cfg, out / "poisoned.bin")
print("ours", hashlib.sha256((out / "poisoned.bin").read_bytes()).hexdigest())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="poisons the glibc heap")
def test_training_does_not_depend_on_what_the_process_freed_before(tmp_path):
    """fastText leaves 90% of its input matrix uninitialised with one thread; the CI run that
    failed with "Encountered NaN" trained on whatever a freed buffer held."""
    import hashlib

    held = load_heldout()
    train_file = tmp_path / "direct.txt"
    train_file.write_text(
        "".join(f"__label__{r['label']} {to_fasttext_line(r['text'])}\n" for r in held[::3])
    )
    proc = subprocess.run(
        [sys.executable, "-c", _POISONED_TRAINING, str(tmp_path), str(train_file)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    # control: fastText trained in the poisoned process picked the freed bytes up (a NaN, or
    # rows past the initialised tenth that are not zero)
    if "NaN" not in got["direct"]:
        nonzero, total = map(int, got["direct"].split())
        assert nonzero > total * 0.5
    # ours: the same model as a training in this (unpoisoned) process
    cfg = RecallConfig(dim=16, bucket=20_000, threads=1, epoch=1)
    pos, neg = load_bundled_seeds()[::40], load_bundled_negatives()[::20]
    clean = train_classifier(pos, neg, cfg, tmp_path / "clean.bin")
    want = hashlib.sha256(open(clean, "rb").read()).hexdigest()
    assert got["ours"] == want


@pytest.fixture(scope="module")
def default_model(tmp_path_factory):
    """The classifier with the default config (dim 256, wordNgrams 3), trained on the bundled
    seeds and negatives: (model path, config)."""
    cfg = dataclasses.replace(RecallConfig(), threads=2)
    out = tmp_path_factory.mktemp("default") / "m.bin"
    return train_classifier(load_bundled_seeds(), load_bundled_negatives(), cfg, out), cfg


@pytest.mark.slow
def test_default_classifier_separates_the_heldout_sets(default_model):
    """Issue 5 target: recall >= 0.95 at precision >= 0.90, with the default config (dim 256,
    wordNgrams 3), seeds vs diverse real non-math pages; on dev (the defaults were chosen on
    it) and on test (they were not; a third of its rows from collections never trained on)."""
    path, cfg = default_model
    held = load_heldout()
    figures = evaluate_heldout(MathScorer(path).score_many(held), held, cfg.threshold)
    for name, m in figures.items():
        print(f"{name} at default config:", m)
    for name in ("dev", "test"):
        m = figures[name]
        assert m["recall"] >= 0.95 and m["precision"] >= 0.90, (name, m)
        assert m["pr_auc"] >= 0.98, (name, m)


def _sample_pages(host: str) -> list[dict]:
    """The extracted docs of the bundled sample WARC's pages on ``host`` (the pipeline's own
    reader and fast extraction)."""
    from pipeline.config import load_config
    from pipeline.extract import process_record
    from pipeline.records import RawRecord
    from pipeline.warc import iter_records

    config = load_config(None, [])
    warc = REPO / "sample" / "sample.warc.gz"
    with open(warc, "rb") as f:
        recs = [
            r
            for r in iter_records(f, str(warc), config.extract)
            if isinstance(r, RawRecord) and r.url.startswith(f"https://{host}/")
        ]
    return [d for d in (process_record(r, config) for r in recs) if isinstance(d, dict)]


@pytest.mark.slow
def test_default_classifier_finds_an_unseen_mathjax_textbook(default_model):
    """Levin's Discrete Mathematics (PreTeXt HTML, MathJax \\(..\\)) is in no training or
    held-out row. Its section pages (20+ formulas each) must score as math, or the recall loop
    neither selects them nor accepts their URL path (recall.path_accept_share 0.5): with the
    formulas' \\( \\) read as two tokens 26 of its 53 sample pages scored >= 0.5 (26 of the 46
    with 20+ formulas); read as $ .. $, 44 (42 of 46)."""
    path, cfg = default_model
    docs = _sample_pages("discrete.openmathbooks.org")
    assert len(docs) >= 50
    scores = MathScorer(path).score_many(docs)
    sections = [s for s, d in zip(scores, docs) if d["formulas"] >= 20]
    assert len(sections) >= 40
    share = sum(s >= cfg.threshold for s in sections) / len(sections)
    assert share >= 0.8, sorted(zip(scores, (d["url"] for d in docs)))
    assert sum(s >= cfg.threshold for s in scores) >= cfg.path_accept_share * len(scores)
