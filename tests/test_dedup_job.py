"""The dedup stage in Spark local mode, on real page texts with planted duplicates.

One scenario table exercises every rule at once (Spark jobs are slow on a shared 2-core box):
exact URL (newest capture wins, ties to the smallest id, undated captures lose), exact text
after normalisation, near duplicates, and a chain of near duplicates whose ends are far apart
(J < 0.75) that must still form one component.
"""

from __future__ import annotations

import gzip
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.dedup_job import connected_components, dedup_frame, run_dedup
from jobs.run_folder import RunFolder
from pipeline.config import Config, DedupConfig
from pipeline.minhash import exact_jaccard, minhash_signatures, signature_keys, text_hashes

pytestmark = pytest.mark.spark

CFG = DedupConfig()
ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.fixture(scope="module")
def pages(data_dir):
    rows = [json.loads(x)["text"] for x in gzip.open(data_dir / "dedup" / "pages.jsonl.gz", "rt")]
    return [p for p in rows if 400 <= len(p.split()) <= 3000]


def edit_words(text: str, rate: float, rng: random.Random) -> str:
    return " ".join(
        w if rng.random() >= rate else f"zq{rng.randrange(10**9)}" for w in text.split()
    )


def chain_texts(text: str, links: int, per_step: int, rng: random.Random) -> list[str]:
    """Each text edits ``per_step`` more (fresh) word positions of the previous one."""
    words = text.split()
    free = list(range(len(words)))
    rng.shuffle(free)
    out = [" ".join(words)]
    for k in range(links):
        for pos in free[k * per_step : (k + 1) * per_step]:
            words[pos] = f"zq{rng.randrange(10**9)}"
        out.append(" ".join(words))
    return out


@pytest.fixture(scope="module")
def scenario(spark, pages):
    rng = random.Random(11)
    rows = []
    for i in range(30):
        rows.append((f"d{i:02d}", pages[i], f"http://site{i}.example/page", f"2020-01-{i + 1:02d}"))
    # exact URL: a newer capture of d00's URL (different text) wins
    rows.append(("u1", pages[40], "HTTP://Site0.EXAMPLE:80/page?utm_source=feed#top", "2024-05-01"))
    # ties on date -> smallest id; an undated capture loses to a dated one
    rows.append(("u2a", pages[41], "http://tie.example/x", "2021-01-01"))
    rows.append(("u2b", pages[42], "http://tie.example/x", "2021-01-01"))
    rows.append(("u3a", pages[43], "http://undated.example/", None))
    rows.append(("u3b", pages[44], "http://undated.example", "2019-01-01"))
    # exact text after normalisation (case, spacing, punctuation)
    rows.append(("t1", "  " + pages[1].replace(" ", " ,  ").translate(ASCII_UPPER), None, None))
    # a near duplicate
    rows.append(("n1", edit_words(pages[2], 0.01, rng), None, None))
    # a chain of near duplicates
    chain = chain_texts(pages[45], 6, max(4, len(pages[45].split()) // 170), rng)
    for k, t in enumerate(chain):
        rows.append((f"c{k}", t, f"http://chain.example/{k}", "2022-01-01"))
    df = spark.createDataFrame(rows, "id string, text string, url string, warc_date string")
    cfg = DedupConfig(verify_jaccard=True)
    result, report = dedup_frame(spark, df, cfg)
    got = {r["id"]: (r["cluster_id"], r["keep"], r["reason"]) for r in result.collect()}
    return got, report, chain


def test_every_doc_has_one_row_and_report_reconciles(scenario):
    got, report, chain = scenario
    assert len(got) == 30 + 5 + 2 + len(chain)
    assert report["docs_in"] == len(got)
    removed = (
        report["exact_url_removed"] + report["exact_text_removed"] + report["near_dup_removed"]
    )
    assert report["kept"] + removed == len(got)
    assert report["kept"] == sum(keep for _, keep, _ in got.values())
    assert (report["bands"], report["rows"]) == (15, 7)


def test_exact_url_newest_capture_wins(scenario):
    got, report, _ = scenario
    assert got["u1"] == ("u1", True, None)
    assert got["d00"] == ("u1", False, "url_dup")
    assert got["u2a"] == ("u2a", True, None)
    assert got["u2b"] == ("u2a", False, "url_dup")
    assert got["u3b"] == ("u3b", True, None)
    assert got["u3a"] == ("u3b", False, "url_dup")
    assert report["exact_url_removed"] == 3


def test_exact_text_after_normalisation(scenario):
    got, report, _ = scenario
    assert got["d01"] == ("d01", True, None)
    assert got["t1"] == ("d01", False, "text_dup")
    assert report["exact_text_removed"] == 1


def test_near_duplicate_clustered_with_smallest_id_kept(scenario):
    got, _, _ = scenario
    assert got["d02"] == ("d02", True, None)
    assert got["n1"] == ("d02", False, "near_dup")
    # unrelated real pages stay alone
    for i in range(3, 30):
        assert got[f"d{i:02d}"] == (f"d{i:02d}", True, None)


def test_chain_is_one_component_through_transitivity(scenario):
    got, report, chain = scenario
    # premise: neighbours are near duplicates, the ends are not (verification is on, so no
    # edge can join c0 and c6 directly: only the chain links them)
    for a, b in zip(chain, chain[1:]):
        assert exact_jaccard(a, b, CFG) >= 0.85
    assert exact_jaccard(chain[0], chain[-1], CFG) < 0.75
    assert got["c0"] == ("c0", True, None)
    for k in range(1, len(chain)):
        assert got[f"c{k}"] == ("c0", False, "near_dup")
    assert report["largest_cluster"] == len(chain)
    assert report["near_dup_removed"] == 1 + len(chain) - 1
    assert report["verified_edges"] <= report["candidate_pairs"]


def _union_find(n, edges):
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(n)]


def test_connected_components_match_union_find(spark):
    rng = random.Random(5)
    n = 400
    # sparse random graph plus a long path (diameter 30) to force several rounds
    edges = {(rng.randrange(n), rng.randrange(n)) for _ in range(220)}
    edges |= {(300 + k, 301 + k) for k in range(30)}
    edges = [(a, b) for a, b in edges if a != b]
    name = lambda x: f"n{x:04d}"  # noqa: E731  (string ids order like the ints)
    df = spark.createDataFrame([(name(a), name(b)) for a, b in edges], "u string, v string")
    labels, rounds = connected_components(df, 30)
    got = {r["node"]: r["root"] for r in labels.collect()}
    roots = _union_find(n, edges)
    on_edges = {x for e in edges for x in e}
    expected = {name(x): name(roots[x]) for x in on_edges if roots[x] != x}
    assert got == expected
    assert 2 <= rounds < 30


def _write_docs(path, rows, with_minhash=None, keys=None):
    cols = {k: [r.get(k) for r in rows] for k in ("id", "url", "warc_date", "text")}
    table = pa.table(cols)
    if with_minhash is not None:
        table = table.append_column("minhash", pa.array(with_minhash, type=pa.list_(pa.uint32())))
    if keys is not None:
        table = table.append_column("minhash_key", pa.array(keys, type=pa.int64()))
    path.mkdir(parents=True)
    pq.write_table(table, path / "part-0.parquet")


def test_bucket_members_are_verified_beyond_the_minimum_and_predecessor(spark, pages):
    """One LSH bucket a < b < c < d (planted signatures sharing band 0 only) where only b and d
    are near duplicates: neither the bucket minimum a nor d's predecessor c is similar to d, so
    star + predecessor links miss the pair; the window round finds it. With a window of 1, b
    and d are 2 places apart: missed, and the report counts the bucket as over the window."""
    rng = random.Random(3)
    texts = [pages[70], pages[71], pages[72], edit_words(pages[71], 0.01, rng)]
    assert exact_jaccard(texts[1], texts[3], CFG) >= 0.85
    assert max(exact_jaccard(texts[i], texts[j], CFG) for i, j in ((0, 1), (0, 3), (2, 3))) < 0.3
    sigs = [[rng.randrange(1 << 32) for _ in range(128)] for _ in texts]
    for s in sigs:
        s[:7] = sigs[0][:7]  # band 0 of 15 x 7
    keys = signature_keys(text_hashes(texts), CFG).tolist()
    df = spark.createDataFrame(
        list(zip("abcd", texts, sigs, keys)),
        "id string, text string, minhash array<bigint>, minhash_key bigint",
    )
    result, report = dedup_frame(spark, df, CFG)
    got = {r["id"]: (r["cluster_id"], r["reason"]) for r in result.collect()}
    assert got == {"a": ("a", None), "b": ("b", None), "c": ("c", None), "d": ("b", "near_dup")}
    assert report["signatures_reused"] == 4 and report["largest_bucket"] == 4
    assert report["candidate_pairs_star"] == 3  # b, c, d with the minimum a
    assert report["candidate_pairs_window"] == 3  # (c, b), (d, b), (d, c): other components
    assert report["verified_edges"] == 1 and report["buckets_over_window"] == 0

    narrow = DedupConfig(bucket_window=1)
    result, report = dedup_frame(spark, df, narrow)
    assert all(r["keep"] for r in result.collect())
    assert report["candidate_pairs_window"] == 2 and report["buckets_over_window"] == 1


def test_dedup_against_an_earlier_run(spark, pages, tmp_path):
    rng = random.Random(2)
    prev_rows = [
        {"id": "p0", "url": "http://old.example/a", "warc_date": "2019-01-01", "text": pages[50]},
        {"id": "p1", "url": "http://old.example/b", "warc_date": "2019-01-01", "text": pages[51]},
    ]
    prev_texts = [r["text"] for r in prev_rows]
    sigs = minhash_signatures(prev_texts, CFG)
    # the earlier run has extract's minhash and minhash_key columns (reused); the new one a
    # wrong-length column without keys (another num_perm), which must be recomputed
    keys = signature_keys(text_hashes(prev_texts), CFG).tolist()
    _write_docs(tmp_path / "prev" / "docs", prev_rows, [s.tolist() for s in sigs], keys)
    new_rows = [
        {
            "id": "a",
            "url": "http://new.example/a",
            "warc_date": "2024",
            "text": edit_words(pages[50], 0.01, rng),
        },
        {
            "id": "b",
            "url": "http://old.example/b?utm_campaign=x",
            "warc_date": "2024",
            "text": pages[53],
        },
        {"id": "c", "url": "http://new.example/c", "warc_date": "2024", "text": pages[52]},
        {
            "id": "d",
            "url": "http://new.example/d",
            "warc_date": "2024",
            "text": "  " + pages[51].replace(" ", " ;  ") + " !",
        },
        {
            "id": "e",
            "url": "http://new.example/e",
            "warc_date": "2024",
            "text": edit_words(pages[52], 0.003, rng),
        },
    ]
    _write_docs(tmp_path / "new" / "docs", new_rows, [[1, 2, 3]] * len(new_rows))
    run = RunFolder(tmp_path / "new")
    # a reliable checkpoint folder, as on a cluster: used, and emptied after the stage
    ckpt = tmp_path / "scratch"
    config = Config(
        dedup=DedupConfig(previous_runs=(str(tmp_path / "prev"),), checkpoint_dir=str(ckpt))
    )
    stats = run_dedup(spark, run, config)

    got = {
        r["id"]: (r["cluster_id"], r["keep"], r["reason"])
        for r in pq.read_table(run.sub("dedup")).to_pylist()
    }
    assert got == {
        "a": ("p0", False, "near_dup"),  # earlier run wins even though "a" < "p0"
        "b": ("p1", False, "url_dup"),  # earlier run wins even though "b" is newer
        "c": ("c", True, None),
        "d": ("p1", False, "text_dup"),
        "e": ("c", False, "near_dup"),
    }
    assert stats == {
        "records_read": 5,
        "kept": 1,
        "dropped": {"near_dup": 2, "text_dup": 1, "url_dup": 1},
        "clusters": 2,
    }
    assert run.read_json("stats.json")["dedup"] == stats
    report = run.read_json("dedup_report.json")
    assert report["docs_in"] == 5 and report["docs_with_previous"] == 7
    assert report["signatures_reused"] == 2 and report["signatures_computed"] == 5
    assert report["checkpoints"] == f"reliable: {ckpt}"
    assert ckpt.is_dir() and not any(ckpt.iterdir())
    assert report["input"] == "docs"
    assert run.is_done("dedup")


def test_cli_dedup_plan_and_errors(spark, pages, tmp_path, capsys):
    from jobs.cli import main

    assert main(["dedup", "--plan", "--set", "dedup.threshold=0.7"]) == 0
    out = capsys.readouterr().out
    assert "bands x rows" in out and "J=0.95" in out

    assert main(["dedup", "--input", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err

    rows = [{"id": f"x{i}", "text": pages[60 + i]} for i in range(5)]
    rows.append({"id": "y", "text": pages[60]})  # no url column at all: text rules only
    table = pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})
    pq.write_table(table, tmp_path / "docs.parquet")
    rc = main(["dedup", "--input", str(tmp_path / "docs.parquet"), "--out", str(tmp_path / "o")])
    assert rc == 0
    got = {r["id"]: r for r in pq.read_table(tmp_path / "o" / "dedup").to_pylist()}
    assert got["y"]["reason"] == "text_dup" and got["y"]["cluster_id"] == "x0"
    assert sum(r["keep"] for r in got.values()) == 5
    report = json.loads((tmp_path / "o" / "dedup_report.json").read_text())
    assert report["exact_text_removed"] == 1 and report["docs_in"] == 6


def test_plan_states_the_banding_and_its_s_curve(capsys):
    from jobs.cli import main

    assert main(["dedup", "--plan"]) == 0
    out = capsys.readouterr().out
    assert "bands x rows = 15 x 7" in out and "recall_at_threshold" in out
    assert "J=0.80  P=0.9707" in out and "J=0.50  P=0.1110" in out
    assert "within 50 places" in out
    assert main(["dedup", "--plan", "--set", "dedup.fn_weight=0.9"]) == 0
    out = capsys.readouterr().out
    assert "bands x rows = 14 x 9" in out and "J=0.80  P=0.867" in out
