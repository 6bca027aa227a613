"""Hostile pages (issue 11): entity bombs, external entities, nesting and size bombs.

Every page goes through both extraction paths. MathML is read from lexbor's HTML DOM (no XML
parser, no DTD, no entities); these tests prove that nothing expands, no file is read and no
connection is made, and that per-page limits drop a page with a reason instead of hanging.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pipeline.config import ExtractConfig
from pipeline.html_text import Extraction, exceeds_depth, extract_text
from pipeline.records import EMPTY_TEXT, TIMEOUT, TOO_DEEP, TOO_LARGE, Dropped

MODES = ("fast", "careful")
PROSE = "<p>" + "A paragraph of ordinary prose about prime numbers and their gaps. " * 8 + "</p>"


def billion_laughs() -> str:
    ents = ['<!ENTITY lol "lol">']
    for i in range(1, 10):
        prev = f"&lol{i - 1};" if i > 1 else "&lol;"
        ents.append(f'<!ENTITY lol{i} "{prev * 10}">')
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n' + "\n".join(ents) + "\n]>\n"
        "<html><body><article>" + PROSE + "<p>Bomb: &lol9;</p>"
        '<math><mi>&lol9;</mi><annotation-xml encoding="MathML-Content">&lol9;</annotation-xml>'
        "</math>" + PROSE + "</article></body></html>"
    )


def external_entity_page(target: str) -> str:
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "{target}"><!ENTITY % p SYSTEM "{target}"> %p;]>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        f'<link rel="stylesheet" href="{target}"></head><body><article>'
        + PROSE
        + "<p>Entity: &xxe;</p>"
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>&xxe;</mi></math>'
        f'<script type="math/mml"><math><!DOCTYPE m [<!ENTITY e SYSTEM "{target}">]><mi>&e;</mi>'
        "</math></script>"
        f'<span class="MathJax" data-mathml="&lt;math&gt;&lt;mi&gt;&amp;xxe;&lt;/mi&gt;&lt;/math&gt;">x</span>'
        f'<img src="{target}" alt="x^2" class="latex">' + PROSE + "</article></body></html>"
    )


@pytest.mark.parametrize("mode", MODES)
def test_billion_laughs_does_not_expand(mode):
    t0 = time.monotonic()
    res = extract_text(billion_laughs(), mode=mode)
    assert time.monotonic() - t0 < 30
    assert isinstance(res, Extraction)
    # a single expansion would be 10^9 "lol"s; the page itself spells "lol" 11 times
    assert res.text.count("lol") < 50
    assert len(res.text) < 10_000


@pytest.mark.parametrize("mode", MODES)
def test_external_file_entity_is_never_read(mode, tmp_path):
    secret = tmp_path / "secret.txt"
    marker = "MATHMINE-SECRET-7f3a9c"
    secret.write_text(marker + "\n")
    res = extract_text(external_entity_page(secret.as_uri()), mode=mode)
    assert isinstance(res, Extraction)
    assert marker not in res.text and marker not in res.title


@pytest.fixture
def listener():
    """A local TCP server that records every connection it gets."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    hits: list[tuple] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
            except OSError:
                continue
            hits.append(addr)
            conn.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield srv.getsockname()[1], hits
    stop.set()
    th.join(timeout=2)
    srv.close()


@pytest.mark.parametrize("mode", MODES)
def test_network_entity_opens_no_connection(mode, listener):
    port, hits = listener
    # prove the listener works, so "no hits" below means something
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    deadline = time.monotonic() + 2
    while not hits and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(hits) == 1
    res = extract_text(external_entity_page(f"http://127.0.0.1:{port}/evil.dtd"), mode=mode)
    assert isinstance(res, Extraction)
    time.sleep(0.5)  # a fetch would be synchronous, but give a stray thread time to show up
    assert len(hits) == 1, f"extraction connected to the listener: {hits[1:]}"


def deep_page(depth: int, tag: str = "div") -> str:
    return (
        f"<html><body>{PROSE}"
        + f"<{tag}>" * depth
        + "deep"
        + f"</{tag}>" * depth
        + "</body></html>"
    )


@pytest.mark.parametrize("mode", MODES)
def test_100k_deep_page_is_dropped_quickly(mode):
    t0 = time.monotonic()
    res = extract_text(deep_page(100_000), mode=mode)
    assert isinstance(res, Dropped) and res.reason == TOO_DEEP
    # resiliparse's main-content pass alone would take minutes on this page
    assert time.monotonic() - t0 < 20


def test_depth_limit_is_exact_on_the_dom():
    cfg = ExtractConfig(max_dom_depth=300)
    # html > body > 297 divs: the deepest div has 298 element ancestors
    ok = extract_text(deep_page(297), config=cfg)
    assert isinstance(ok, Extraction) and "deep" in ok.text
    bad = extract_text(deep_page(400), config=cfg)
    assert isinstance(bad, Dropped) and bad.reason == TOO_DEEP
    # stray close tags cannot hide nesting: the check runs on the parsed DOM
    sneaky = "<html><body>" + "<div></span></p>" * 500 + "x" + "</div>" * 500 + "</body></html>"
    res = extract_text(sneaky, config=cfg)
    assert isinstance(res, Dropped) and res.reason == TOO_DEEP
    # implicitly closed elements do not pile up: 2,000 unclosed <p> are siblings
    flat = "<html><body>" + "<p>para " * 2000 + "</body></html>"
    assert isinstance(extract_text(flat, config=cfg), Extraction)


def test_exceeds_depth_skips_small_pages():
    from resiliparse.parse.html import HTMLTree

    html = deep_page(50)
    assert not exceeds_depth(HTMLTree.parse(html), html, 1000)  # fewer tags than the limit
    assert exceeds_depth(HTMLTree.parse(html), html, 20)


@pytest.mark.parametrize("mode", MODES)
def test_50mb_page_is_dropped_before_parsing(mode):
    page = (
        "<html><body>" + "<p>" + "x" * 1000 + "</p>" * 1 + "<p>y</p>" * 6_000_000 + "</body></html>"
    )
    assert len(page) > 50_000_000 - 5_000_000
    t0 = time.monotonic()
    res = extract_text(page, mode=mode)
    assert isinstance(res, Dropped) and res.reason == TOO_LARGE
    assert time.monotonic() - t0 < 2  # size is checked before any parsing


@pytest.mark.parametrize("mode", MODES)
def test_time_limit_drops_with_timeout(mode):
    page = "<html><body>" + PROSE * 50 + "<math><mi>x</mi></math> " * 2000 + "</body></html>"
    res = extract_text(page, mode=mode, config=ExtractConfig(page_timeout_s=1e-6))
    assert isinstance(res, Dropped) and res.reason == TIMEOUT
    ok = extract_text(page, mode=mode, config=ExtractConfig(page_timeout_s=0))  # 0 = no limit
    assert isinstance(ok, Extraction) and ok.formulas == 2000


@pytest.mark.parametrize("mode", MODES)
def test_page_without_text_is_empty_text(mode):
    res = extract_text(
        "<html><head><title>t</title></head><body><div></div></body></html>", mode=mode
    )
    assert isinstance(res, Dropped) and res.reason == EMPTY_TEXT


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError):
        extract_text("<p>x</p>", mode="turbo")
