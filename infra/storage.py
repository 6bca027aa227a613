"""The one storage layer: every byte mathmine reads or writes at a URI goes through here.

A URI is a local path, ``file://``, ``s3://`` (``s3a://``), ``gs://`` or ``https://``. This module
is the only one that knows them, resolves an S3 endpoint, region and credentials
(:func:`s3_settings`, shared by boto3 and ``pyarrow.fs``), retries (:func:`retry_call`, one
policy, counted into the caller's ``counters``: ``io_retries``, ``io_throttled``,
``io_resumes``; extract puts them in stats.json) and writes a file so that no reader ever sees
half of it (:func:`atomic_output`). It lives in ``infra/`` because it imports boto3 and
google-cloud-storage (lazily), which ``pipeline/`` must not; ``jobs/`` (the run folder, inputs)
and ``classifiers/`` (seed files) import it lazily, so a laptop run never loads a cloud SDK.

Two tools, each for what it does well:

* **Streamed inputs** (WARCs, listings, seed and benchmark files: :func:`open_uri`,
  :func:`read_rows`) use boto3 / google-cloud-storage / urllib. Common Crawl's bucket answers
  a busy crawl with ``503 SlowDown`` and now and then a connection dies in the middle of a 1 GB
  WARC: every boto3 request runs in botocore's *adaptive* retry mode and, when its budget
  runs out on a throttle, :func:`retry_call` backs off (full jitter) and asks again; a broken
  body is re-opened with ``Range: bytes=<pos>-`` pinned to the first response's
  ETag/generation (:class:`ResumableReader`), so a read continues where it stopped.
* **Folders** (the run folder, shards: :func:`filesystem`) use ``pyarrow.fs``, which Parquet
  readers and writers take directly. What it cannot do, and what we do about it:
  object stores have no rename, so an atomic write spools locally and PUTs the final key once
  the writer succeeded (a PUT is atomic per object); its AWS SDK retries inside (standard
  mode, ``io.s3_max_attempts`` attempts) and reports no count, so only our outer rounds are
  counted; a 503 on a GET surfaces as ``INTERNAL_FAILURE`` without an SDK retry (measured with
  tests/cloud_fakes.py's fault proxy), which our outer rounds retry.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.client
import io
import json
import os
import random
import re
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.config import IOConfig
from pipeline.errors import UserError

# Common Crawl's listing lines are relative to the root of this bucket (and of
# https://data.commoncrawl.org/, which serves the same keys).
COMMONCRAWL_S3 = "s3://commoncrawl/"
REMOTE_SCHEMES = ("s3", "gs", "http", "https")
FOLDER_SCHEMES = ("file", "s3", "gs")  # what can hold a folder (run folder, shards): pyarrow.fs
# The read buffer in front of the resumable stream: large enough that FastWARC's small reads
# do not turn into one socket read each, small enough to not matter per task.
READ_BUFFER = 1 << 20
# GCS range reads are issued in chunks of this size (each one its own retried request).
GCS_CHUNK = 8 << 20
HTTP_TIMEOUT_S = 60.0
# Object-store writes buffer in RAM up to this, then in a local temp file, until the PUT.
SPOOL_BYTES = 64 << 20
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
# The SDK already retried a throttled request s3_max_attempts times (adaptive mode also slows
# the client down); this many further rounds, spaced by longer jittered sleeps, ride out a
# throttling window of tens of seconds before the file is reported unreadable.
S3_OUTER_ROUNDS = 3
S3_OUTER_BASE_S = 1.0
# What pyarrow's AWS SDK puts in an OSError once its own retries are spent: a throttle, or a
# transient failure (the GET-503 quirk above, a dropped connection) worth another round.
_FS_THROTTLED = re.compile(r"SLOW_DOWN|SlowDown|THROTTL|HTTP status (?:429|503)")
_FS_TRANSIENT = re.compile(
    r"INTERNAL_FAILURE|NETWORK_CONNECTION|REQUEST_TIMEOUT|Connection reset|curlCode"
    r"|HTTP status 5\d\d"
)


def _count(counters: dict | None, key: str, n: int = 1) -> None:
    if counters is not None and n:
        counters[key] = counters.get(key, 0) + n


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 20.0) -> float:
    """Full-jitter exponential backoff (AWS architecture blog): uniform in [0, base * 2^n]."""
    return random.uniform(0, min(cap, base * (2**attempt)))


# --------------------------------------------------------------------------------------------
# URIs
# --------------------------------------------------------------------------------------------


def split_uri(uri: str) -> tuple[str, str, str]:
    """``s3://bucket/key`` -> ("s3", "bucket", "key"); s3a:// counts as s3://, a local path
    is ("", "", path) and ``file:///p`` ("file", "", "/p")."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return "", "", uri
    scheme = scheme.lower()
    if scheme == "s3a" or scheme == "s3n":
        scheme = "s3"
    if scheme == "file":
        return "file", "", "/" + rest.lstrip("/")
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


def is_remote(uri: str) -> bool:
    """An object store or web URI (not a local path or file://)."""
    return split_uri(uri)[0] in REMOTE_SCHEMES


def local_path(uri: str) -> str:
    """The filesystem path of a local path or ``file://`` URI (``~`` expanded)."""
    scheme, _, path = split_uri(uri)
    if scheme not in ("", "file"):
        raise ValueError(f"{uri!r} is not a local path")
    return os.path.expanduser(path)


# --------------------------------------------------------------------------------------------
# The retry policy
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """A classifier's verdict on a failed call: ask again (after at least ``wait_s``)."""

    throttled: bool = False  # count it as io_throttled too
    wait_s: float = 0.0  # e.g. an HTTP Retry-After


def retry_call(
    fn: Callable[[], Any],
    classify: Callable[[Exception], Retry | None],
    counters: dict | None,
    rounds: int = S3_OUTER_ROUNDS,
    base_s: float | None = None,
):
    """``fn()``, asked again up to ``rounds`` more times while ``classify`` says the failure
    is worth a :class:`Retry` (it returns None, or raises a clearer error, for the others).

    Each further round is counted as ``io_retries`` (and ``io_throttled`` when the verdict
    says so) and waits a full-jitter backoff. This is the one policy: boto3 calls (on top of
    botocore's adaptive mode), plain HTTPS requests and ``pyarrow.fs`` calls all go through it.
    """
    base = S3_OUTER_BASE_S if base_s is None else base_s
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - classify decides, everything else re-raises
            verdict = classify(e)
            if verdict is None or attempt >= rounds:
                raise
        attempt += 1
        _count(counters, "io_retries")
        if verdict.throttled:
            _count(counters, "io_throttled")
        time.sleep(max(backoff_delay(attempt, base=base), verdict.wait_s))


def classify_fs_error(err: Exception) -> Retry | None:
    """The verdict on a ``pyarrow.fs`` error (its SDK gave up): throttles and transient
    failures are retried, a missing key or a denied request is not."""
    if not isinstance(err, OSError) or isinstance(err, (FileNotFoundError, PermissionError)):
        return None
    text = str(err)
    if _FS_THROTTLED.search(text):
        return Retry(throttled=True)
    if _FS_TRANSIENT.search(text):
        return Retry()
    return None


def retry_fs(fn: Callable[[], Any], counters: dict | None = None):
    """``fn()`` (a ``pyarrow.fs`` call on an object store) under :func:`retry_call`."""
    return retry_call(fn, classify_fs_error, counters)


# --------------------------------------------------------------------------------------------
# Endpoint, region and credentials: one resolution for boto3 and pyarrow.fs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Settings:
    endpoint: str | None
    region: str
    max_attempts: int
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)


def s3_endpoint(io_cfg: IOConfig) -> str | None:
    """``io.s3_endpoint_url``, else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (a moto or
    MinIO server), else None: the SDK's own endpoint for the region."""
    return (
        io_cfg.s3_endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )


@functools.lru_cache(maxsize=64)
def _bucket_region(bucket: str) -> str | None:
    from pyarrow import fs as pafs

    try:
        return pafs.resolve_s3_region(bucket)
    except (OSError, ValueError):
        return None


def s3_settings(io_cfg: IOConfig, bucket: str = "") -> S3Settings:
    """Where and as whom to reach S3, for both clients.

    Region: ``io.s3_region``, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else the bucket's
    own region (one lookup per bucket and process: EMR executors often have no region in
    their environment, and pyarrow would otherwise assume us-east-1 and fail on a bucket
    elsewhere), else us-east-1 (Common Crawl's). Credentials: ``io.aws_access_key_id`` and
    ``io.aws_secret_access_key`` (and ``io.aws_session_token``) when set, else the SDKs' own
    chain (environment, profile, instance role), which is preferred.
    """
    endpoint = s3_endpoint(io_cfg)
    region = (
        io_cfg.s3_region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or (_bucket_region(bucket) if bucket and not endpoint else None)
        or "us-east-1"
    )
    key, secret = io_cfg.aws_access_key_id, io_cfg.aws_secret_access_key
    if bool(key) != bool(secret):
        raise UserError(
            "set both io.aws_access_key_id and io.aws_secret_access_key, or neither (then the "
            "AWS SDK's own credential chain is used)"
        )
    if io_cfg.aws_session_token and not key:
        raise UserError("io.aws_session_token needs io.aws_access_key_id and the secret key too")
    return S3Settings(
        endpoint, region, io_cfg.s3_max_attempts, key, secret, io_cfg.aws_session_token
    )


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


def s3_client(io_cfg: IOConfig, bucket: str = ""):
    """One boto3 S3 client per :class:`S3Settings` and process: creating a client costs ~50 ms
    and clients are thread-safe, so executors share one across tasks."""
    import boto3
    from botocore.config import Config as BotoConfig

    st = s3_settings(io_cfg, bucket)
    key = (st, os.getpid())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            cfg = BotoConfig(
                retries={"mode": "adaptive", "max_attempts": st.max_attempts},
                connect_timeout=10,
                read_timeout=HTTP_TIMEOUT_S,
                max_pool_connections=32,
                # path-style works against moto/MinIO endpoints and real S3 alike
                s3={"addressing_style": "path"} if st.endpoint else {},
            )
            creds = {}
            if st.access_key:
                creds = {
                    "aws_access_key_id": st.access_key,
                    "aws_secret_access_key": st.secret_key,
                    "aws_session_token": st.session_token or None,
                }
            client = boto3.session.Session(**creds).client(
                "s3", endpoint_url=st.endpoint, region_name=st.region, config=cfg
            )
            # observers only: both return None, so botocore's own decisions are unchanged
            client.meta.events.register("before-send.s3", _on_before_send)
            client.meta.events.register("needs-retry.s3", _on_needs_retry)
            _clients[key] = client
    return client


def _error_code(err: Exception) -> str:
    resp = getattr(err, "response", None) or {}
    return str(resp.get("Error", {}).get("Code", ""))


def _classify_s3_error(uri: str, err: Exception) -> Retry | None:
    from botocore.exceptions import ClientError

    if not isinstance(err, ClientError):
        return None
    code = _error_code(err)
    if code in ("NoSuchKey", "404", "NoSuchBucket"):
        raise FileNotFoundError(f"{uri}: no such object ({code})") from None
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        raise PermissionError(f"{uri}: access denied ({code})") from None
    if code not in THROTTLE_CODES:
        raise OSError(f"{uri}: S3 error {code}") from err
    # the throttled answers were counted one by one by _on_needs_retry
    return Retry()


def _s3_call(fn: Callable[[], Any], uri: str, counters: dict | None):
    """Call ``fn`` (one boto3 request); botocore retries first, :func:`retry_call` on top."""

    def attempt():
        _tls.sends = 0
        _tls.throttled = 0
        try:
            return fn()
        finally:
            # every HTTP attempt after the first of this call was a retry
            _count(counters, "io_retries", max(0, getattr(_tls, "sends", 0) - 1))
            _count(counters, "io_throttled", getattr(_tls, "throttled", 0))

    try:
        return retry_call(attempt, functools.partial(_classify_s3_error, uri), counters)
    except Exception as e:
        from botocore.exceptions import ClientError

        if isinstance(e, ClientError):  # still throttled after every round
            raise OSError(f"{uri}: S3 error {_error_code(e)}") from e
        raise


def _open_s3(uri: str, io_cfg: IOConfig, counters: dict | None) -> ResumableReader:
    _, bucket, key = split_uri(uri)
    client = s3_client(io_cfg, bucket)
    pinned: dict[str, str] = {}

    def open_at(pos: int):
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if pos:
            kwargs["Range"] = f"bytes={pos}-"
        if "etag" in pinned:
            # a resumed read must continue the same object version, not a newer upload
            kwargs["IfMatch"] = pinned["etag"]
        resp = _s3_call(lambda: client.get_object(**kwargs), uri, counters)
        if "etag" not in pinned and resp.get("ETag"):
            pinned["etag"] = resp["ETag"]
        length = resp.get("ContentLength")
        return resp["Body"], (pos + length) if length is not None else None

    return ResumableReader(open_at, uri, counters, io_cfg.s3_max_attempts)


# --------------------------------------------------------------------------------------------
# HTTPS
# --------------------------------------------------------------------------------------------


def _classify_http_error(url: str, err: Exception) -> Retry | None:
    if isinstance(err, urllib.error.HTTPError):
        if err.code == 404:
            raise FileNotFoundError(f"{url}: HTTP 404") from None
        if err.code not in RETRYABLE_HTTP_STATUS:
            raise OSError(f"{url}: HTTP {err.code}") from None
        retry_after = err.headers.get("Retry-After", "") if err.headers else ""
        err.close()
        wait = min(float(retry_after), 60.0) if retry_after.isdigit() else 0.0
        return Retry(throttled=err.code in (429, 503), wait_s=wait)
    if isinstance(err, (urllib.error.URLError, *_stream_errors())):
        return Retry()
    return None


def _http_open(url: str, pos: int, io_cfg: IOConfig, counters: dict | None, pinned: dict):
    headers = {"User-Agent": "mathmine (+https://github.com/; Common Crawl reader)"}
    if pos:
        headers["Range"] = f"bytes={pos}-"

    def request():
        req = urllib.request.Request(url, headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S)  # noqa: S310 - user URL
        except urllib.error.HTTPError as e:
            if e.code == 416:  # range past the end: nothing left to read
                return None
            raise

    # no SDK underneath: our own rounds are all the attempts there are
    try:
        resp = retry_call(
            request,
            functools.partial(_classify_http_error, url),
            counters,
            rounds=io_cfg.s3_max_attempts,
            base_s=0.2,
        )
    except urllib.error.HTTPError as e:
        raise OSError(f"{url}: HTTP {e.code}") from None
    except (urllib.error.URLError, *_stream_errors()) as e:
        raise OSError(f"{url}: {e}") from None
    if resp is None:
        return io.BytesIO(b""), pos
    etag = resp.headers.get("ETag")
    if pinned.get("etag") and etag and etag != pinned["etag"]:
        resp.close()
        raise OSError(f"{url}: the file changed while it was read (ETag {etag})")
    if etag:
        pinned["etag"] = etag
    length = resp.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    if resp.status == 206:
        tail = resp.headers.get("Content-Range", "").rsplit("/", 1)[-1]  # bytes a-b/total
        total = int(tail) if tail.isdigit() else None
    elif pos:
        # the server ignored Range: skip what we already have
        skip = pos
        while skip:
            got = resp.read(min(skip, 1 << 20))
            if not got:
                raise http.client.IncompleteRead(b"", skip)
            skip -= len(got)
    return resp, total


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
# Reading, listing and uploading objects at any URI
# --------------------------------------------------------------------------------------------


def open_uri(uri: str, io_cfg: IOConfig, counters: dict | None = None) -> BinaryIO:
    """A binary stream of the file at ``uri``: a local path or file:// (opened as is), or
    s3://, gs://, https:// (buffered and resumable).

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
        return open(local_path(uri), "rb")
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
        rng = f"bytes={offset}-{offset + length - 1}"
        return _s3_range(uri, rng, io_cfg, counters)[0]
    if scheme in ("http", "https"):
        req = urllib.request.Request(
            uri, headers={"Range": f"bytes={offset}-{offset + length - 1}"}
        )

        def fetch() -> bytes:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:  # noqa: S310
                data = resp.read()
                # 206 may still run past the range's end (servers that honour only its start)
                return data[:length] if resp.status == 206 else data[offset : offset + length]

        classify = functools.partial(_classify_http_error, uri)
        return retry_call(fetch, classify, counters, rounds=io_cfg.s3_max_attempts, base_s=0.2)
    if scheme == "gs":
        blob = gcs_client().bucket(bucket).blob(key)
        return blob.download_as_bytes(start=offset, end=offset + length - 1, raw_download=True)
    with open(local_path(uri), "rb") as f:
        f.seek(offset)
        return f.read(length)


def _s3_range(uri: str, rng: str, io_cfg: IOConfig, counters: dict | None) -> tuple[bytes, Any]:
    """One ranged GET (``Range: <rng>``) and its whole body, and the response. A body that
    breaks in transfer (reset, cut short: botocore checks Content-Length) is asked for again,
    counted as ``io_resumes``, up to ``io.s3_max_attempts`` times in a row."""
    _, bucket, key = split_uri(uri)
    client = s3_client(io_cfg, bucket)
    errors = _stream_errors()
    streak = 0
    while True:
        resp = _s3_call(lambda: client.get_object(Bucket=bucket, Key=key, Range=rng), uri, counters)
        try:
            return resp["Body"].read(), resp
        except errors:
            streak += 1
            _count(counters, "io_resumes")
            if streak > io_cfg.s3_max_attempts:
                raise
            time.sleep(backoff_delay(streak - 1, base=0.1, cap=5.0))


def read_tail(
    uri: str, length: int, io_cfg: IOConfig | None = None, counters: dict | None = None
) -> tuple[bytes, int]:
    """The last ``length`` bytes of ``uri`` and the file's size, in one request (a suffix
    range) where the scheme allows: what a Parquet reader needs first (the footer)."""
    io_cfg = io_cfg or IOConfig()
    scheme, bucket, key = split_uri(uri)
    if scheme == "s3":
        data, resp = _s3_range(uri, f"bytes=-{length}", io_cfg, counters)
        total = str(resp.get("ContentRange", "")).rsplit("/", 1)[-1]
        return data, int(total) if total.isdigit() else len(data)
    if scheme in ("http", "https"):
        req = urllib.request.Request(uri, headers={"Range": f"bytes=-{length}"})

        def fetch() -> tuple[bytes, int]:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:  # noqa: S310
                data = resp.read()
                if resp.status != 206:  # the server sent the whole file
                    return data[-length:], len(data)
                total = resp.headers.get("Content-Range", "").rsplit("/", 1)[-1]
                return data[-length:], int(total) if total.isdigit() else len(data)

        classify = functools.partial(_classify_http_error, uri)
        return retry_call(fetch, classify, counters, rounds=io_cfg.s3_max_attempts, base_s=0.2)
    if scheme == "gs":
        blob = gcs_client().bucket(bucket).get_blob(key)
        if blob is None:
            raise FileNotFoundError(f"{uri}: no such object")
        size = int(blob.size or 0)
        start = max(0, size - length)
        return read_range(uri, start, size - start, io_cfg, counters), size
    path = local_path(uri)
    size = os.path.getsize(path)
    start = max(0, size - length)
    return read_range(uri, start, size - start, io_cfg, counters), size


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
    local = scheme in ("", "file")

    def resolve(ln: str) -> str:
        if "://" in ln or (local and os.path.isabs(ln)):  # a local listing may name local files
            return ln
        return base + ln.lstrip("/")

    out = [resolve(ln) for ln in lines]
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
        s3_client(io_cfg, bucket).upload_file(str(local), bucket, key, ExtraArgs=extra)
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
            s3_client(io_cfg, bucket)
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=key)
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


# --------------------------------------------------------------------------------------------
# Folders through pyarrow.fs, and the one atomic write
# --------------------------------------------------------------------------------------------


def filesystem(uri: str, io_cfg: IOConfig | None = None):
    """``(pyarrow.fs.FileSystem, path inside it)`` for a local path, file://, s3:// or gs://
    URI: what Parquet readers and writers take (``filesystem=``). S3 gets the endpoint, region
    and credentials of :func:`s3_settings` and its attempt budget; small writes are one PUT
    (``allow_delayed_open``: otherwise every object, even a 100-byte marker, costs a
    three-request multipart upload)."""
    from pyarrow import fs as pafs

    io_cfg = io_cfg or IOConfig()
    scheme, bucket, key = split_uri(uri)
    if scheme in ("", "file"):
        return pafs.LocalFileSystem(), os.path.abspath(local_path(uri))
    path = f"{bucket}/{key}".rstrip("/")
    if scheme == "s3":
        st = s3_settings(io_cfg, bucket)
        kw: dict[str, Any] = {
            "region": st.region,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=st.max_attempts),
            "allow_delayed_open": True,
        }
        if st.endpoint:
            scheme_, _, host = st.endpoint.partition("://")
            kw.update(endpoint_override=host or scheme_, scheme=scheme_ if host else "https")
        if st.access_key:
            kw.update(access_key=st.access_key, secret_key=st.secret_key)
            if st.session_token:
                kw["session_token"] = st.session_token
        return pafs.S3FileSystem(**kw), path
    if scheme == "gs":
        return pafs.GcsFileSystem(), path
    raise UserError(f"cannot use {uri!r} as a folder: use a local path, file://, s3:// or gs://")


def is_local_fs(fs) -> bool:
    from pyarrow import fs as pafs

    return isinstance(fs, pafs.LocalFileSystem)


@functools.cache
def _umask() -> int:
    # read once: os.umask can only be read by setting it (process-wide, racy with threads)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(fs, path: str, counters: dict | None = None):
    """A binary stream to ``path`` on ``fs``; readers never see half a file, and a writer that
    raises leaves nothing behind.

    Local disk: a hidden temp file in the same folder, made readable like any written file
    (mkstemp makes 0600) and renamed into place. Object store (no rename): the bytes spool in
    RAM (then a local temp file) and the final key is PUT once the writer succeeded, under
    :func:`retry_fs`; pyarrow's streams would complete an upload on close even after an error.
    """
    if is_local_fs(fs):
        parent, name = os.path.split(path)
        os.makedirs(parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        yield spool

        def put():
            spool.seek(0)
            with fs.open_output_stream(path) as out:
                shutil.copyfileobj(spool, out, 1 << 20)

        retry_fs(put, counters)


def atomic_write(fs, path: str, data: bytes, counters: dict | None = None) -> None:
    """``data`` to ``path`` through :func:`atomic_output`."""
    with atomic_output(fs, path, counters) as f:
        f.write(data)


def folder_output(uri: str, io_cfg: IOConfig | None = None, counters: dict | None = None):
    """``open_output(name)`` for files directly inside the folder at ``uri``, each written
    through :func:`atomic_output` (what ``pipeline.shards.ShardWriter`` writes through)."""
    fs, root = filesystem(uri, io_cfg)

    def open_output(name: str):
        return atomic_output(fs, f"{root.rstrip('/')}/{name}", counters)

    return open_output


# --------------------------------------------------------------------------------------------
# Rows of a JSONL or Parquet file at a URI (seed files, benchmark sets)
# --------------------------------------------------------------------------------------------


def read_rows(
    uri: str | os.PathLike,
    io_cfg: IOConfig | None = None,
    what: str = "file",
    columns=None,
    fix: str = "",
) -> Iterator[dict]:
    """The rows of a JSONL (plain, .gz or .zst) or Parquet file at any URI, as dicts.

    The format is told by the bytes, not the name. ``columns`` limits a Parquet read (an
    OpenWebMath file has many). ``what`` names the file in errors ("seed file", "benchmark"),
    ``fix`` says what to do: a file that cannot be read, or a line that is not JSON, is a
    UserError naming it.
    """
    uri = os.fspath(uri)
    try:
        data = read_bytes(uri, io_cfg)
    except OSError as e:
        raise UserError(f"cannot read {what} {uri!r}: {e}{fix}") from e
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard  # optional: only for .zst files

        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    if data[:4] == b"PAR1":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(io.BytesIO(data))
        names = pf.schema_arrow.names
        cols = [c for c in columns if c in names] if columns else None
        for batch in pf.iter_batches(columns=cols):
            yield from batch.to_pylist()
        return
    # split on b"\n" only: str.splitlines() also splits at U+2028 and friends, which JSON
    # strings may hold unescaped (the bundled negatives do)
    for n, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line.decode("utf-8", "replace"))
        except json.JSONDecodeError as e:
            raise UserError(f"{what} {uri!r} line {n} is not JSON: {e}") from None
