"""fastText math classifier: training on the driver, a lazily loaded scorer for executors."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from classifiers.features import MAX_WORDS, to_fasttext_line

LABEL_MATH = "__label__math"
LABEL_OTHER = "__label__other"

# one loaded model per (process, path): executors load once and reuse across partitions/tasks
_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()

# fastText (this fork included) fills only `thread`/10 of the input matrix with random values
# (DenseMatrix::uniform starts one block of m*n/10 per thread) and leaves the rest as it came
# from the allocator. Upstream used a zero-filled std::vector; this fork's AlignedVector is
# posix_memalign, so in a long-lived process the rest is whatever a freed buffer held: a
# silently different model, or "Encountered NaN". Training therefore runs in a fresh child
# whose allocator serves every large block from new mmap pages, which the kernel zero-fills:
# the upstream behaviour, the same model for the same data, whatever the parent did before.
_MMAP_THRESHOLD = 128 * 1024
_TRAIN_CHILD = """
import json, sys
import fasttext
args = json.loads(sys.argv[1])
out = args.pop("output")
fasttext.train_supervised(**args).save_model(out)
"""


def train_classifier(pos_texts: Iterable, neg_texts: Iterable, cfg, out_path) -> str:
    """Train a binary fastText model (math vs other) and save it to ``out_path``.

    ``cfg`` is a RecallConfig (dim, lr, word_ngrams, min_count, epoch, threads, bucket, seed,
    max_words, balance_classes).
    Items are texts or dicts with ``text``/``formulas``/``math_markup``. Trains in one child
    process with all the threads asked for (fastText trains best as one multi-threaded
    process; why a child: see ``_TRAIN_CHILD``).
    """
    mw = cfg.max_words
    lines = [f"{LABEL_MATH} {_as_line_trunc(d, mw)}" for d in pos_texts]
    n_pos = len(lines)
    lines += [f"{LABEL_OTHER} {_as_line_trunc(d, mw)}" for d in neg_texts]
    if n_pos == 0 or n_pos == len(lines):
        raise ValueError(f"need positives and negatives, got {n_pos} and {len(lines) - n_pos}")
    if cfg.balance_classes:
        # DeepSeekMath trained on 500K + 500K; with unequal classes fastText's probabilities
        # shift towards the larger one and a fixed 0.5 threshold stops meaning anything, so
        # the smaller class is repeated up to the size of the larger one
        pos, neg = lines[:n_pos], lines[n_pos:]
        small, big = (pos, neg) if len(pos) < len(neg) else (neg, pos)
        small = [small[i % len(small)] for i in range(len(big))]
        lines = small + big
    # fastText reads examples in file order; a shuffle avoids a class-ordered learning schedule
    random.Random(cfg.seed).shuffle(lines)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    threads = cfg.threads or os.cpu_count() or 1
    fd, tmp = tempfile.mkstemp(prefix="ft-train-", suffix=".txt", dir=out_path.parent)
    part = out_path.with_name(f".{out_path.name}.part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        _train_in_child(
            {
                "input": tmp,
                "output": str(part),
                "dim": cfg.dim,
                "lr": cfg.lr,
                "wordNgrams": cfg.word_ngrams,
                "minCount": cfg.min_count,
                "epoch": cfg.epoch,
                "thread": threads,
                "bucket": cfg.bucket,
                "seed": cfg.seed,
                "verbose": 0,
            }
        )
        os.replace(part, out_path)
    finally:
        os.unlink(tmp)
        part.unlink(missing_ok=True)
    return str(out_path)


def _child_env() -> dict:
    env = dict(os.environ)
    env["MALLOC_MMAP_THRESHOLD_"] = str(_MMAP_THRESHOLD)
    tunable = f"glibc.malloc.mmap_threshold={_MMAP_THRESHOLD}"
    env["GLIBC_TUNABLES"] = ":".join(t for t in (env.get("GLIBC_TUNABLES"), tunable) if t)
    return env


def _train_in_child(args: dict) -> None:
    """Run fastText's supervised training with ``args`` in a fresh Python process."""
    proc = subprocess.run(
        [sys.executable, "-c", _TRAIN_CHILD, json.dumps(args)],
        env=_child_env(),
        capture_output=True,
        text=True,
    )
    if proc.returncode == 0:
        return
    err = proc.stderr.strip().splitlines()
    last = err[-1] if err else f"exit code {proc.returncode}"
    if "NaN" in last:
        raise RuntimeError(
            f"fastText training diverged ({last}) with lr={args['lr']}: lower recall.lr "
            "(DeepSeekMath used 0.1) or check the training texts"
        )
    raise RuntimeError(f"fastText training failed: {last}\n" + "\n".join(err[-20:]))


def load_model(path: str):
    """The fastText model at ``path``, loaded once per process."""
    model = _MODELS.get(path)
    if model is None:
        with _LOCK:
            model = _MODELS.get(path)
            if model is None:
                import fasttext

                # fastText's loader prints a deprecation warning to stderr on every load
                fasttext.FastText.eprint = lambda *a, **k: None
                model = fasttext.load_model(path)
                _MODELS[path] = model
    return model


class MathScorer:
    """Probability that a document is math. Pickles only the model path; loads lazily."""

    def __init__(self, model_path: str, max_words: int = MAX_WORDS):
        self.model_path = str(model_path)
        self.max_words = max_words

    def __getstate__(self):
        return {"model_path": self.model_path, "max_words": self.max_words}

    def __setstate__(self, state):
        self.__dict__.update(state)

    @property
    def model(self):
        return load_model(self.model_path)

    def is_loaded(self) -> bool:
        return self.model_path in _MODELS

    def score(self, text: str, formulas: int = 0, math_markup: Iterable[str] = ()) -> float:
        line = to_fasttext_line(text or "", formulas or 0, math_markup or (), self.max_words)
        labels, probs = self.model.predict(line, k=2)
        for label, p in zip(labels, probs):
            if label == LABEL_MATH:
                return float(min(1.0, max(0.0, p)))
        return 0.0

    def score_many(self, docs: Iterable) -> list[float]:
        """Scores for texts or (text, formulas, math_markup) tuples / dicts, in order."""
        lines = [_as_line_trunc(d, self.max_words) for d in docs]
        if not lines:
            return []
        labels, probs = self.model.predict(lines, k=2)
        out = []
        for labs, ps in zip(labels, probs):
            p = 0.0
            for label, q in zip(labs, ps):
                if label == LABEL_MATH:
                    p = float(min(1.0, max(0.0, q)))
            out.append(p)
        return out


def _as_line_trunc(doc, max_words: int) -> str:
    if isinstance(doc, str):
        return to_fasttext_line(doc, max_words=max_words)
    if isinstance(doc, dict):
        return to_fasttext_line(
            doc.get("text") or "", doc.get("formulas") or 0, doc.get("math_markup") or (), max_words
        )
    text, *rest = doc
    formulas = rest[0] if rest else 0
    markup = rest[1] if len(rest) > 1 else ()
    return to_fasttext_line(text or "", formulas or 0, markup or (), max_words)
