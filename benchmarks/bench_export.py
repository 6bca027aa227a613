"""Speed and size of the export stage's per-record parts, against plain baselines, same process.

  .venv/bin/python -m benchmarks.bench_export

Decontamination: the hashed, sorted-array n-gram index (pipeline.decontam) against the usual
baseline, a Python ``set`` of n-gram strings, both built from the bundled GSM8K test set and
run over the same real pages (CC pages and GSM8K train problems from tests/data/export, with
test problems planted in some). Prints index build time, pickled size (what Spark broadcasts),
pages/s and words/s, and checks both flag the same pages. Token counting: word count against a
BPE tokenizer trained here. Shards: MB/s written by ShardWriter (zstd).
"""

from __future__ import annotations

import pickle
import tempfile
import time
from pathlib import Path

from infra.storage import read_rows
from pipeline.decontam import benchmark_texts_from_rows, build_ngram_index, find_contamination
from pipeline.decontam import tokenize as dtok

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "export"
GSM8K = ROOT / "pipeline" / "data" / "gsm8k_test.jsonl.gz"


def load_pages(repeat: int) -> list[str]:
    cc = [
        d["text"]
        for n in ("cc_en_head-0091", "cc_en_head-0174")
        for d in read_rows(DATA / f"{n}.jsonl.gz")
    ]
    train = [
        r["question"] + "\n" + r["answer"] for r in read_rows(DATA / "gsm8k_train_head60.jsonl")
    ]
    test = list(read_rows(GSM8K))
    planted = [p + "\n" + test[i * 7]["question"] for i, p in enumerate(cc[:5])]
    return (cc + train + planted) * repeat


def set_index(texts: list[str], n: int) -> set[str]:
    out = set()
    for t in texts:
        toks = dtok(t)
        out.update(" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return out


def set_contaminated(text: str, index: set[str], n: int) -> bool:
    toks = dtok(text)
    return any(" ".join(toks[i : i + n]) in index for i in range(len(toks) - n + 1))


def bench_decontam(repeat: int = 20) -> None:
    texts = benchmark_texts_from_rows(list(read_rows(GSM8K)))
    pages = load_pages(repeat)
    words = sum(len(p.split()) for p in pages)
    t = time.perf_counter()
    idx = build_ngram_index({"gsm8k_test": texts}, n=10)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    ref = set_index(texts, 10)
    t_build_ref = time.perf_counter() - t
    size, size_ref = len(pickle.dumps(idx)), len(pickle.dumps(ref))

    t = time.perf_counter()
    ours = [bool(find_contamination(p, idx, max_matches=1)) for p in pages]
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    base = [set_contaminated(p, ref, 10) for p in pages]
    t_base = time.perf_counter() - t
    assert ours == base, "hashed index and set baseline disagree"
    print(
        f"decontamination, GSM8K test (10-grams: {len(idx):,} hashes), {len(pages)} pages, {words:,} words"
    )
    print(f"  {'':24s}{'build s':>9s}{'pickle MB':>11s}{'pages/s':>10s}{'Mwords/s':>10s}")
    print(
        f"  {'hashed sorted arrays':24s}{t_build:9.2f}{size / 1e6:11.2f}"
        f"{len(pages) / t_ours:10.0f}{words / t_ours / 1e6:10.2f}"
    )
    print(
        f"  {'python set of strings':24s}{t_build_ref:9.2f}{size_ref / 1e6:11.2f}"
        f"{len(pages) / t_base:10.0f}{words / t_base / 1e6:10.2f}"
    )
    print(
        f"  ratio: {t_base / t_ours:.2f}x pages/s, {size_ref / size:.1f}x smaller broadcast; "
        f"flagged {sum(ours)} of {len(pages)} pages (both agree)"
    )


def bench_tokens(repeat: int = 20) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from pipeline.tokens import make_token_counter

    pages = load_pages(repeat)
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(
        pages[:40], trainers.BpeTrainer(vocab_size=2000, special_tokens=["[UNK]"])
    )
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "tokenizer.json"
        tok.save(str(path))
        words, bpe = make_token_counter(""), make_token_counter(str(path))
        bpe("warm up")
        rows = []
        for name, fn in (
            ("words", lambda: [words(p) for p in pages]),
            ("bpe per doc", lambda: [bpe(p) for p in pages]),
            ("bpe batch", lambda: bpe.count_batch(pages)),
        ):
            t = time.perf_counter()
            counts = fn()
            rows.append((name, len(pages) / (time.perf_counter() - t), sum(counts)))
    print(f"token counting, {len(pages)} pages")
    for name, rate, total in rows:
        print(f"  {name:24s}{rate:10.0f} pages/s  total {total:,}")


def bench_shards(repeat: int = 50) -> None:
    from infra.storage import folder_output
    from pipeline.shards import ShardWriter

    pages = load_pages(repeat)
    rows = [
        {"id": f"{i:016x}", "url": f"https://x/{i}", "text": p, "lang": "en", "math_score": 0.5,
         "token_count": len(p.split()), "token_kind": "words", "warc_path": "w", "warc_offset": i,
         "warc_date": "", "formulas": 0, "domain": "x"}
        for i, p in enumerate(pages)
    ]  # fmt: skip
    mb = sum(len(p.encode()) for p in pages) / 1e6
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        with ShardWriter(folder_output(d), target_bytes=2_000_000) as w:
            w.write_many(rows)
        secs = time.perf_counter() - t
        on_disk = sum(s.bytes for s in w.shards) / 1e6
    print(
        f"shards: {len(rows)} rows, {mb:.1f} MB text -> {len(w.shards)} zstd shards, "
        f"{on_disk:.1f} MB on disk, {mb / secs:.1f} MB/s"
    )


def main() -> int:
    bench_decontam()
    bench_tokens()
    bench_shards()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
