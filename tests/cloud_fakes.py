"""Local stand-ins for the cloud, all on 127.0.0.1: a moto server, a fault-injecting HTTP proxy
in front of it, and a static HTTP file server with Range support (and the same faults).

Used by tests/test_cloud*.py only. Nothing here reaches the internet.
"""

from __future__ import annotations

import http.client
import os
import random
import socket
import socketserver
import struct
import threading
from contextlib import contextmanager
from pathlib import Path

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIATESTINGFAKEKEY01",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-do-not-print-0123456789",
    "AWS_SESSION_TOKEN": "testing-session-token-do-not-print",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

SLOWDOWN_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>fault</RequestId></Error>"
)


@contextmanager
def fake_aws_env():
    """Fake credentials for the duration of a fixture; restores the environment after."""
    saved = {k: os.environ.get(k) for k in (*FAKE_AWS_ENV, "AWS_ENDPOINT_URL", "AWS_PROFILE")}
    os.environ.update(FAKE_AWS_ENV)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def moto_server():
    """A moto server in this process on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the client sees 'connection reset by peer'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _read_request(rfile) -> tuple[str, str, list[tuple[str, str]], bytes] | None:
    line = rfile.readline(65537)
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers = []
    length = 0
    while True:
        h = rfile.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    body = rfile.read(length) if length else b""
    return method, path, headers, body


class FaultPlan:
    """Which requests fail and how: deterministic (seeded), counted for the assertions.

    Only requests of ``methods`` (GETs: the WARC downloads) whose path contains ``target`` are
    faulted, so bucket set-up calls pass through untouched.
    """

    def __init__(
        self,
        target: str,
        p_503: float,
        p_reset: float,
        seed: int = 7,
        script: tuple = (),
        methods: tuple = ("GET",),
    ):
        self.target, self.p_503, self.p_reset = target, p_503, p_reset
        self.methods = methods
        self.script = list(script)  # the first answers, in order, before the random ones
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts = {"requests": 0, "slowdown": 0, "reset": 0, "ok": 0}

    def decide(self, method: str, path: str) -> str:
        with self.lock:
            if method not in self.methods or self.target not in path:
                return "pass"
            self.counts["requests"] += 1
            r = self.rng.random()
            if self.script:
                kind = self.script.pop(0)
            elif r < self.p_503:
                kind = "slowdown"
            elif r < self.p_503 + self.p_reset:
                kind = "reset"
            else:
                kind = "ok"
            self.counts[kind] += 1
            return kind


def _write_cut(handler, head: bytes, body: bytes, rng) -> None:
    """Send the head and a random non-empty strict prefix of ``body``, then reset the
    connection: a transfer that dies mid-body."""
    handler.wfile.write(head + body[: rng.randint(1, len(body) - 1)])
    handler.wfile.flush()
    _reset(handler.connection)


@contextmanager
def _serving(handler_cls):
    """Serve ``handler_cls`` on 127.0.0.1 in a thread; yields the base URL."""
    server = _Threaded(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Threaded(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def fault_proxy(upstream: str, plan: FaultPlan):
    """An HTTP proxy on 127.0.0.1 in front of ``upstream`` (http://host:port) that answers a
    share of the planned requests with 503 SlowDown or resets the connection mid-body."""
    up_host, up_port = upstream.split("://", 1)[1].split(":")

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            req = _read_request(self.rfile)
            if req is None:
                return
            method, path, headers, body = req
            kind = plan.decide(method, path)
            if kind == "slowdown":
                self.wfile.write(
                    b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                    + f"Content-Length: {len(SLOWDOWN_XML)}\r\n".encode()
                    + b"Connection: close\r\n\r\n"
                    + SLOWDOWN_XML
                )
                return
            conn = http.client.HTTPConnection(up_host, int(up_port), timeout=30)
            fwd = {k: v for k, v in headers if k.lower() not in ("connection", "keep-alive")}
            conn.request(method, path, body=body or None, headers=fwd)
            resp = conn.getresponse()
            data = resp.read()
            out = [f"HTTP/1.1 {resp.status} {resp.reason}\r\n".encode()]
            # a HEAD answer has no body but keeps the object's Content-Length
            length = resp.getheader("Content-Length") if method == "HEAD" else len(data)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                    out.append(f"{k}: {v}\r\n".encode())
            out.append(f"Content-Length: {length}\r\nConnection: close\r\n\r\n".encode())
            conn.close()
            if kind == "reset" and len(data) > 1:
                _write_cut(self, b"".join(out), data, plan.rng)
                return
            self.wfile.write(b"".join(out) + data)

    with _serving(Handler) as url:
        yield url


@contextmanager
def file_server(root: Path, plan: FaultPlan | None = None, honour_range: bool = True):
    """A static HTTP server of ``root`` with Range support, ETags and optional faults."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            req = _read_request(self.rfile)
            if req is None:
                return
            method, path, headers, _ = req
            kind = plan.decide(method, path) if plan else "ok"
            f = root / path.lstrip("/").split("?")[0]
            if kind == "slowdown":
                self.wfile.write(
                    b"HTTP/1.1 503 Slow Down\r\nRetry-After: 0\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )
                return
            if not f.is_file():
                self.wfile.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            data = f.read_bytes()
            rng = dict((k.lower(), v) for k, v in headers).get("range", "")
            status, body, extra = "200 OK", data, ""
            if rng and honour_range:
                first, _, last = rng.split("=", 1)[1].partition("-")
                # "bytes=-N" is the last N bytes (a suffix range, what a Parquet footer read asks)
                start = int(first) if first else max(0, len(data) - int(last))
                if start >= len(data):
                    self.wfile.write(
                        b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n"
                    )
                    return
                status, body = "206 Partial Content", data[start:]
                extra = f"Content-Range: bytes {start}-{len(data) - 1}/{len(data)}\r\n"
            head = (
                f'HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nETag: "v1"\r\n{extra}'
                "Connection: close\r\n\r\n"
            ).encode()
            if kind == "reset" and len(body) > 1:
                _write_cut(self, head, body, plan.rng)
                return
            self.wfile.write(head + body)

    with _serving(Handler) as url:
        yield url


@contextmanager
def gcs_server(objects: dict[tuple[str, str], bytes], plan: FaultPlan | None = None):
    """A minimal Cloud Storage JSON API on 127.0.0.1 (what google-cloud-storage uses when
    STORAGE_EMULATOR_HOST points at it): object metadata, ranged media downloads, multipart
    uploads and listings. ``objects`` is shared and updated by uploads."""
    import email.parser
    import json
    import urllib.parse

    generations: dict[tuple[str, str], int] = {k: 1 for k in objects}

    def meta(bucket: str, name: str) -> dict:
        data = objects[(bucket, name)]
        return {
            "kind": "storage#object",
            "bucket": bucket,
            "name": name,
            "size": str(len(data)),
            "generation": str(generations[(bucket, name)]),
            "contentType": "application/octet-stream",
            "etag": f"e{generations[(bucket, name)]}",
        }

    class Handler(socketserver.StreamRequestHandler):
        def _send(self, status: str, body: bytes, ctype="application/json", extra=""):
            self.wfile.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"{extra}Connection: close\r\n\r\n".encode()
                + body
            )

        def handle(self):
            req = _read_request(self.rfile)
            if req is None:
                return
            method, target, headers, body = req
            hdr = {k.lower(): v for k, v in headers}
            url = urllib.parse.urlsplit(target)
            path = url.path
            q = dict(urllib.parse.parse_qsl(url.query))
            parts = path.split("/")
            if method == "GET" and path.startswith("/download/storage/v1/b/"):
                bucket, name = parts[5], urllib.parse.unquote(parts[7])
                kind = plan.decide(method, name) if plan else "ok"
                if kind == "slowdown":
                    self._send("503 Service Unavailable", b'{"error": {"code": 503}}')
                    return
                data = objects.get((bucket, name))
                if data is None:
                    self._send("404 Not Found", b'{"error": {"code": 404}}')
                    return
                start, end = 0, len(data) - 1
                if "range" in hdr:
                    a, _, b = hdr["range"].split("=", 1)[1].partition("-")
                    start, end = int(a), min(int(b) if b else end, end)
                chunk = data[start : end + 1]
                head = (
                    f"HTTP/1.1 206 Partial Content\r\nContent-Length: {len(chunk)}\r\n"
                    f"Content-Range: bytes {start}-{end}/{len(data)}\r\nConnection: close\r\n\r\n"
                ).encode()
                if kind == "reset" and len(chunk) > 1:
                    _write_cut(self, head, chunk, plan.rng)
                    return
                self.wfile.write(head + chunk)
            elif method == "GET" and path.startswith("/storage/v1/b/") and len(parts) == 7:
                bucket, name = parts[4], urllib.parse.unquote(parts[6])
                if (bucket, name) not in objects:
                    self._send("404 Not Found", b'{"error": {"code": 404}}')
                    return
                self._send("200 OK", json.dumps(meta(bucket, name)).encode())
            elif method == "GET" and path.startswith("/storage/v1/b/") and path.endswith("/o"):
                bucket, prefix = parts[4], q.get("prefix", "")
                items = [
                    meta(b, n) for (b, n) in sorted(objects) if b == bucket and n.startswith(prefix)
                ]
                self._send(
                    "200 OK", json.dumps({"kind": "storage#objects", "items": items}).encode()
                )
            elif method == "POST" and path.startswith("/upload/storage/v1/b/"):
                bucket = parts[5]
                msg = email.parser.BytesParser().parsebytes(
                    f"Content-Type: {hdr['content-type']}\r\n\r\n".encode() + body
                )
                meta_part, data_part = msg.get_payload()
                info = json.loads(meta_part.get_payload(decode=True))
                name = info["name"]
                objects[(bucket, name)] = data_part.get_payload(decode=True)
                generations[(bucket, name)] = generations.get((bucket, name), 0) + 1
                self._send("200 OK", json.dumps(meta(bucket, name)).encode())
            else:
                self._send("501 Not Implemented", b"{}")

    with _serving(Handler) as url:
        yield url
