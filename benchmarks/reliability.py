"""Reliability table: every real WARC of tests/data/warc plus generated hostile inputs through
``mathmine extract``; prints, per input: records in, kept, dropped by reason, lost, time.

    python -m benchmarks.reliability [--quick] [--out DIR] [--keep] [--families-only]

"records in" is counted by an independent reader (warcio for the real files; by construction
for the generated ones), "lost" = records in - kept - dropped, which must be 0 everywhere.
The hostile inputs are built here (``build_hostile_warcs``) and by tests/test_reliability.py:
100,000-deep nesting, a 50 MB page, binary bytes served as text/html, a page that declares one
charset and is another, pathological input for the math regexes, and decompression bombs
(HTTP bodies in gzip / deflate / br, and a WARC gzip member, that inflate past 1 GiB from
about 1 MB or less on disk). Then the adversarial families of benchmarks/adversarial.py (one
per construction that makes a scan of page or text super-linear) at the largest page the
extractor accepts: seconds and outcome per family (``--families-only`` prints just that).
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
from collections.abc import Iterator
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
    from jobs.input_checks import warc_problem
    from jobs.run_folder import RunFolder

    if out.exists():
        shutil.rmtree(out)
    # a local file that is not a WARC at all is refused by the command before Spark starts
    # (exit 2); the same file behind a URI reaches its task and is counted (test_reliability)
    refused = {n: warc_problem(str(p)) for n, (p, _) in inputs.items()}
    refused = {n: (inputs[n][0], why) for n, why in refused.items() if why}
    inputs = {n: v for n, v in inputs.items() if n not in refused}
    paths = [str(p) for p, _ in inputs.values()]
    cmd = [sys.executable, "-m", "jobs.cli", "extract", "--input", *paths, "--out", str(out)]
    for s in (*DEFAULT_SETTINGS, *extra_set):
        cmd += ["--set", s]
    t0 = time.perf_counter()
    # own session: on timeout the whole process group (JVM, Python workers) is ended
    proc = _launch(cmd)
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
    rows += [
        {"input": n, "bytes": p.stat().st_size, "records_in": 0, "read": 0, "kept": 0,
         "dropped": {}, "lost": 0, "seconds": 0.0, "peak_rss_mb": None,
         "note": f"refused up front: {why}"}
        for n, (p, why) in refused.items()
    ]  # fmt: skip
    note = f"TIMED OUT after {timeout:.0f} s, killed" if timed_out else "exit 0"
    rows.append({"input": f"(whole extract command, wall; {note})", "seconds": round(wall, 1)})
    return rows


_EXTRACT_ONE = r"""
import json, resource, sys, time
from pipeline.config import load_config
from pipeline.extract import extract_warc
from pipeline.records import StageStats
cfg = load_config(None, json.loads(sys.argv[2]))
stats = StageStats("extract")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
with open(sys.argv[1], "rb") as fh:
    docs = sum(1 for _ in extract_warc(fh, sys.argv[1], cfg, stats))
print(json.dumps({"stats": stats.to_dict(), "docs": docs, "seconds": time.perf_counter() - t0,
                  "rss_base_mb": base / 1024,
                  "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def extract_one_isolated(path: Path, settings=(), timeout: float = 120.0) -> dict:
    """extract_warc (no Spark) over one file in a fresh interpreter: stats, time, peak RSS.

    A fresh process makes ru_maxrss this input's own peak; the timeout turns a hang into a
    result ({"timeout": True}) instead of a stuck test.
    """
    cmd = [sys.executable, "-c", _EXTRACT_ONE, str(path), json.dumps(list(settings))]
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout": True, "seconds": timeout}
    if proc.returncode != 0:
        return {"crash": proc.stderr[-2000:], "returncode": proc.returncode}
    return json.loads(proc.stdout.strip().splitlines()[-1])


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


# ------------------------------------------------------------------------------------------
# Faults: the driver killed mid-run (then the same command again), a Python worker killed
# mid-task (Spark retries it). Either way docs/ must end with exactly the rows of an
# undisturbed run.


def _extract_cmd(paths: list[str], out: Path, settings) -> list[str]:
    cmd = [sys.executable, "-m", "jobs.cli", "extract", "--input", *paths, "--out", str(out)]
    for s in settings:
        cmd += ["--set", s]
    return cmd


def _launch(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait(proc: subprocess.Popen, timeout: float) -> str:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        return f"timed out after {timeout:.0f} s"
    return "" if proc.returncode == 0 else f"exit {proc.returncode}: {err[-500:]}"


def docs_ids(out: Path) -> list[str]:
    """Every id in a run folder's docs/ (sorted, duplicates kept so they can be counted)."""
    import pyarrow.parquet as pq

    ids: list[str] = []
    for f in sorted((out / "docs").glob("*.parquet")):
        ids += pq.read_table(f, columns=["id"]).column("id").to_pylist()
    return sorted(ids)


def _done_count(out: Path, paths: list[str]) -> int:
    from jobs.extract_job import STAGE, task_key
    from jobs.run_folder import RunFolder

    run = RunFolder(out)
    return sum(run.is_done(STAGE, task_key(p)) for p in paths)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _busy_python_worker(root: int, min_cpu_s: float, seen: dict[int, float]) -> int | None:
    """A forked pyspark worker (child of the pyspark daemon) that is running a task now.

    Busy means it has used >= ``min_cpu_s`` of CPU and its CPU time grew since the last
    poll (``seen`` carries the previous readings), so an idle reused worker is not picked.
    A worker's task is short on a fast machine (~1 s of CPU each here), hence the low bar.
    """
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _descendants(root):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            parent_cmd = Path(f"/proc/{stat[1]}/cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if b"pyspark.daemon" in cmd and b"pyspark.daemon" in parent_cmd:
            cpu = (int(stat[11]) + int(stat[12])) / tick
            before, seen[pid] = seen.get(pid), cpu
            if cpu >= min_cpu_s and before is not None and cpu > before:
                return pid
    return None


def fault_driver_killed(paths: list[str], out: Path, settings, timeout: float) -> dict:
    """Kill the whole extract command once some (not all) WARCs are done; run it again."""
    if out.exists():
        shutil.rmtree(out)
    cmd = _extract_cmd(paths, out, settings)
    t0 = time.perf_counter()
    proc = _launch(cmd)
    done_at_kill = -1
    while proc.poll() is None and time.perf_counter() - t0 < timeout:
        n = _done_count(out, paths)
        if 0 < n < len(paths):
            os.killpg(proc.pid, signal.SIGKILL)
            done_at_kill = n
            break
        time.sleep(0.05)
    proc.communicate()
    problem = _wait(_launch(cmd), timeout)
    return {"seconds": time.perf_counter() - t0, "done_at_kill": done_at_kill, "problem": problem}


def fault_worker_killed(paths: list[str], out: Path, settings, timeout: float) -> dict:
    """Kill one busy Python worker mid-task; local[2,4] lets Spark retry the task."""
    if out.exists():
        shutil.rmtree(out)
    settings = [s for s in settings if not s.startswith("spark.master=")]
    cmd = _extract_cmd(paths, out, [*settings, "spark.master=local[2,4]"])
    t0 = time.perf_counter()
    proc = _launch(cmd)
    killed = None
    seen: dict[int, float] = {}
    while proc.poll() is None and time.perf_counter() - t0 < timeout:
        if killed is None:
            pid = _busy_python_worker(proc.pid, 0.2, seen)
            if pid and _done_count(out, paths) < len(paths):
                os.kill(pid, signal.SIGKILL)
                killed = pid
        time.sleep(0.02)
    problem = _wait(proc, max(timeout - (time.perf_counter() - t0), 1))
    return {"seconds": time.perf_counter() - t0, "killed_worker": killed, "problem": problem}


def fault_rows(
    work: Path, inputs: dict[str, tuple[Path, int]], reference: Path, timeout: float = 600.0
) -> list[dict]:
    """Rows for the fault runs, each compared with the undisturbed run in ``reference``."""
    from jobs.run_folder import RunFolder

    paths = [str(p) for p, _ in inputs.values()]
    ref_ids = docs_ids(reference)
    records_in = sum(n for _, n in inputs.values())
    rows = []
    for name, fn in (
        ("fault: driver killed mid-run, re-run", fault_driver_killed),
        ("fault: Python worker killed mid-task", fault_worker_killed),
    ):
        out = work / name.split(":")[1].strip().split()[0]
        res = fn(paths, out, DEFAULT_SETTINGS, timeout)
        ids = docs_ids(out)
        stats = RunFolder(out).read_json("stats.json", {}).get("extract", {})
        kept = stats.get("kept", 0)
        dropped = stats.get("dropped", {})
        same = ids == ref_ids
        what = (
            f"killed after {res['done_at_kill']} of {len(paths)} WARCs were done"
            if "done_at_kill" in res
            else f"killed worker pid {res['killed_worker']}"
        )
        rows.append(
            {
                "input": name,
                "bytes": sum(Path(p).stat().st_size for p in paths),
                "records_in": records_in,
                "read": stats.get("records_read", 0),
                "kept": kept,
                "dropped": dropped,
                "lost": lost_of({"kept": kept, "dropped": dropped}, records_in),
                "seconds": round(res["seconds"], 1),
                "peak_rss_mb": stats.get("peak_rss_mb_max"),
                "note": (
                    f"{what}; docs/ ids {'==' if same else '!='} undisturbed run's "
                    f"({len(ids)} rows vs {len(ref_ids)})"
                    + (f"; {res['problem']}" if res["problem"] else "")
                ),
                "identical": same and not res["problem"],
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
        dropped = r.get("note") or ", ".join(f"{k} {v}" for k, v in sorted(r["dropped"].items()))
        lines.append(
            f"{r['input'][:46]:46s} {_size(r['bytes']):>9s} {r['records_in']:5d} {r['kept']:5d} "
            f"{r['lost']:4d} {r['seconds']:7.2f} {r['peak_rss_mb'] or 0:7.0f}  {dropped}"
        )
    return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MB" if n >= MiB else f"{n / 1024:.0f} KB"


# ------------------------------------------------------------------------------------------
# Adversarial families (benchmarks/adversarial.py) at the largest page the extractor accepts:
# pages through extract_text with the default config (its per-page cap on), texts through
# every text-level function. Each family runs in its own interpreter with a timeout, so a
# regression shows as "timeout" in the table instead of a stuck benchmark.

_FAMILY_ONE = r"""
import json, sys, time
from benchmarks.adversarial import PAGE_FAMILIES, TEXT_FAMILIES, TEXT_FUNCTIONS
kind, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = {}
if kind == "page":
    from pipeline.config import load_config
    from pipeline.html_text import extract_text
    cfg = load_config(None).extract
    html = PAGE_FAMILIES[name](size)
    assert len(html.encode()) <= cfg.max_page_bytes, len(html.encode())
    for mode in ("fast", "careful"):
        extract_text("<p>" + "warm up " * 50 + "</p>", mode=mode, config=cfg)  # first-use loads
        t0 = time.perf_counter()
        res = extract_text(html, mode=mode, config=cfg)
        out[mode] = [time.perf_counter() - t0, getattr(res, "reason", "kept")]
    out["chars"] = len(html)
else:
    text = TEXT_FAMILIES[name](size)
    for fn_name, fn in TEXT_FUNCTIONS.items():
        t0 = time.perf_counter()
        fn(text)
        out[fn_name] = [time.perf_counter() - t0, ""]
    out["chars"] = len(text)
print(json.dumps(out))
"""


def family_row(kind: str, name: str, size: int, timeout: float) -> dict:
    cmd = [sys.executable, "-c", _FAMILY_ONE, kind, name, str(size)]
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"family": name, "error": f"timeout after {timeout:.0f} s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return {"family": name, "error": last[:200]}
    return {"family": name, **json.loads(proc.stdout.strip().splitlines()[-1])}


def family_tables(size: int | None = None, timeout: float = 300.0) -> Iterator[str]:
    """The per-family tables, line by line as each family is measured: seconds (and the
    outcome, for pages) at ``size`` characters."""
    from benchmarks.adversarial import PAGE_FAMILIES, TEXT_FAMILIES, TEXT_FUNCTIONS
    from pipeline.config import load_config

    ecfg = load_config(None).extract
    # the page around the family's content (head, prose) takes the rest of the byte limit
    size = size or ecfg.max_page_bytes - 4096
    yield from [
        f"adversarial pages at {_size(size)} (extract.max_page_bytes = "
        f"{_size(ecfg.max_page_bytes)}), default config: per-page cap {ecfg.page_timeout_s:g} s",
        f"{'family':42s} {'fast s':>8s} {'outcome':10s} {'careful s':>9s} {'outcome':10s}",
    ]
    for name in PAGE_FAMILIES:
        r = family_row("page", name, size, timeout)
        if "error" in r:
            yield (f"{name[:42]:42s} {r['error']}")
            continue
        (tf, of), (tc, oc) = r["fast"], r["careful"]
        yield (f"{name[:42]:42s} {tf:8.2f} {of:10s} {tc:9.2f} {oc:10s}")
    short = {
        "math_spans": "spans",
        "math predicates on one line": "predic.",
        "clean_document (every rule)": "clean",
        "page_line_hashes": "l.hashes",
        "replace_pii": "pii",
        "to_fasttext_line": "features",
        "minhash + decontamination n-grams": "mh+decon",
    }
    cols = [short.get(f, f[:8]) for f in TEXT_FUNCTIONS]
    yield from [
        "",
        f"adversarial document texts at {_size(size)}, seconds per function "
        f"({', '.join(f'{short.get(f, f)} = {f}' for f in TEXT_FUNCTIONS)})",
        f"{'family':30s} " + " ".join(f"{c:>8s}" for c in cols),
    ]
    for name in TEXT_FAMILIES:
        r = family_row("text", name, size, timeout)
        if "error" in r:
            yield (f"{name[:30]:30s} {r['error']}")
            continue
        yield (f"{name[:30]:30s} " + " ".join(f"{r[f][0]:8.2f}" for f in TEXT_FUNCTIONS))


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
    ap.add_argument(
        "--families-only",
        action="store_true",
        help="print only the adversarial-family table (no WARC runs, no faults)",
    )
    ap.add_argument(
        "--family-size", type=int, default=0, help="characters per family (default: the page limit)"
    )
    a = ap.parse_args(argv)
    if a.families_only:
        for line in family_tables(a.family_size or None):
            print(line, flush=True)
        return 0
    work = a.out or Path(tempfile.mkdtemp(prefix="mathmine-reliability-"))
    try:
        t0 = time.perf_counter()
        inputs = all_inputs(work, a.bomb_mib)
        print(f"built {len(inputs)} inputs in {time.perf_counter() - t0:.1f} s under {work}")
        rows = run_table(inputs, work / "run", timeout=a.timeout)
        print(format_table(rows), flush=True)
        # faults on the real files plus the bundled sample (long enough a task to kill a
        # worker inside it); reference = an undisturbed run of the same inputs
        real = {k: v for k, v in inputs.items() if v[0].parent == WARC_DIR}
        sample = REPO / "sample" / "sample.warc.gz"
        real["sample.warc.gz"] = (sample, count_records(sample))
        run_table(real, work / "reference", timeout=a.timeout)
        faults = fault_rows(work, real, work / "reference", a.timeout)
        print("\n" + format_table(faults))
        rows += faults
        if not all(f["identical"] for f in faults):
            print("\nFAULT RUNS DIFFER from the undisturbed run")
        print()
        for line in family_tables(a.family_size or None):
            print(line, flush=True)
        lost = sum(r.get("lost", 0) for r in rows)
        print(f"\nlost records in total: {lost}")
        if a.json:
            print(json.dumps(rows, indent=1))
        return 1 if lost or not all(f["identical"] for f in faults) else 0
    finally:
        if not a.keep and not a.out:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    raise SystemExit(main())
