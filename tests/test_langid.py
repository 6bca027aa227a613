"""lid.176 is read from the copy bundled in pipeline/data/ (the bytes its SOURCES.md names)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pipeline
from pipeline.langid import detect_language, lid_model_path

DATA = Path(pipeline.__file__).resolve().parent / "data"


def test_bundled_model_is_the_documented_file():
    path = Path(lid_model_path())
    assert path.parent == DATA
    sources = (DATA / "lid.176.SOURCES.md").read_text()
    want = re.search(r"sha256 ([0-9a-f]{64})", sources).group(1)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == want
    assert "Attribution-ShareAlike 3.0" in (DATA / "lid.176.LICENSE.CC-BY-SA-3.0.txt").read_text()


def test_detects_the_language_of_real_sentences():
    # one sentence about the derivative in each language
    en = "In mathematics, the derivative is a fundamental tool that quantifies the sensitivity"
    fr = "En mathématiques, la dérivée d'une fonction d'une variable réelle mesure l'ampleur"
    de = "Die Ableitung ist ein grundlegender Begriff der Differentialrechnung"
    for text, lang in ((en, "en"), (fr, "fr"), (de, "de")):
        got, p = detect_language(text)
        assert got == lang and p > 0.5, (text, got, p)
    assert detect_language("   ") == ("und", 0.0)
