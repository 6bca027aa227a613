"""Token counting: a BPE tokenizer trained here on real text (no download), and the labelled
word-count fallback."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.tokens import TokenCounter, make_token_counter

DATA = Path(__file__).parent / "data" / "export"


def _texts() -> list[str]:
    out = []
    for name in ("cc_en_head-0091.jsonl.gz", "cc_en_head-0174.jsonl.gz"):
        with gzip.open(DATA / name, "rt") as f:
            out += [json.loads(line)["text"] for line in f]
    return out


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]", "<s>"])
    tok.train_from_iterator(_texts()[:15], trainer)
    d = tmp_path_factory.mktemp("tiny-bpe")
    path = d / "tokenizer.json"
    tok.save(str(path))
    return path


def test_word_count_fallback_is_labelled():
    c = make_token_counter("")
    assert c.kind == "words"
    assert c("The sum  $a+b$ of\ntwo numbers.") == 6
    assert c.describe() == {"token_kind": "words", "tokenizer_path": None}


def test_trained_tokenizer_counts_match_the_tokenizer(tokenizer_json):
    from tokenizers import Tokenizer

    ref = Tokenizer.from_file(str(tokenizer_json))
    c = make_token_counter(str(tokenizer_json))
    assert c.kind == f"tokenizer:{tokenizer_json.parent.name}"
    texts = _texts()
    held_out = texts[15:]  # not seen in training: still counted, just in more pieces
    for t in held_out:
        n = c(t)
        assert n == len(ref.encode(t, add_special_tokens=False).ids)
        # a 600-token BPE vocabulary splits words: more tokens than words
        assert n > len(t.split())
    assert c.count_batch(held_out) == [c(t) for t in held_out]
    d = c.describe()
    assert d["token_kind"].startswith("tokenizer:") and len(d["tokenizer_sha256"]) == 64


def test_counter_pickles_its_path_only_and_loads_lazily(tokenizer_json):
    c = TokenCounter(str(tokenizer_json))
    c("warm up: loads the tokenizer")
    assert c._tok is not None
    blob = pickle.dumps(c)
    assert len(blob) < 500  # the loaded tokenizer (vocab, merges) is not shipped
    c2 = pickle.loads(blob)
    assert c2._tok is None
    assert c2("Pythagoras: a^2 + b^2 = c^2") == c("Pythagoras: a^2 + b^2 = c^2")


def test_bad_tokenizer_paths_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        make_token_counter(str(tmp_path / "missing.json"))
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="cannot load tokenizer"):
        make_token_counter(str(bad))("text")
