"""Reading and writing s3://, gs:// and https:// objects: streamed, resumable, throttle-proof.

Common Crawl's S3 bucket answers a busy crawl with ``503 SlowDown`` and, now and then, a
connection that dies in the middle of a 1 GB WARC. Two layers handle that:

* every request goes through botocore's *adaptive* retry mode (client-side rate limiting plus
  exponential backoff with jitter), and when botocore's budget runs out on a throttle we back
  off ourselves (full jitter) and ask again;
* a broken body stream (connection reset, IncompleteRead, read timeout) is re-opened with a
  ``Range: bytes=<pos>-`` request pinned to the first response's ETag/generation, so the reader
  continues where it stopped instead of restarting a 1 GB download.

Every retry is counted into the caller's ``counters`` dict (keys ``io_retries``,
``io_throttled``, ``io_resumes``) so the extract stage can put them in stats.json.

This module is the only place that talks to boto3 / google-cloud-storage for data; it is never
imported by ``pipeline/``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.config import IOConfig
from pipeline.errors import UserError

# Common Crawl's listing lines are relative to the root of this bucket (and of
# https://data.commoncrawl.org/, which serves the same keys).
COMMONCRAWL_S3 = "s3://commoncrawl/"
# The read buffer in front of the resumable stream: large enough that FastWARC's small reads
# do not turn into one socket read each, small enough to not matter per task.
READ_BUFFER = 1 << 20
# GCS range reads are issued in chunks of this size (each one its own retried request).
GCS_CHUNK = 8 << 20
HTTP_TIMEOUT_S = 60.0
# S3 error codes that mean "slow down and ask again" (503 SlowDown is the Common Crawl one).
THROTTLE_CODES = frozenset(
    {
        "SlowDown",
        "503",
        "ServiceUnavailable",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "InternalError",
        "500",
    }
)
RETRYABLE_HTTP_STATUS = frozenset({429, 500, 502, 503, 504})
# botocore already retried a throttled request s3_max_attempts times (adaptive mode also slows
# the client down); this many further rounds, spaced by longer jittered sleeps, ride out a
# throttling window of tens of seconds before the file is reported unreadable.
S3_OUTER_ROUNDS = 3
S3_OUTER_BASE_S = 1.0


def _count(counters: dict | None, key: str, n: int = 1) -> None:
    if counters is not None and n:
        counters[key] = counters.get(key, 0) + n


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 20.0) -> float:
    """Full-jitter exponential backoff (AWS architecture blog): uniform in [0, base * 2^n]."""
    return random.uniform(0, min(cap, base * (2**attempt)))


def split_uri(uri: str) -> tuple[str, str, str]:
    """``s3://bucket/key`` -> ("s3", "bucket", "key"); s3a:// counts as s3://."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return "", "", uri
    scheme = scheme.lower()
    if scheme == "s3a" or scheme == "s3n":
        scheme = "s3"
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


# --------------------------------------------------------------------------------------------
# The resumable stream
# --------------------------------------------------------------------------------------------


# Errors that mean "the body stream broke": re-open at the current position.
def _stream_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [
        ConnectionError,  # includes ConnectionResetError, BrokenPipeError
        http.client.IncompleteRead,
        http.client.HTTPException,
        socket.timeout,
        TimeoutError,
    ]
    try:
        import urllib3.exceptions as u3

        errs += [u3.ProtocolError, u3.ReadTimeoutError, u3.HTTPError]
    except ImportError:  # pragma: no cover - urllib3 comes with botocore
        pass
    try:
        import botocore.exceptions as be

        errs += [
            be.IncompleteReadError,
            be.ResponseStreamingError,
            be.ReadTimeoutError,
            be.ConnectionClosedError,
            be.EndpointConnectionError,
        ]
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


class ResumableReader(io.RawIOBase):
    """A read-only raw stream over ``open_at(pos) -> (body, total_size_or_None)``.

    When the body breaks (or ends before ``total_size``) the reader calls ``open_at`` again at
    the current position; it gives up after ``max_attempts`` breaks in a row without a single
    byte of progress, so a long file with occasional resets is still read to the end.
    """

    def __init__(
        self,
        open_at: Callable[[int], tuple[Any, int | None]],
        name: str,
        counters: dict | None,
        max_attempts: int,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__()
        self._open_at = open_at
        self.name = name
        self._counters = counters
        self._max_attempts = max(1, max_attempts)
        self._sleep = sleep
        self._body: Any = None
        self._pos = 0
        self._size: int | None = None
        self._errors = _stream_errors()
        self.is_throttle: Callable[[BaseException], bool] = lambda _e: False
        self._body, self._size = self._open_at(0)

    def readable(self) -> bool:
        return True

    @property
    def size(self) -> int | None:
        return self._size

    def tell(self) -> int:
        return self._pos

    def _close_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            try:
                body.close()
            except Exception:  # noqa: BLE001 - a broken stream may fail to close; irrelevant
                pass

    def readinto(self, b) -> int:
        want = len(b)
        if want == 0:
            return 0
        streak = 0
        while True:
            if self._size is not None and self._pos >= self._size:
                return 0
            try:
                if self._body is None:
                    self._body, size = self._open_at(self._pos)
                    if size is not None:
                        self._size = size
                chunk = self._body.read(want)
                if not chunk and self._size is not None and self._pos < self._size:
                    # the server closed the body early without an error: same as a reset
                    raise http.client.IncompleteRead(b"", self._size - self._pos)
            except self._errors as e:
                self._close_body()
                streak += 1
                if self.is_throttle(e):
                    _count(self._counters, "io_throttled")
                    _count(self._counters, "io_retries")
                else:
                    _count(self._counters, "io_resumes")
                if streak > self._max_attempts:
                    raise
                self._sleep(backoff_delay(streak - 1, base=0.1, cap=5.0))
                continue
            n = len(chunk)
            b[:n] = chunk
            self._pos += n
            return n

    def close(self) -> None:
        self._close_body()
        super().close()


# --------------------------------------------------------------------------------------------
# S3
# --------------------------------------------------------------------------------------------

_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()
# Per-thread tallies of the HTTP attempts botocore made inside one API call: the response's
# RetryAttempts is not reliable (retry quota, S3 special cases), the send events are.
_tls = threading.local()


def _on_before_send(**_kwargs) -> None:
    _tls.sends = getattr(_tls, "sends", 0) + 1


def _on_needs_retry(response=None, **_kwargs) -> None:
    if response is not None:
        http_resp, parsed = response
        code = str((parsed or {}).get("Error", {}).get("Code", ""))
        if getattr(http_resp, "status_code", 0) in (429, 503) or code in THROTTLE_CODES:
            _tls.throttled = getattr(_tls, "throttled", 0) + 1


def s3_endpoint(io_cfg: IOConfig) -> str | None:
    return (
        io_cfg.s3_endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )


def s3_client(io_cfg: IOConfig, region: str | None = None):
    """One boto3 S3 client per (endpoint, attempts, region) and process: creating a client costs
    ~50 ms and clients are thread-safe, so executors share one across tasks."""
    import boto3
    from botocore.config import Config as BotoConfig

    endpoint = s3_endpoint(io_cfg)
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    region = region or "us-east-1"  # Common Crawl's bucket lives there
    key = (endpoint, io_cfg.s3_max_attempts, region, os.getpid())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            cfg = BotoConfig(
                retries={"mode": "adaptive", "max_attempts": io_cfg.s3_max_attempts},
                connect_timeout=10,
                read_timeout=HTTP_TIMEOUT_S,
                max_pool_connections=32,
                # path-style works against moto/MinIO endpoints and real S3 alike
                s3={"addressing_style": "path"} if endpoint else {},
            )
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint, region_name=region, config=cfg
            )
            # observers only: both return None, so botocore's own decisions are unchanged
            client.meta.events.register("before-send.s3", _on_before_send)
            client.meta.events.register("needs-retry.s3", _on_needs_retry)
            _clients[key] = client
    return client


def _error_code(err: Exception) -> str:
    resp = getattr(err, "response", None) or {}
    return str(resp.get("Error", {}).get("Code", ""))


def _s3_call(fn: Callable[[], Any], uri: str, io_cfg: IOConfig, counters: dict | None):
    """Call ``fn`` (one boto3 request); botocore retries first, we back off on top of it."""
    from botocore.exceptions import ClientError

    attempt = 0
    while True:
        _tls.sends = 0
        _tls.throttled = 0
        try:
            return fn()
        except ClientError as e:
            code = _error_code(e)
            if code in ("NoSuchKey", "404", "NoSuchBucket"):
                raise FileNotFoundError(f"{uri}: no such object ({code})") from None
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise PermissionError(f"{uri}: access denied ({code})") from None
            if code not in THROTTLE_CODES or attempt >= S3_OUTER_ROUNDS:
                raise OSError(f"{uri}: S3 error {code}") from e
        finally:
            # every HTTP attempt after the first of this call was a retry
            _count(counters, "io_retries", max(0, getattr(_tls, "sends", 0) - 1))
            _count(counters, "io_throttled", getattr(_tls, "throttled", 0))
        attempt += 1
        _count(counters, "io_retries")
        time.sleep(backoff_delay(attempt, base=S3_OUTER_BASE_S))


def _open_s3(uri: str, io_cfg: IOConfig, counters: dict | None) -> ResumableReader:
    _, bucket, key = split_uri(uri)
    client = s3_client(io_cfg)
    pinned: dict[str, str] = {}

    def open_at(pos: int):
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if pos:
            kwargs["Range"] = f"bytes={pos}-"
        if "etag" in pinned:
            # a resumed read must continue the same object version, not a newer upload
            kwargs["IfMatch"] = pinned["etag"]
        resp = _s3_call(lambda: client.get_object(**kwargs), uri, io_cfg, counters)
        if "etag" not in pinned and resp.get("ETag"):
            pinned["etag"] = resp["ETag"]
        length = resp.get("ContentLength")
        return resp["Body"], (pos + length) if length is not None else None

    return ResumableReader(open_at, uri, counters, io_cfg.s3_max_attempts)


# --------------------------------------------------------------------------------------------
# HTTPS
# --------------------------------------------------------------------------------------------


def _http_open(url: str, pos: int, io_cfg: IOConfig, counters: dict | None, pinned: dict):
    headers = {"User-Agent": "mathmine (+https://github.com/; Common Crawl reader)"}
    if pos:
        headers["Range"] = f"bytes={pos}-"
    attempt = 0
    while True:
        req = urllib.request.Request(url, headers=headers)
        try:
            resp = urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S)  # noqa: S310 - user URL
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise FileNotFoundError(f"{url}: HTTP 404") from None
            if e.code == 416:  # range past the end: nothing left to read
                return io.BytesIO(b""), pos
            if e.code not in RETRYABLE_HTTP_STATUS or attempt >= io_cfg.s3_max_attempts:
                raise OSError(f"{url}: HTTP {e.code}") from None
            if e.code in (429, 503):
                _count(counters, "io_throttled")
            retry_after = e.headers.get("Retry-After", "") if e.headers else ""
            delay = backoff_delay(attempt)
            if retry_after.isdigit():
                delay = max(delay, min(float(retry_after), 60.0))
            e.close()
        except (urllib.error.URLError, *_stream_errors()) as e:
            if attempt >= io_cfg.s3_max_attempts:
                raise OSError(f"{url}: {e}") from None
            delay = backoff_delay(attempt)
        else:
            etag = resp.headers.get("ETag")
            if pinned.get("etag") and etag and etag != pinned["etag"]:
                resp.close()
                raise OSError(f"{url}: the file changed while it was read (ETag {etag})")
            if etag:
                pinned["etag"] = etag
            length = resp.headers.get("Content-Length")
            total = None
            if resp.status == 206:
                crange = resp.headers.get("Content-Range", "")  # bytes a-b/total
                tail = crange.rsplit("/", 1)[-1]
                total = int(tail) if tail.isdigit() else None
            elif pos:
                # the server ignored Range: skip what we already have
                skip = pos
                while skip:
                    got = resp.read(min(skip, 1 << 20))
                    if not got:
                        raise http.client.IncompleteRead(b"", skip)
                    skip -= len(got)
                total = int(length) if length and length.isdigit() else None
            else:
                total = int(length) if length and length.isdigit() else None
            return resp, total
        attempt += 1
        _count(counters, "io_retries")
        time.sleep(delay)


def _open_https(url: str, io_cfg: IOConfig, counters: dict | None) -> ResumableReader:
    pinned: dict[str, str] = {}
    return ResumableReader(
        lambda pos: _http_open(url, pos, io_cfg, counters, pinned),
        url,
        counters,
        io_cfg.s3_max_attempts,
    )


# --------------------------------------------------------------------------------------------
# GCS
# --------------------------------------------------------------------------------------------

_gcs_clients: dict[int, Any] = {}


def gcs_client():
    """google-cloud-storage client (STORAGE_EMULATOR_HOST is honoured by the library)."""
    from google.cloud import storage

    pid = os.getpid()
    if pid not in _gcs_clients:
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            _gcs_clients[pid] = storage.Client(
                project=os.environ.get("GOOGLE_CLOUD_PROJECT", "test"),
                credentials=AnonymousCredentials(),
            )
        else:
            _gcs_clients[pid] = storage.Client()
    return _gcs_clients[pid]


class _GcsChunks:
    """A body over a pinned blob generation, fetched as ranged chunks on demand."""

    def __init__(self, blob, pos: int, size: int):
        self._blob, self._pos, self._size = blob, pos, size
        self._buf = b""

    def read(self, n: int) -> bytes:
        if not self._buf and self._pos < self._size:
            end = min(self._size, self._pos + GCS_CHUNK) - 1
            # retry=None: a failed chunk surfaces to ResumableReader, which backs off, counts it
            # and asks again from the same offset
            self._buf = self._blob.download_as_bytes(
                start=self._pos, end=end, raw_download=True, checksum=None, retry=None
            )
            self._pos += len(self._buf)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        self._buf = b""


def _open_gcs(uri: str, io_cfg: IOConfig, counters: dict | None) -> ResumableReader:
    from google.api_core import exceptions as gexc

    _, bucket, key = split_uri(uri)
    client = gcs_client()
    blob = client.bucket(bucket).get_blob(key)
    if blob is None:
        raise FileNotFoundError(f"{uri}: no such object")
    # pin the generation so a resumed read never mixes two versions of the object
    pinned = client.bucket(bucket).blob(key, generation=blob.generation)
    size = int(blob.size or 0)

    def open_at(pos: int):
        return _GcsChunks(pinned, pos, size), size

    import requests

    throttles = (gexc.ServiceUnavailable, gexc.TooManyRequests)
    reader = ResumableReader(open_at, uri, counters, io_cfg.s3_max_attempts)
    reader._errors = reader._errors + (
        *throttles,
        gexc.InternalServerError,
        gexc.BadGateway,
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.Timeout,
    )
    reader.is_throttle = lambda e: isinstance(e, throttles)
    return reader


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def open_uri(uri: str, io_cfg: IOConfig, counters: dict | None = None) -> BinaryIO:
    """A buffered, resumable binary stream of the object at ``uri`` (s3://, gs://, https://).

    Missing objects raise FileNotFoundError, forbidden ones PermissionError, and anything that
    still fails after the retries OSError, so the caller can drop the file as unreadable.
    """
    scheme, _, _ = split_uri(uri)
    if scheme == "s3":
        raw = _open_s3(uri, io_cfg, counters)
    elif scheme in ("http", "https"):
        raw = _open_https(uri, io_cfg, counters)
    elif scheme == "gs":
        raw = _open_gcs(uri, io_cfg, counters)
    elif scheme in ("", "file"):
        return open(uri[len("file://") :] if scheme == "file" else uri, "rb")
    else:
        raise UserError(f"cannot read {uri!r}: scheme {scheme}:// is not supported")
    return io.BufferedReader(raw, buffer_size=READ_BUFFER)  # type: ignore[return-value]


def read_bytes(uri: str, io_cfg: IOConfig | None = None, counters: dict | None = None) -> bytes:
    with open_uri(uri, io_cfg or IOConfig(), counters) as f:
        return f.read()


def read_range(
    uri: str, offset: int, length: int, io_cfg: IOConfig | None = None, counters: dict | None = None
) -> bytes:
    """``length`` bytes at ``offset`` of ``uri``: re-reads one WARC record from docs/'s
    (warc_path, warc_offset, warc_length) without downloading the file."""
    io_cfg = io_cfg or IOConfig()
    scheme, bucket, key = split_uri(uri)
    if length <= 0:
        return b""
    if scheme == "s3":
        client = s3_client(io_cfg)
        rng = f"bytes={offset}-{offset + length - 1}"
        resp = _s3_call(
            lambda: client.get_object(Bucket=bucket, Key=key, Range=rng), uri, io_cfg, counters
        )
        return resp["Body"].read()
    if scheme in ("http", "https"):
        req = urllib.request.Request(
            uri, headers={"Range": f"bytes={offset}-{offset + length - 1}"}
        )
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:  # noqa: S310
            data = resp.read()
            return data if resp.status == 206 else data[offset : offset + length]
    if scheme == "gs":
        blob = gcs_client().bucket(bucket).blob(key)
        return blob.download_as_bytes(start=offset, end=offset + length - 1, raw_download=True)
    with open(uri, "rb") as f:
        f.seek(offset)
        return f.read(length)


def _listing_lines(data: bytes, uri: str) -> list[str]:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"listing {uri!r} is not a text (or gzipped text) file of paths") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def expand_listing(
    uri: str,
    io_cfg: IOConfig,
    limit: int | None = None,
    sample_fraction: float | None = None,
    seed: int = 1,
    prefer: str | None = None,
) -> list[str]:
    """The WARC URIs of a Common Crawl ``warc.paths(.gz)`` listing (local, s3://, gs://, https://).

    Lines are relative to the crawl's bucket root (``crawl-data/CC-MAIN-.../warc/....warc.gz``).
    ``prefer="s3"`` turns them into ``s3://<bucket>/<line>`` (the listing's own bucket when it is
    on S3, else ``commoncrawl``), ``prefer="https"`` into ``io_cfg.https_prefix + line`` (for
    clusters outside AWS). The default follows the listing: S3 listing -> s3, otherwise https.
    Lines that already are URIs are kept. ``sample_fraction`` keeps a deterministic share (a
    hash of seed and line, so the same WARCs are chosen on every run), then ``limit`` the first N.
    """
    scheme, bucket, _ = split_uri(uri)
    if scheme:
        data = read_bytes(uri, io_cfg)
    else:
        p = Path(uri).expanduser()
        if not p.is_file():
            raise UserError(f"listing {uri!r} does not exist")
        data = p.read_bytes()
    lines = _listing_lines(data, uri)
    prefer = prefer or ("s3" if scheme == "s3" else "https")
    if prefer not in ("s3", "https"):
        raise UserError(f"prefer must be 's3' or 'https', got {prefer!r}")
    base = f"s3://{bucket}/" if (prefer == "s3" and scheme == "s3") else COMMONCRAWL_S3
    if prefer == "https":
        base = (
            io_cfg.https_prefix if io_cfg.https_prefix.endswith("/") else io_cfg.https_prefix + "/"
        )
    out = [ln if "://" in ln else base + ln.lstrip("/") for ln in lines]
    if sample_fraction is not None:
        if not 0 < sample_fraction <= 1:
            raise UserError(f"--sample-fraction must be in (0, 1], got {sample_fraction}")
        out = [u for u in out if _unit_hash(seed, u) < sample_fraction]
    if limit is not None:
        out = out[: max(0, limit)]
    return out


def _unit_hash(seed: int, text: str) -> float:
    h = hashlib.blake2b(f"{seed}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def upload_file(
    local: str | os.PathLike,
    uri: str,
    io_cfg: IOConfig | None = None,
    kms_key_id: str | None = None,
) -> str:
    """Copy a local file to s3:// or gs:// (encrypted at rest: SSE-S3, or SSE-KMS with a key)."""
    io_cfg = io_cfg or IOConfig()
    scheme, bucket, key = split_uri(uri)
    if scheme == "s3":
        extra = {"ServerSideEncryption": "AES256"}
        if kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
        s3_client(io_cfg).upload_file(str(local), bucket, key, ExtraArgs=extra)
    elif scheme == "gs":
        blob = gcs_client().bucket(bucket).blob(key)
        if kms_key_id:
            blob.kms_key_name = kms_key_id
        blob.upload_from_filename(str(local))
    elif scheme == "":
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        Path(uri).write_bytes(Path(local).read_bytes())
    else:
        raise UserError(f"cannot upload to {uri!r}: use s3:// or gs://")
    return uri


def upload_dir(
    local: str | os.PathLike,
    uri: str,
    io_cfg: IOConfig | None = None,
    kms_key_id: str | None = None,
) -> list[str]:
    """Copy every file under ``local`` to ``uri/<relative path>``; returns the URIs written."""
    root = Path(local)
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            rel = p.relative_to(root).as_posix()
            out.append(upload_file(p, uri.rstrip("/") + "/" + rel, io_cfg, kms_key_id))
    return out


def list_uri(prefix: str, io_cfg: IOConfig | None = None) -> list[str]:
    """Every object URI under ``prefix`` (s3://, gs:// or a local folder), sorted."""
    io_cfg = io_cfg or IOConfig()
    scheme, bucket, key = split_uri(prefix)
    if scheme == "s3":
        pages = (
            s3_client(io_cfg).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        )
        return sorted(f"s3://{bucket}/{o['Key']}" for pg in pages for o in pg.get("Contents", []))
    if scheme == "gs":
        return sorted(
            f"gs://{bucket}/{b.name}" for b in gcs_client().list_blobs(bucket, prefix=key)
        )
    if scheme == "":
        root = Path(prefix)
        if root.is_file():
            return [str(root)]
        return sorted(str(p) for p in root.rglob("*") if p.is_file())
    raise UserError(f"cannot list {prefix!r}: use s3://, gs:// or a local folder")
