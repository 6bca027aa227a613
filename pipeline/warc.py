"""Read WARC files into :class:`RawRecord` (HTML responses) and :class:`Dropped` (everything else).

Every record of the file is accounted for: one item is yielded per WARC record, plus one
``Dropped(BAD_RECORD)`` for each region of the file that could not be parsed (a truncated gzip
member, garbage between members, a file that is not a WARC). Nothing here raises on bad input.

What a stranger's record may cost is bounded:

* a record whose WARC ``Content-Length`` exceeds ``max_warc_record_bytes`` is never read into
  memory (FastWARC skips it in streamed chunks) and is dropped as ``too_large``;
* an HTTP body is inflated (``Content-Encoding`` gzip / deflate / br) incrementally, at most
  ``_OUT_CHUNK`` bytes per step, and cut as soon as it passes ``max_page_bytes``, so a body of a
  few hundred KB that inflates to gigabytes costs a few MB of memory and milliseconds.

Crawl quirks handled (each seen in the real files under tests/data/warc):

* WARC/0.17 and 0.18 files, malformed ``WARC-Date`` values, ``WARC-Date: null``;
* HTTP header blocks terminated by bare LF (ClueWeb09) -> FastWARC ``quirks_mode``;
* ``Content-Encoding: gzip`` declared on bodies that were stored already decoded (ClueWeb09):
  a body without the gzip magic is taken as is, as browsers and warcio do;
* ``Transfer-Encoding: chunked`` bodies stored raw (pywb, wget): de-chunked leniently;
* response records whose block is raw HTML with no HTTP header block (Webis copycat): kept when
  the WARC ``Content-Type`` says HTML or the bytes sniff as HTML;
* ``dns:`` response records (Heritrix): ``not_html``.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from fastwarc.warc import ArchiveIterator, WarcRecordType

from pipeline.config import ExtractConfig
from pipeline.records import (
    BAD_RECORD,
    HTTP_STATUS,
    NOT_HTML,
    NOT_RESPONSE,
    TOO_LARGE,
    Dropped,
    RawRecord,
)

HTML_MIME_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml", "text/xhtml"}
)
# Content types that say nothing about the bytes: decide by sniffing the body.
UNKNOWN_MIME_TYPES = frozenset(
    {"", "application/octet-stream", "unknown/unknown", "application/unknown", "*/*"}
)

_OUT_CHUNK = 1 << 20  # max bytes one inflate step may produce: the memory bound per step
_READ_CHUNK = 1 << 20
_SNIFF_BYTES = 1024
_GZIP_MAGIC = b"\x1f\x8b\x08"
_RESYNC_SCAN_CHUNK = 1 << 20


# FastWARC 2 is Rust: a panic surfaces as pyo3's PanicException, which derives from
# BaseException (not Exception) and is not importable by name, so catch it by its class name.
def _reraise_fatal(e: BaseException) -> None:
    if not isinstance(e, Exception) and type(e).__name__ != "PanicException":
        raise e  # KeyboardInterrupt, SystemExit, GeneratorExit


class _TooLarge(Exception):
    pass


class _Truncated(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Public API


def iter_records(
    stream: BinaryIO, warc_path: str, config: ExtractConfig
) -> Iterator[RawRecord | Dropped]:
    """Yield one RawRecord or Dropped per record of a (per-record gzipped or plain) WARC stream.

    ``warc_offset`` is the byte offset of the record (its gzip member) in the file, so
    :func:`read_record_at` can re-read it; ``warc_length`` is its size on disk.
    A region that cannot be parsed yields one ``Dropped(BAD_RECORD)``; if the stream is seekable
    and gzipped, reading resumes at the next gzip member, otherwise the iteration ends there.
    """
    if not _seekable(stream):
        stream = _ForwardReader(stream)  # FastWARC asks tell() once; a pipe cannot answer
    start = _tell(stream)
    gzipped = _peek(stream, 3) == _GZIP_MAGIC
    pos = start
    seen_any = False
    while True:
        pending: list[RawRecord | Dropped] = []  # held until the next record's offset is known
        last_offset = -1
        failed = False
        truncated = False
        detail = ""
        it = _archive_iterator(stream)
        while True:
            try:
                rec = next(it)
            except StopIteration:
                break
            except BaseException as e:  # FastWARC raises OSError (or panics) on broken input
                _reraise_fatal(e)
                failed, detail = True, f"{type(e).__name__}: {e}"
                break
            for item in pending:
                _set_length(item, rec.stream_pos)
                yield item
            pending = []
            last_offset = rec.stream_pos
            seen_any = True
            item = _convert(rec, warc_path, config)
            pending.append(item)
            if (
                isinstance(item, Dropped)
                and item.reason == BAD_RECORD
                and "truncated" in item.detail
            ):
                truncated = True  # the stream ended inside this record: nothing after it
                break
        end = _tell(stream) if not failed else -1
        for item in pending:
            _set_length(item, end)
            yield item
        if not failed:
            if truncated:
                return
            if not seen_any and _tell(stream) > start:
                yield Dropped(BAD_RECORD, warc_offset=start, detail="no WARC record found")
            elif gzipped and last_offset >= 0 and _seekable(stream):
                tail = _unread_tail(stream, last_offset)
                if tail:
                    yield Dropped(BAD_RECORD, warc_offset=last_offset, detail=tail)
            return
        resumed_from = last_offset if last_offset >= 0 else pos
        yield Dropped(BAD_RECORD, warc_offset=resumed_from, detail=f"unreadable: {detail}")
        if not gzipped or not _seekable(stream):
            return
        nxt = _find_gzip_member(stream, resumed_from + 1)
        # Skip over members that fail again straight away without yielding a record: they belong
        # to the same broken region, already counted by the one BAD_RECORD above.
        while nxt >= 0 and not _starts_readable_record(stream, nxt):
            nxt = _find_gzip_member(stream, nxt + 1)
        if nxt < 0:
            return
        stream.seek(nxt)
        pos = nxt


def read_record_at(
    stream: BinaryIO, offset: int, warc_path: str, config: ExtractConfig
) -> RawRecord | Dropped:
    """Seek to ``offset`` (a record's ``warc_offset``) and read that one record."""
    try:
        stream.seek(offset)
        it = _archive_iterator(stream)
        rec = next(it)
    except StopIteration:
        return Dropped(BAD_RECORD, warc_offset=offset, detail="no record at offset")
    except BaseException as e:
        _reraise_fatal(e)
        return Dropped(BAD_RECORD, warc_offset=offset, detail=f"{type(e).__name__}: {e}")
    item = _convert(rec, warc_path, config)
    if isinstance(item, RawRecord):
        item.warc_offset = offset
        try:
            nxt = next(it)
            item.warc_length = max(nxt.stream_pos - offset, 0)
        except StopIteration:
            item.warc_length = max(_tell(stream) - offset, 0)  # last record: up to the end
        except BaseException as e:
            _reraise_fatal(e)
            item.warc_length = 0  # a broken tail after the record: length unknown
    return item


# --------------------------------------------------------------------------------------------
# Record conversion


def _archive_iterator(stream: BinaryIO) -> ArchiveIterator:
    # quirks_mode: LF-only HTTP headers (ClueWeb09) parse instead of becoming garbage headers.
    # fsspec_args=False: the stream is ours; never let FastWARC open anything itself.
    kwargs = dict(
        record_types=WarcRecordType.any_type,
        parse_http=True,
        quirks_mode=True,
        max_header_len=64 << 10,
    )
    try:
        return iter(ArchiveIterator(stream, fsspec_args=False, **kwargs))
    except TypeError:  # FastWARC < 0.15 has no fsspec_args
        return iter(ArchiveIterator(stream, **kwargs))


def _convert(rec, warc_path: str, config: ExtractConfig) -> RawRecord | Dropped:
    offset = rec.stream_pos
    url = ""
    try:
        headers = rec.headers
        url = _clean_url(headers.get("WARC-Target-URI", "") or "")
        if rec.record_type != WarcRecordType.response:
            return _consumed(rec, Dropped(NOT_RESPONSE, url, offset, _record_type_name(rec)))
        return _convert_response(rec, headers, url, warc_path, config)
    except _Truncated as e:
        return Dropped(BAD_RECORD, url, offset, f"truncated: {e}")
    except BaseException as e:  # one bad record never costs the file
        _reraise_fatal(e)
        return Dropped(BAD_RECORD, url, offset, f"{type(e).__name__}: {e}")


def _convert_response(rec, headers, url, warc_path, config) -> RawRecord | Dropped:
    offset = rec.stream_pos
    remaining = rec.content_length  # bytes of the block left after the HTTP headers
    warc_ct = (headers.get("Content-Type", "") or "").strip()
    http = rec.http_headers
    encodings: list[str] = []
    chunked = False
    if http is None:
        if url.startswith("dns:") or warc_ct.lower().startswith("text/dns"):
            return _consumed(rec, Dropped(NOT_HTML, url, offset, warc_ct))
        if warc_ct.lower().startswith("application/http"):
            return _consumed(rec, Dropped(BAD_RECORD, url, offset, "unparsable HTTP header block"))
        # A response block without HTTP headers (copycat-style): the WARC type is the page type.
        status, content_type = 0, warc_ct
    else:
        status = int(http.status_code or 0)
        content_type = (http.get("Content-Type", "") or "").strip()
        if not 200 <= status < 300:
            return _consumed(rec, Dropped(HTTP_STATUS, url, offset, str(status)))
        encodings = _split_tokens(http.get("Content-Encoding", "") or "")
        chunked = "chunked" in _split_tokens(http.get("Transfer-Encoding", "") or "")
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime not in HTML_MIME_TYPES and mime not in UNKNOWN_MIME_TYPES:
        return _consumed(rec, Dropped(NOT_HTML, url, offset, mime))
    if remaining > config.max_warc_record_bytes:
        return Dropped(TOO_LARGE, url, offset, f"record block {remaining} bytes")
    identity = not chunked and all(e == "identity" for e in encodings)
    if identity and remaining > config.max_page_bytes:
        return Dropped(TOO_LARGE, url, offset, f"body {remaining} bytes")

    raw = _read_exactly(rec.reader, remaining)
    try:
        body = _dechunk(raw) if chunked else raw
        body = decode_content(body, encodings, config.max_page_bytes)
    except _TooLarge as e:
        return Dropped(TOO_LARGE, url, offset, str(e))
    except ValueError as e:
        return Dropped(BAD_RECORD, url, offset, str(e))
    if mime not in HTML_MIME_TYPES and not sniff_html(body):
        return Dropped(NOT_HTML, url, offset, mime or "unknown, not sniffed as HTML")
    if looks_binary(body):
        return Dropped(NOT_HTML, url, offset, f"binary bytes served as {mime or 'unknown'}")

    digest = (headers.get("WARC-Payload-Digest", "") or "").strip()
    if not digest:
        digest = "sha1:" + base64.b32encode(hashlib.sha1(raw).digest()).decode("ascii")
    return RawRecord(
        url=url,
        warc_path=warc_path,
        warc_offset=offset,
        warc_length=0,
        warc_date=_clean_date(headers.get("WARC-Date", "") or ""),
        warc_record_id=(headers.get("WARC-Record-ID", "") or "").strip(),
        payload_digest=digest,
        http_status=status,
        content_type=content_type,
        body=body,
    )


def _consumed(rec, item: Dropped) -> Dropped:
    """Skip the rest of a record we do not keep, noticing if the file ends inside it."""
    expected = rec.content_length
    got = rec.reader.consume()
    if got is not None and got < expected:
        return Dropped(BAD_RECORD, item.url, item.warc_offset, f"truncated: {got} of {expected}")
    return item


def _read_exactly(reader, n: int) -> bytes:
    parts = []
    got = 0
    while got < n:
        chunk = reader.read(min(_READ_CHUNK, n - got))
        if not chunk:
            raise _Truncated(f"{got} of {n} body bytes")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _record_type_name(rec) -> str:
    t = rec.headers.get("WARC-Type", "") or ""
    return t.strip() or str(rec.record_type)


def _clean_url(url: str) -> str:
    url = url.strip()
    if url.startswith("<") and url.endswith(">"):  # WARC/0.17-era and some writers bracket URIs
        url = url[1:-1].strip()
    return url


def _clean_date(value: str) -> str:
    value = value.strip()
    return "" if value.lower() in ("null", "none", "-") else value


def _split_tokens(value: str) -> list[str]:
    return [t.strip().lower() for t in value.split(",") if t.strip()]


def _set_length(item: RawRecord | Dropped, next_offset: int) -> None:
    if isinstance(item, RawRecord) and next_offset > item.warc_offset:
        item.warc_length = next_offset - item.warc_offset


# --------------------------------------------------------------------------------------------
# Body decoding


def sniff_html(body: bytes) -> bool:
    """True if the first bytes look like an HTML document (for responses without a usable type)."""
    head = body[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        b"<html" in head or b"<body" in head or b"<title" in head
    )


# C0 control bytes that never occur in text (tab, LF, FF, CR and ESC, used by ISO-2022, do)
_BINARY_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_BINARY_SHARE = 0.05


def looks_binary(body: bytes) -> bool:
    """True for bytes that are not text in any charset (images, archives served as text/html).

    UTF-16/32 pages (BOM, or a NUL beside every ASCII byte) are text; otherwise more than 5%
    control bytes in the first 4 KB means binary: HTML in any 8-bit charset has almost none.
    """
    head = body[:4096]
    if not head or head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False
    nul = head.count(0)
    if nul and (
        head[0::2].count(0) > 0.4 * len(head) / 2 or head[1::2].count(0) > 0.4 * len(head) / 2
    ):
        return False  # BOM-less UTF-16 (or UTF-32): a NUL in every other byte
    bad = len(head) - len(head.translate(None, _BINARY_BYTES))
    return bad > _BINARY_SHARE * len(head)


def decode_content(body: bytes, encodings: list[str], max_bytes: int) -> bytes:
    """Undo HTTP Content-Encoding (applied in order, so undone in reverse), capped at max_bytes.

    Raises ``_TooLarge`` as soon as the output passes ``max_bytes`` and ``ValueError`` for an
    encoding that cannot be undone. A body declared compressed that is not (stored decoded by
    the crawler) is returned as is.
    """
    for enc in reversed(encodings):
        if enc in ("identity", ""):
            continue
        if enc in ("gzip", "x-gzip"):
            body = _inflate_gzip(body, max_bytes)
        elif enc == "deflate":
            body = _inflate_deflate(body, max_bytes)
        elif enc == "br":
            body = _inflate_brotli(body, max_bytes)
        elif sniff_html(body):
            continue  # unknown coding label on a body that is plainly HTML already
        else:
            raise ValueError(f"unsupported content-encoding {enc!r}")
    if len(body) > max_bytes:
        raise _TooLarge(f"body {len(body)} bytes")
    return body


def _inflate_gzip(data: bytes, max_bytes: int) -> bytes:
    if not data.startswith(b"\x1f\x8b"):
        return data  # declared gzip, stored decoded (ClueWeb09 does this for every record)
    out = bytearray()
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            _inflate_into(d, data, out, max_bytes)
        except zlib.error as e:
            if not out:
                raise ValueError(f"bad gzip body: {e}") from None
            break  # corrupt tail after good data: keep what decoded, like browsers do
        data = d.unused_data if d.eof else b""
        if data and not data.startswith(b"\x1f\x8b"):
            break  # trailing garbage after the last member
    return bytes(out)


def _inflate_deflate(data: bytes, max_bytes: int) -> bytes:
    # "deflate" is zlib-wrapped per RFC 9110, but many servers send raw deflate.
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        out = bytearray()
        try:
            _inflate_into(zlib.decompressobj(wbits), data, out, max_bytes)
            return bytes(out)
        except zlib.error:
            if out:
                return bytes(out)
    if sniff_html(data):
        return data
    raise ValueError("bad deflate body")


def _inflate_into(d, data: bytes, out: bytearray, max_bytes: int) -> None:
    buf = data
    while True:
        chunk = d.decompress(buf, _OUT_CHUNK)
        out += chunk
        if len(out) > max_bytes:
            raise _TooLarge(f"body inflates past {max_bytes} bytes")
        buf = d.unconsumed_tail
        if d.eof or (not buf and not chunk):
            return


def _inflate_brotli(data: bytes, max_bytes: int) -> bytes:
    try:
        import brotli
    except ImportError:  # pragma: no cover - brotli is a declared dependency
        raise ValueError("brotli body but the brotli package is missing") from None
    d = brotli.Decompressor()
    out = bytearray()
    try:
        try:
            out += d.process(data, output_buffer_limit=_OUT_CHUNK)
            while len(out) <= max_bytes and not d.is_finished() and not d.can_accept_more_data():
                out += d.process(b"", output_buffer_limit=_OUT_CHUNK)
        except TypeError:
            # brotli < 1.2 has no output limit: feed small input pieces so each step stays small
            for i in range(0, len(data), 256):
                out += d.process(data[i : i + 256])
                if len(out) > max_bytes:
                    break
    except brotli.error as e:
        if not out:
            if sniff_html(data):
                return data  # declared br, stored decoded
            raise ValueError(f"bad brotli body: {e}") from None
    if len(out) > max_bytes:
        raise _TooLarge(f"body inflates past {max_bytes} bytes")
    return bytes(out)


def _dechunk(data: bytes) -> bytes:
    """Undo HTTP/1.1 chunked transfer coding; a body that is not really chunked is kept as is."""
    out = bytearray()
    pos = 0
    n = len(data)
    while pos < n:
        eol = data.find(b"\n", pos, pos + 1024)
        if eol < 0:
            break
        line = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            if pos == 0:
                return data  # Transfer-Encoding header lies: the crawler stored it de-chunked
            break
        if size == 0:
            break
        start = eol + 1
        out += data[start : start + size]
        pos = start + size
        # skip the CRLF after the chunk data
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Stream helpers


def _tell(stream: BinaryIO) -> int:
    try:
        return stream.tell()
    except Exception:
        return 0


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except Exception:
        return False


def _peek(stream: BinaryIO, n: int) -> bytes:
    if not _seekable(stream):
        peek = getattr(stream, "peek", None)
        return peek(n)[:n] if peek else b""
    pos = stream.tell()
    head = stream.read(n)
    stream.seek(pos)
    return head


def _find_gzip_member(stream: BinaryIO, start: int) -> int:
    """Offset of the next gzip member header at or after ``start``, or -1."""
    stream.seek(start)
    base = start
    tail = b""
    while True:
        chunk = stream.read(_RESYNC_SCAN_CHUNK)
        if not chunk:
            return -1
        buf = tail + chunk
        i = buf.find(_GZIP_MAGIC)
        if i >= 0:
            return base - len(tail) + i
        tail = buf[-2:]
        base += len(chunk)


def _starts_readable_record(stream: BinaryIO, offset: int) -> bool:
    try:
        stream.seek(offset)
        next(_archive_iterator(stream))
        return True
    except StopIteration:
        return False
    except BaseException as e:
        _reraise_fatal(e)
        return False


def _unread_tail(stream: BinaryIO, last_offset: int) -> str:
    """Describe bytes after the last record's gzip member that FastWARC silently ignored.

    FastWARC ends quietly on a file cut inside a gzip header; re-inflating the last member
    (bounded: a record FastWARC already read) finds where it ends, and anything but padding
    after that is a broken tail worth counting.
    """
    try:
        size = stream.seek(0, 2)
        stream.seek(last_offset)
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        consumed = 0
        while not d.eof:
            chunk = stream.read(_RESYNC_SCAN_CHUNK)
            if not chunk:
                return ""  # the last member itself is incomplete: reported as truncated already
            buf = chunk
            while buf and not d.eof:
                d.decompress(buf, _OUT_CHUNK)
                buf = d.unconsumed_tail
            consumed += len(chunk) - len(d.unused_data) - len(buf)
        end = last_offset + consumed
        if end >= size:
            return ""
        stream.seek(end)
        rest = stream.read(min(size - end, 1 << 16))
        if not rest.strip(b"\x00\r\n \t"):
            return ""
        return f"unreadable tail: {size - end} bytes after the last record"
    except (OSError, zlib.error, ValueError):
        return ""


class _ForwardReader:
    """A forward-only stream with the tell() FastWARC asks for (bytes read so far)."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return False
