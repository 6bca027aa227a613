"""decode_html: header charset, <meta charset>, BOM, detection; wrong declarations fall back;
never raises."""

from __future__ import annotations

import codecs

import pytest

from pipeline.charset import decode_html, header_charset, meta_charset


def same(a: str, b: str) -> bool:
    return codecs.lookup(a).name == codecs.lookup(b).name


TEXT = "Die Größe der Menge ist überabzählbar: für alle ε > 0 gilt |x − y| < ε. Ça marche, señor."


def test_header_charset_wins_when_it_decodes():
    body = TEXT.encode("iso-8859-15", "replace")
    text, cs = decode_html(body, "text/html; charset=ISO-8859-15")
    assert same(cs, "iso-8859-15")
    assert "Größe" in text and "überabzählbar" in text


def test_meta_charset_when_no_header():
    body = b'<html><head><meta charset="windows-1252"></head><body>' + "café – naïve".encode(
        "cp1252"
    )
    text, cs = decode_html(body)
    assert same(cs, "windows-1252") and "café – naïve" in text
    body2 = (
        b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>'
        + "Привет, мир".encode("koi8-r")
    )
    text2, cs2 = decode_html(body2)
    assert same(cs2, "koi8-r") and "Привет, мир" in text2


def test_wrong_declared_charset_falls_back_to_detection():
    # says UTF-8 but is windows-1252: a strict UTF-8 decode fails, detection decides
    body = ("<html><body><p>" + TEXT.replace("ε", "e").replace("−", "-") * 5 + "</p>").encode(
        "cp1252"
    )
    text, cs = decode_html(body, "text/html; charset=utf-8")
    assert not same(cs, "utf-8")
    assert "Größe" in text and "überabzählbar" in text and "\ufffd" not in text


def test_utf8_declared_as_latin1_is_read_as_declared_when_it_decodes():
    # latin-1 decodes every byte sequence, so a declared single-byte charset always "works";
    # WHATWG maps the label to windows-1252, as browsers do
    body = "naïve".encode()
    _, cs = decode_html(body, "text/html; charset=iso-8859-1")
    assert same(cs, "windows-1252")


@pytest.mark.parametrize(
    "bom, enc",
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_bom_wins(bom, enc):
    body = bom + "<p>x ∈ ℝ</p>".encode(enc)
    text, cs = decode_html(body, "text/html; charset=iso-8859-1")
    assert same(cs, enc) and text == "<p>x ∈ ℝ</p>"


def test_undeclared_non_utf8_is_detected():
    body = (
        "<html><body>" + "Шифр Цезаря — один из самых простых методов шифрования. " * 20
    ).encode("cp1251")
    text, cs = decode_html(body)
    assert "Цезаря" in text
    assert same(cs, "windows-1251")


@pytest.mark.parametrize(
    "body, ctype",
    [
        (b"", ""),
        (b"\xff\xfe\xfd" * 1000, "text/html; charset=utf-8"),
        (bytes(range(256)) * 100, ""),
        (b"<p>x</p>", "text/html; charset=no-such-charset"),
        (b"<meta charset='x-user-defined\x00'>\x80\x81", ""),
    ],
)
def test_never_raises(body, ctype):
    text, cs = decode_html(body, ctype)
    assert isinstance(text, str) and codecs.lookup(cs)


def test_unknown_labels_are_ignored():
    assert header_charset("text/html; charset=bogus") is None
    assert header_charset("text/html") is None
    assert meta_charset(b"<html><body>no meta</body>") is None
    assert same(header_charset('text/html; charset="UTF-8"'), "utf-8")
