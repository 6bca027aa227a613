"""Input expansion: files, folders, globs, listings; errors that name the path; local reads."""

import gzip

import pytest

from infra.storage import open_uri
from jobs.inputs import expand_inputs
from pipeline.config import IOConfig
from pipeline.errors import UserError


def test_files_folders_globs_and_dedup(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/1.warc.gz", "a/2.warc", "a/notes.txt", "3.warc.gz"):
        (tmp_path / name).write_bytes(b"x")
    got = expand_inputs(
        [str(tmp_path / "a"), str(tmp_path / "*.warc.gz"), str(tmp_path / "3.warc.gz")]
    )
    assert [p.rsplit("/", 2)[-2:] for p in got] == [
        ["a", "1.warc.gz"],
        ["a", "2.warc"],
        [tmp_path.name, "3.warc.gz"],
    ]


def test_common_crawl_listing_becomes_https_urls(tmp_path):
    listing = tmp_path / "warc.paths.gz"
    lines = [
        f"crawl-data/CC-MAIN-2024-22/segments/1/warc/CC-MAIN-{i:05d}.warc.gz" for i in range(5)
    ]
    listing.write_bytes(gzip.compress("\n".join(lines).encode()))
    got = expand_inputs([str(listing)], IOConfig(), limit=3)
    assert got == ["https://data.commoncrawl.org/" + ln for ln in lines[:3]]
    sampled = expand_inputs([str(listing)], IOConfig(), sample_fraction=0.5, seed=3)
    assert set(sampled) <= {"https://data.commoncrawl.org/" + ln for ln in lines}
    assert sampled == expand_inputs([str(listing)], IOConfig(), sample_fraction=0.5, seed=3)


def test_errors_name_the_input(tmp_path):
    with pytest.raises(UserError, match="nope.warc"):
        expand_inputs([str(tmp_path / "nope.warc")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no .warc"):
        expand_inputs([str(tmp_path / "empty")])
    with pytest.raises(UserError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.warc.gz")])
    (tmp_path / "one.warc.gz").write_bytes(b"x")
    with pytest.raises(UserError, match="sample-fraction"):
        expand_inputs([str(tmp_path / "one.warc.gz")], sample_fraction=2.0)


def test_open_local_path_and_file_uri(tmp_path):
    p = tmp_path / "f.warc"
    p.write_bytes(b"WARC/1.0\r\n")
    for uri in (str(p), f"file://{p}"):
        with open_uri(uri, IOConfig()) as f:
            assert f.read() == b"WARC/1.0\r\n"


def test_local_listing_keeps_local_paths_and_skips_comments(tmp_path):
    warc = tmp_path / "a.warc.gz"
    warc.write_bytes(b"x")
    listing = tmp_path / "mine.paths"
    listing.write_text(f"# my crawl\n{warc}\ncrawl-data/x.warc.gz\n\n")
    assert expand_inputs([str(listing)]) == [
        str(warc),
        "https://data.commoncrawl.org/crawl-data/x.warc.gz",
    ]
