"""Decontamination: planted GSM8K test problems are found (whole, embedded, reformatted), near
misses and real pages are kept, and the hashed index agrees with a plain n-gram set."""

from __future__ import annotations

import pickle
import random
import re
from pathlib import Path

import pytest

from infra.storage import read_rows
from pipeline.decontam import (
    NormalizeConfig,
    benchmark_texts_from_rows,
    build_ngram_index,
    find_contamination,
    tokenize,
)

REPO = Path(__file__).resolve().parent.parent
GSM8K_TEST = REPO / "pipeline" / "data" / "gsm8k_test.jsonl.gz"
DATA = Path(__file__).parent / "data" / "export"


def _jsonl(path: Path) -> list[dict]:
    return list(read_rows(path))


@pytest.fixture(scope="module")
def gsm8k() -> list[dict]:
    return _jsonl(GSM8K_TEST)


@pytest.fixture(scope="module")
def index(gsm8k):
    return build_ngram_index({"gsm8k_test": benchmark_texts_from_rows(gsm8k)}, n=10)


@pytest.fixture(scope="module")
def pages() -> list[str]:
    docs = _jsonl(DATA / "cc_en_head-0091.jsonl.gz") + _jsonl(DATA / "cc_en_head-0174.jsonl.gz")
    return [d["text"] for d in docs]


def _embed(page: str, planted: str) -> str:
    paras = page.split("\n")
    mid = len(paras) // 2
    return "\n".join(paras[:mid] + [planted] + paras[mid:])


def test_bundled_gsm8k_is_the_full_test_split(gsm8k, index):
    assert len(gsm8k) == 1319
    s = index.summary()
    # every question and every answer is a text of >= 10 tokens
    assert s["benchmarks"]["gsm8k_test"]["texts_indexed"] == 2 * 1319
    assert s["hashes"] > 50_000


def test_tokenize_normalises_case_punctuation_and_whitespace():
    assert tokenize("Janet’s  ducks\tlay 16-3-4=9 EGGS!") == [
        "janet", "s", "ducks", "lay", "16", "3", "4", "9", "eggs",
    ]  # fmt: skip
    raw = NormalizeConfig(lowercase=False, strip_punctuation=False)
    assert tokenize("Janet’s  ducks lay", raw) == ["Janet’s", "ducks", "lay"]


def test_whole_planted_questions_and_answers_are_found(gsm8k, index):
    rng = random.Random(7)
    for row in rng.sample(gsm8k, 40):
        hits = find_contamination(row["question"], index)
        assert hits and hits[0][0] == "gsm8k_test"
        # the solution as a page shows it: calculator annotations gone
        answer = re.sub(r"<<[^>]*>>", "", row["answer"])
        assert find_contamination(answer, index)


def test_problems_embedded_in_real_pages_are_found(gsm8k, index, pages):
    rng = random.Random(11)
    for page, row in zip(pages, rng.sample(gsm8k, len(pages))):
        assert find_contamination(page, index) == []  # the host page alone is clean
        planted = _embed(page, row["question"])
        hits = find_contamination(planted, index)
        assert hits, row["question"]
        # the reported n-gram is 10 normalised tokens of the planted question
        bench, gram = hits[0]
        assert bench == "gsm8k_test" and len(gram.split()) == 10
        assert gram in " ".join(tokenize(row["question"]))


def test_reformatted_copies_are_found(gsm8k, index):
    """Web copies change case, quotes and spacing of arithmetic; the normalisation absorbs it."""
    row = gsm8k[0]
    copy = row["question"].upper().replace("’", "'").replace(" ", "  ")
    assert find_contamination(copy, index)
    # the solution written the way a page would: no calculator annotations, spaced operators
    solution = "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day at the farmer's market."
    assert find_contamination(solution, index)


def test_near_misses_are_kept(gsm8k, index, pages):
    rng = random.Random(3)
    for row in rng.sample(gsm8k, 30):
        toks = tokenize(row["question"])
        # change every 8th token: no run of 10 original tokens survives
        missed = [("zzz" + t if i % 8 == 7 else t) for i, t in enumerate(toks)]
        assert find_contamination(" ".join(missed), index) == [], row["question"]
        # a 9-token window of the question (shorter than the 10-gram rule) is not leakage
        norm = tokenize(row["question"])
        assert find_contamination(" ".join(norm[:9]), index) == []
    # real pages with no planted problem: no false positive
    assert all(find_contamination(p, index) == [] for p in pages)


def test_hashed_index_agrees_with_a_plain_ngram_set(gsm8k, index, pages):
    """Reference: a Python set of token tuples. Documents: GSM8K train problems (some share
    10-grams with test problems by nature), real pages, and pages with planted test text."""
    ref = set()
    for text in benchmark_texts_from_rows(gsm8k):
        t = tokenize(text)
        ref.update(tuple(t[i : i + 10]) for i in range(len(t) - 9))
    train = _jsonl(DATA / "gsm8k_train_head60.jsonl")
    docs = [r["question"] + "\n" + r["answer"] for r in train] + pages
    docs += [_embed(p, gsm8k[i * 13]["answer"]) for i, p in enumerate(pages)]
    agree = 0
    for d in docs:
        t = tokenize(d)
        expected = {
            " ".join(g) for g in (tuple(t[i : i + 10]) for i in range(len(t) - 9)) if g in ref
        }
        got = {g for _, g in find_contamination(d, index, max_matches=0)}
        assert got == expected
        agree += 1
    assert agree == len(docs)


def test_short_benchmark_texts_match_exactly_and_13gram_option():
    bench = {
        "toy": [
            "What is the derivative of x squared?",  # 7 tokens: matched as a whole
            "Find x.",  # 2 tokens: below min_exact_tokens, ignored
            "Let n be the smallest positive integer such that n squared ends in the digits 444 exactly.",
        ]
    }
    idx10 = build_ngram_index(bench, n=10, min_exact_tokens=3)
    assert idx10.summary()["benchmarks"]["toy"] == {"texts_indexed": 2, "texts_too_short": 1}
    page = "Homework help. Q: what is the DERIVATIVE of x squared? A: 2x, by the power rule."
    assert find_contamination(page, idx10) == [("toy", "what is the derivative of x squared")]
    assert find_contamination("the derivative of x squared is 2x", idx10) == []
    assert find_contamination("Find x. Then find y.", idx10) == []
    # 11 tokens of the long text: a 10-gram hit, but no 13-gram
    eleven = "n be the smallest positive integer such that n squared ends in"
    assert find_contamination(eleven, idx10)
    idx13 = build_ngram_index(bench, n=13, min_exact_tokens=3)
    assert find_contamination(eleven, idx13) == []
    assert find_contamination("Let " + eleven + " the digits", idx13)


def test_several_benchmarks_are_told_apart_and_index_pickles_small(gsm8k):
    idx = build_ngram_index(
        {
            "gsm8k_q": [r["question"] for r in gsm8k],
            "gsm8k_a": [r["answer"] for r in gsm8k],
        }
    )
    assert find_contamination(gsm8k[5]["question"], idx)[0][0] == "gsm8k_q"
    assert find_contamination(gsm8k[5]["answer"], idx)[0][0] == "gsm8k_a"
    blob = pickle.dumps(idx)
    # 8-byte hash + 2-byte id per n-gram, no per-object overhead: broadcastable
    assert len(blob) < 12 * len(idx) + 10_000
    again = pickle.loads(blob)
    assert find_contamination(gsm8k[5]["question"], again) == find_contamination(
        gsm8k[5]["question"], idx
    )


def test_calculator_annotations_are_removed_from_benchmark_texts():
    texts = benchmark_texts_from_rows(
        [{"question": "Q?", "answer": "She has 2*3=<<2*3=6>>6 apples.\n#### 6", "id": 1}]
    )
    assert texts == ["Q?", "She has 2*3=6 apples.\n#### 6"]
