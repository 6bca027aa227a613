"""Reliability table: every real WARC of tests/data/warc plus generated hostile inputs through
``mathmine extract``; prints, per input: records in, kept, dropped by reason, lost, time.

    python -m benchmarks.reliability [--quick] [--out DIR] [--keep]

"records in" is counted by an independent reader (warcio for the real files; by construction
for the generated ones), "lost" = records in - kept - dropped, which must be 0 everywhere.
The hostile inputs are built here (``build_hostile_warcs``) and by tests/test_reliability.py:
100,000-deep nesting, a 50 MB page, binary bytes served as text/html, a page that declares one
charset and is another, pathological input for the math regexes, and decompression bombs
(HTTP bodies in gzip / deflate / br, and a WARC gzip member, that inflate past 1 GiB from
about 1 MB or less on disk).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WARC_DIR = REPO / "tests" / "data" / "warc"
MiB = 1 << 20
BOMB_MIB = 1100  # inflates past 1 GiB

# ------------------------------------------------------------------------------------------
# Decompression bombs. A 1 MiB block of zeros compressed right after a full flush always gives
# the same bytes, so a valid stream of N MiB is: first block, the repeated block N-2 times,
# the last block, and the true checksum trailer (computed without ever holding N MiB).


def _zero_blocks(wbits: int, n_mib: int, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    zeros = bytes(MiB)
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH) if prefix else b""
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    mid = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.compress(suffix) + c.flush(zlib.Z_FINISH)
    trailer_len = 8 if wbits > 15 else 4 if wbits > 0 else 0
    body = head + first + mid * (n_mib - 1) + last[: len(last) - trailer_len]
    if wbits > 15:  # gzip: CRC32 and size mod 2^32, little-endian
        crc = zlib.crc32(prefix)
        for _ in range(n_mib):
            crc = zlib.crc32(zeros, crc)
        crc = zlib.crc32(suffix, crc)
        size = (len(prefix) + n_mib * MiB + len(suffix)) & 0xFFFFFFFF
        return body + struct.pack("<II", crc, size)
    if wbits > 0:  # zlib: Adler-32, big-endian
        adler = zlib.adler32(prefix)
        for _ in range(n_mib):
            adler = zlib.adler32(zeros, adler)
        return body + struct.pack(">I", zlib.adler32(suffix, adler))
    return body


def gzip_bomb(n_mib: int = BOMB_MIB) -> bytes:
    """A valid single-member gzip stream of n_mib MiB of zeros (~1 KB per MiB)."""
    return _zero_blocks(31, n_mib)


def deflate_bomb(n_mib: int = BOMB_MIB) -> bytes:
    """A valid zlib ('Content-Encoding: deflate') stream of n_mib MiB of zeros."""
    return _zero_blocks(15, n_mib)


def brotli_bomb(n_mib: int = BOMB_MIB) -> bytes:
    """A valid brotli stream of n_mib MiB of zeros (~13 bytes per MiB)."""
    import brotli

    zeros = bytes(MiB)
    c = brotli.Compressor(quality=5)
    first = c.process(zeros) + c.flush()
    mid = c.process(zeros) + c.flush()
    return first + mid * (n_mib - 1) + c.finish()


# ------------------------------------------------------------------------------------------
# WARC records


def _warc_headers(rtype: str, url: str, length: int, content_type: str, extra=()) -> bytes:
    lines = [
        "WARC/1.0",
        f"WARC-Type: {rtype}",
        f"WARC-Target-URI: {url}",
        "WARC-Date: 2024-05-20T03:00:00Z",
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, rtype + url)}>",
        f"Content-Type: {content_type}",
        *extra,
        f"Content-Length: {length}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def http_response_block(body: bytes, content_type: str = "text/html", headers=()) -> bytes:
    head = ["HTTP/1.1 200 OK", f"Content-Type: {content_type}", *headers]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def response_record(url: str, block: bytes) -> bytes:
    """One response record, gzipped as its own member."""
    raw = (
        _warc_headers("response", url, len(block), "application/http; msgtype=response")
        + block
        + b"\r\n\r\n"
    )
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = bytearray()
    for i in range(0, len(raw), 4 * MiB):  # large pages: compress in slices, one member
        out += c.compress(raw[i : i + 4 * MiB])
    return bytes(out + c.flush())


def warcinfo_record(name: str) -> bytes:
    payload = b"software: mathmine benchmarks/reliability.py\r\nformat: WARC File Format 1.0\r\n"
    raw = _warc_headers("warcinfo", name, len(payload), "application/warc-fields")
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(raw + payload + b"\r\n\r\n") + c.flush()


def member_bomb_record(url: str, n_mib: int = BOMB_MIB, honest_length: bool = True) -> bytes:
    """A response record whose gzip member inflates to n_mib MiB.

    honest_length=True: the WARC Content-Length says so (the reader must skip it unread).
    False: it claims a small page and the member goes on with n_mib MiB of zeros after it.
    """
    http = http_response_block(b"<html><body>small</body></html>")
    if honest_length:
        head = (
            _warc_headers(
                "response", url, len(http) + n_mib * MiB, "application/http; msgtype=response"
            )
            + http
        )
        return _zero_blocks(31, n_mib, prefix=head, suffix=b"\r\n\r\n")
    head = _warc_headers("response", url, len(http), "application/http; msgtype=response")
    return _zero_blocks(31, n_mib, prefix=head + http + b"\r\n\r\n")


def html_page(paragraphs: int, text: str = "") -> bytes:
    para = text or (
        "Reliability filler paragraph: the quick brown fox jumps over the lazy dog, and every "
        "crawler must survive what strangers publish. "
    )
    body = "".join(f"<p>{para} #{i}</p>\n" for i in range(paragraphs))
    return (
        f"<!doctype html><html><head><title>page</title></head><body>{body}</body></html>".encode()
    )


def _math_page() -> str:
    return (
        "<p>Let $f(x) = x^2 + 1$ and consider \\(\\int_0^1 f(x)\\,dx = \\frac{4}{3}\\). "
        "For every $\\epsilon > 0$ there is $\\delta$ with $|x - y| < \\delta$.</p>"
    )


def hostile_pages() -> dict[str, list[tuple[str, bytes]]]:
    """name -> [(url, HTTP response block)], the hostile HTML cases (no bombs)."""
    deep = 100_000
    nested = (
        b"<!doctype html><html><body>"
        + b"<div>" * deep
        + b"deep text " * 50
        + b"</div>" * deep
        + b"</body></html>"
    )
    fifty_mb = html_page(50 * MiB // 140)  # ~145 bytes per paragraph -> just over 50 MiB
    rnd = __import__("random").Random(7)
    binary = bytes(rnd.getrandbits(8) for _ in range(300_000))
    greek = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Θεώρημα</title></head><body>"
        + "<p>Κάθε φυσικός αριθμός μεγαλύτερος του ένα γράφεται ως γινόμενο πρώτων. "
        "Η απόδειξη χρησιμοποιεί επαγωγή στο n.</p>" * 40 + "</body></html>"
    )
    cyrillic_cp1251 = (
        "<!doctype html><html><head><title>Теорема</title></head><body>"
        + "<p>Всякое натуральное число, большее единицы, раскладывается в произведение простых "
        "чисел, и это разложение единственно с точностью до порядка множителей.</p>"
        * 40
        + "</body></html>"
    ).encode("cp1251")
    regex_bait = [
        "$" * 200_000,
        "$a" * 100_000,
        "\\(" * 100_000,
        "\\[" + "{" * 100_000,
        "$$" + "x^" * 100_000,
        ("\\begin{align}" + "&" * 10) * 5_000,
        "a" * 300_000 + "$",
    ]
    regex_html = (
        "<!doctype html><html><body>"
        + _math_page()
        + "".join(f"<p>{s}</p>" for s in regex_bait)
        + "</body></html>"
    ).encode()
    mathjax_bait = (
        "<!doctype html><html><head><script type='text/x-mathjax-config'></script></head><body>"
        + "<script type='math/tex'>" * 20_000
        + "x" * 1000
        + "</body></html>"
    ).encode()
    return {
        "nesting_100k": [("https://hostile.example/deep", http_response_block(nested))],
        "page_50mb": [("https://hostile.example/big", http_response_block(fifty_mb))],
        "binary_as_html": [("https://hostile.example/bin", http_response_block(binary))],
        "wrong_charset": [
            # UTF-8 bytes declared Latin-1, and cp1251 bytes declared UTF-8
            (
                "https://hostile.example/greek",
                http_response_block(greek.encode(), "text/html; charset=iso-8859-1"),
            ),
            (
                "https://hostile.example/cyrillic",
                http_response_block(cyrillic_cp1251, "text/html; charset=utf-8"),
            ),
        ],
        "regex_bait": [
            ("https://hostile.example/regex", http_response_block(regex_html)),
            ("https://hostile.example/mathjax", http_response_block(mathjax_bait)),
        ],
    }


def bomb_pages(n_mib: int = BOMB_MIB) -> dict[str, list[tuple[str, bytes]]]:
    return {
        "bomb_gzip_body": [
            (
                "https://bomb.example/gzip",
                http_response_block(gzip_bomb(n_mib), headers=["Content-Encoding: gzip"]),
            )
        ],
        "bomb_deflate_body": [
            (
                "https://bomb.example/deflate",
                http_response_block(deflate_bomb(n_mib), headers=["Content-Encoding: deflate"]),
            )
        ],
        "bomb_br_body": [
            (
                "https://bomb.example/br",
                http_response_block(brotli_bomb(n_mib), headers=["Content-Encoding: br"]),
            )
        ],
    }


def write_warc(path: Path, pages: list[tuple[str, bytes]], raw_members: list[bytes] = ()) -> int:
    """Write warcinfo + one response per page (+ raw members); returns the record count."""
    with open(path, "wb") as fh:
        fh.write(warcinfo_record(path.name))
        for url, block in pages:
            fh.write(response_record(url, block))
        for m in raw_members:
            fh.write(m)
    return 1 + len(pages) + len(raw_members)


def build_hostile_warcs(folder: Path, n_mib: int = BOMB_MIB, with_page_after: bool = True):
    """Write every hostile case as its own WARC; returns {name: (path, records written)}.

    Each file ends with an ordinary page, so "the task goes on" is visible: that page must be
    kept (or dropped for an ordinary reason) after the hostile record.
    """
    folder.mkdir(parents=True, exist_ok=True)
    after = [("https://ok.example/after", http_response_block(html_page(40, _math_page())))]
    out = {}
    cases = {**hostile_pages(), **bomb_pages(n_mib)}
    for name, pages in cases.items():
        path = folder / f"{name}.warc.gz"
        out[name] = (path, write_warc(path, pages + (after if with_page_after else [])))
    path = folder / "bomb_warc_member.warc.gz"
    members = [
        member_bomb_record("https://bomb.example/member", n_mib, honest_length=True),
        response_record(*after[0]),
    ]
    out["bomb_warc_member"] = (path, write_warc(path, [], members))
    path = folder / "bomb_warc_member_lying_length.warc.gz"
    members = [
        member_bomb_record("https://bomb.example/liar", n_mib, honest_length=False),
        response_record(*after[0]),
    ]
    # records in: warcinfo + the lying record + the page after; the zeros are a broken region
    out["bomb_warc_member_lying_length"] = (path, write_warc(path, [], members))
    return out


def broken_files(folder: Path) -> dict[str, tuple[Path, int]]:
    """Not-a-WARC, empty, truncated and garbage-in-the-middle files (records in, by warcio)."""
    folder.mkdir(parents=True, exist_ok=True)
    src = (WARC_DIR / "resiliparse_warcfile.warc.gz").read_bytes()
    offs = record_offsets(io.BytesIO(src))
    out = {}
    p = folder / "empty.warc.gz"
    p.write_bytes(b"")
    out["empty_file"] = (p, 0)
    p = folder / "not_a_warc.warc.gz"
    p.write_bytes(b"<html><body>this is an HTML file, not a WARC</body></html>\n" * 100)
    out["not_a_warc"] = (p, 0)
    p = folder / "truncated.warc.gz"
    cut = (offs[30] + offs[31]) // 2
    p.write_bytes(src[:cut])
    out["truncated_gzip_member"] = (p, 31)  # 30 whole records + the cut one
    p = folder / "garbage_between_members.warc.gz"
    p.write_bytes(src[: offs[10]] + b"\x00garbage\xff" * 1000 + src[offs[10] :])
    out["garbage_between_members"] = (p, len(offs))
    return out


def record_offsets(stream) -> list[int]:
    from warcio.archiveiterator import ArchiveIterator

    it = ArchiveIterator(stream, no_record_parse=True)
    offs = []
    for rec in it:
        rec.raw_stream.read()
        offs.append(it.get_record_offset())
    return offs


def count_records(path: Path) -> int:
    """Records an independent reader (warcio) frames in a real WARC file."""
    with open(path, "rb") as fh:
        return len(record_offsets(fh))


# ------------------------------------------------------------------------------------------
# The table


def lost_of(stats: dict, records_in: int) -> int:
    """Records the stage neither kept nor dropped. Broken regions (bad_record without a record
    behind them) can only add drops, so lost is clamped at the records the reader never saw."""
    accounted = stats["kept"] + sum(stats["dropped"].values())
    return max(records_in - accounted, 0)


def run_table(
    inputs: dict[str, tuple[Path, int]], out: Path, extra_set=(), timeout: float = 600.0
) -> list[dict]:
    """One ``mathmine extract`` over all inputs; per-input rows from the task markers.

    A task that hangs (no per-page timeout would stop it) shows as "did not finish" with all
    its records lost, after ``timeout`` seconds, instead of hanging the table.
    """
    from jobs.run_folder import RunFolder

    if out.exists():
        shutil.rmtree(out)
    paths = [str(p) for p, _ in inputs.values()]
    cmd = [sys.executable, "-m", "jobs.cli", "extract", "--input", *paths, "--out", str(out)]
    for s in (*DEFAULT_SETTINGS, *extra_set):
        cmd += ["--set", s]
    t0 = time.perf_counter()
    # own session: on timeout the whole process group (JVM, Python workers) is ended
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0 and not timed_out:
        raise SystemExit(f"mathmine extract failed ({proc.returncode}):\n{stderr[-3000:]}")
    rows = collect_rows(RunFolder(out), inputs)
    note = f"TIMED OUT after {timeout:.0f} s, killed" if timed_out else "exit 0"
    rows.append({"input": f"(whole extract command, wall; {note})", "seconds": round(wall, 1)})
    return rows


# the configuration a user runs, on the 2 local cores the test machine has
DEFAULT_SETTINGS = ("spark.master=local[2]",)


def collect_rows(run, inputs: dict[str, tuple[Path, int]]) -> list[dict]:
    """Per input: the extract task's counters (its completion marker) against records in."""
    from jobs.extract_job import STAGE, task_key

    rows = []
    for name, (path, records_in) in inputs.items():
        if not run.is_done(STAGE, task_key(str(path))):
            rows.append(
                {
                    "input": name,
                    "bytes": path.stat().st_size,
                    "records_in": records_in,
                    "read": 0,
                    "kept": 0,
                    "dropped": {"(task did not finish)": 0},
                    "lost": records_in,
                    "seconds": float("nan"),
                    "peak_rss_mb": None,
                    "error": "did not finish",
                }
            )
            continue
        res = run.read_marker(STAGE, task_key(str(path)))
        st = res["stats"]
        rows.append(
            {
                "input": name,
                "bytes": path.stat().st_size,
                "records_in": records_in,
                "read": st["records_read"],
                "kept": st["kept"],
                "dropped": st["dropped"],
                "lost": lost_of(st, records_in),
                "seconds": round(st.get("seconds", 0.0), 2),
                "peak_rss_mb": res.get("peak_rss_mb"),
                "error": res.get("error"),
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    head = f"{'input':46s} {'on disk':>9s} {'in':>5s} {'kept':>5s} {'lost':>4s} {'time s':>7s} {'rss MB':>7s}  dropped by reason"
    lines = [head, "-" * len(head)]
    for r in rows:
        if "records_in" not in r:
            lines.append(
                f"{r['input']:46s} {'':>9s} {'':>5s} {'':>5s} {'':>4s} {r['seconds']:7.1f}"
            )
            continue
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(r["dropped"].items()))
        lines.append(
            f"{r['input'][:46]:46s} {_size(r['bytes']):>9s} {r['records_in']:5d} {r['kept']:5d} "
            f"{r['lost']:4d} {r['seconds']:7.2f} {r['peak_rss_mb'] or 0:7.0f}  {dropped}"
        )
    return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MB" if n >= MiB else f"{n / 1024:.0f} KB"


def all_inputs(work: Path, n_mib: int = BOMB_MIB) -> dict[str, tuple[Path, int]]:
    inputs = {p.name: (p, count_records(p)) for p in sorted(WARC_DIR.glob("*.warc*.gz"))}
    inputs.update(build_hostile_warcs(work / "hostile", n_mib))
    inputs.update(broken_files(work / "broken"))
    return inputs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="work folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--bomb-mib", type=int, default=BOMB_MIB, help="inflated size of the bombs")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON too")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds for the extract run")
    a = ap.parse_args(argv)
    work = a.out or Path(tempfile.mkdtemp(prefix="mathmine-reliability-"))
    try:
        t0 = time.perf_counter()
        inputs = all_inputs(work, a.bomb_mib)
        print(f"built {len(inputs)} inputs in {time.perf_counter() - t0:.1f} s under {work}")
        rows = run_table(inputs, work / "run", timeout=a.timeout)
        print(format_table(rows))
        lost = sum(r.get("lost", 0) for r in rows)
        print(f"\nlost records in total: {lost}")
        if a.json:
            print(json.dumps(rows, indent=1))
        return 1 if lost else 0
    finally:
        if not a.keep and not a.out:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    raise SystemExit(main())
