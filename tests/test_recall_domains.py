"""Domain and URL-path statistics, reviewed path files, token-budget thresholds (no Spark)."""

from __future__ import annotations

import pytest

from classifiers import domains as D
from classifiers.recall_loop import new_fraction, threshold_for_budget
from pipeline.errors import UserError
from pipeline.urls import registered_domain

# (url, selected): a math Q&A site, a university with one math sub-site, a shop, a blog
ROWS = [
    ("https://mathoverflow.net/questions/1/primes", True),
    ("https://mathoverflow.net/questions/2/groups", True),
    ("https://mathoverflow.net/questions/3/rings", True),
    ("https://mathoverflow.net/questions/4/fields", False),
    ("https://mathoverflow.net/users/7/alice", False),
    ("https://mathoverflow.net/users/8/bob", False),
    ("https://www.math.example.ac.uk/notes/algebra/ch1.html", True),
    ("https://www.math.example.ac.uk/notes/algebra/ch2.html", True),
    ("https://www.math.example.ac.uk/notes/algebra/ch3.html", False),
    ("https://news.example.ac.uk/2024/sports.html", False),
    ("https://news.example.ac.uk/2024/weather.html", False),
    ("https://news.example.ac.uk/2024/budget.html", False),
    ("https://news.example.ac.uk/2024/parking.html", False),
    ("https://news.example.ac.uk/2024/library.html", False),
    ("https://news.example.ac.uk/2024/food.html", False),
    ("https://news.example.ac.uk/2024/music.html", False),
    ("https://news.example.ac.uk/2024/art.html", False),
    ("https://news.example.ac.uk/2024/film.html", False),
    ("https://news.example.ac.uk/2024/drama.html", False),
    ("https://news.example.ac.uk/2024/choir.html", False),
    ("https://shop.example.com/p/1", False),
    ("https://shop.example.com/p/2", False),
    ("https://shop.example.com/p/3", True),  # one false positive in a shop of 30 pages
] + [(f"https://shop.example.com/p/{i}", False) for i in range(4, 31)]


def test_path_prefixes_keep_host_and_directories_only():
    assert D.path_prefixes("https://www.x.org/a/b/c.html") == [
        "www.x.org/",
        "www.x.org/a",
        "www.x.org/a/b",
    ]
    assert D.path_prefixes("https://www.x.org/a/b/c/d/", 2) == [
        "www.x.org/",
        "www.x.org/a",
        "www.x.org/a/b",
    ]
    assert D.path_prefixes("https://x.org") == ["x.org/"]
    assert D.path_prefixes("not a url") == []


def test_domain_share_picks_math_domains_not_the_shop():
    rows = [(registered_domain(u), s) for u, s in ROWS]
    stats = D.domain_stats(rows)
    assert stats["mathoverflow.net"] == {"pages": 6, "selected": 3, "share": 0.5}
    assert stats["example.ac.uk"]["pages"] == 14 and stats["example.ac.uk"]["selected"] == 2
    assert stats["example.com"]["share"] == pytest.approx(1 / 30)
    found = [d["domain"] for d in D.math_domains(stats, 0.1)]
    # example.ac.uk: 2 of 14 = 14% > 10%; the shop's single false positive (3%) is not enough
    assert found == ["mathoverflow.net", "example.ac.uk"]


def test_path_stats_accept_math_paths_and_reject_the_rest():
    doms = ["mathoverflow.net", "example.ac.uk"]
    rows = [(u, registered_domain(u), s) for u, s in ROWS]
    paths = {p["path_prefix"]: p for p in D.path_stats(rows, doms, D.PathRule(0.5, 3, 2))}
    q = paths["mathoverflow.net/questions"]
    assert (q["pages"], q["selected"], q["accepted"]) == (4, 3, True)
    assert paths["mathoverflow.net/users"]["accepted"] is False  # 0 of 2
    assert paths["mathoverflow.net/"]["accepted"] is True  # 3 of 6 = 0.5
    notes = paths["www.math.example.ac.uk/notes/algebra"]
    assert (notes["pages"], notes["selected"], notes["accepted"]) == (3, 2, True)
    assert paths["news.example.ac.uk/2024"]["accepted"] is False
    assert not any(p.startswith("shop.") for p in paths)  # not a math domain
    # min_pages: a prefix with too few pages is not accepted however high its share
    strict = {p["path_prefix"]: p for p in D.path_stats(rows, doms, D.PathRule(0.5, 5, 2))}
    assert strict["mathoverflow.net/questions"]["accepted"] is False


def test_unselected_pages_under_accepted_paths_are_found():
    accepted = ["mathoverflow.net/questions", "www.math.example.ac.uk/notes/algebra"]
    new = [u for u, s in ROWS if not s and D.is_under(u, accepted)]
    assert new == [
        "https://mathoverflow.net/questions/4/fields",
        "https://www.math.example.ac.uk/notes/algebra/ch3.html",
    ]
    assert not D.is_under("https://mathoverflow.net/questionsX/1", ["mathoverflow.net/questions"])
    assert D.is_under("https://x.org/anything", ["x.org/"])
    assert D.minimal_prefixes(["x.org/", "x.org/a", "y.org/a", "y.org/a/b"]) == [
        "x.org/",
        "y.org/a",
    ]


def test_paths_tsv_round_trip_and_reviewed_file(tmp_path):
    doms = ["mathoverflow.net"]
    rows = D.path_stats([(u, registered_domain(u), s) for u, s in ROWS], doms, D.PathRule())
    f = tmp_path / "url_paths.tsv"
    D.write_paths_tsv(f, rows)
    back = D.read_paths_tsv(f)
    assert back == rows
    header = f.read_text().splitlines()[0].split("\t")
    assert header == ["domain", "path_prefix", "pages", "selected", "selected_share", "accepted"]
    # a reviewer flips the users/ prefix to yes and the questions/ prefix to no
    lines = f.read_text().splitlines()
    edited = [lines[0]]
    for line in lines[1:]:
        cols = line.split("\t")
        if cols[1] == "mathoverflow.net/users":
            cols[5] = "yes"
        elif cols[1] != "mathoverflow.net/users":
            cols[5] = "no"
        edited.append("\t".join(cols))
    f.write_text("\n".join(edited) + "\n")
    assert D.read_accept_file(f) == {"mathoverflow.net/users"}
    plain = tmp_path / "accept.txt"
    plain.write_text("# reviewed\nhttps://mathoverflow.net/questions\nplanetmath.org/  # all\n")
    assert D.read_accept_file(plain) == {"mathoverflow.net/questions", "planetmath.org/"}
    applied = D.apply_reviewed(rows, {"mathoverflow.net/users"})
    assert [r["path_prefix"] for r in applied if r["accepted"]] == ["mathoverflow.net/users"]
    with pytest.raises(UserError):
        D.read_accept_file(tmp_path / "missing.tsv")


def test_threshold_for_token_budget():
    hist = [(0.9, 2, 100), (0.8, 1, 50), (0.6, 3, 300), (0.1, 10, 1000)]
    assert threshold_for_budget(hist, 150) == 0.8
    assert threshold_for_budget(hist, 449) == 0.8
    assert threshold_for_budget(hist, 450) == 0.6
    assert threshold_for_budget(hist, 10**9) == 0.1
    assert threshold_for_budget(hist, 1) == 0.9  # the top bucket is always taken
    assert new_fraction(100, 2) == 0.02 and new_fraction(0, 0) == 0.0
