"""Token counts for exported documents.

With a Hugging Face ``tokenizer.json`` the count is that tokenizer's (no special tokens added,
so counts add up across documents); without one it is a whitespace word count, labelled
``token_kind = "words"`` in every shard row and in the manifest so nobody mistakes it for
tokenizer tokens. The counter pickles only its path and loads the tokenizer lazily, once per
executor process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.errors import UserError

WORDS = "words"


class TokenCounter:
    """``counter(text) -> int``; ``counter.kind`` names what is counted."""

    def __init__(self, tokenizer_path: str = ""):
        self.tokenizer_path = tokenizer_path or ""
        self._tok = None
        if self.tokenizer_path and not Path(self.tokenizer_path).is_file():
            raise UserError(
                f"tokenizer file {self.tokenizer_path!r} does not exist; pass a local "
                "tokenizer.json (export.tokenizer) or '' for word counts"
            )

    @property
    def kind(self) -> str:
        if not self.tokenizer_path:
            return WORDS
        p = Path(self.tokenizer_path)
        # tokenizer.json files are usually named that way; the folder names the model
        label = p.parent.name if p.name == "tokenizer.json" and p.parent.name else p.stem
        return f"tokenizer:{label}"

    def describe(self) -> dict:
        """What the manifest records about the counts."""
        d = {"token_kind": self.kind, "tokenizer_path": self.tokenizer_path or None}
        if self.tokenizer_path:
            d["tokenizer_sha256"] = hashlib.sha256(
                Path(self.tokenizer_path).read_bytes()
            ).hexdigest()
        return d

    def _tokenizer(self):
        if self._tok is None:
            from tokenizers import Tokenizer

            try:
                self._tok = Tokenizer.from_file(self.tokenizer_path)
            except Exception as e:  # tokenizers raises a plain Exception on bad JSON
                raise UserError(
                    f"cannot load tokenizer {self.tokenizer_path!r}: {e}".splitlines()[0]
                ) from e
        return self._tok

    def __call__(self, text: str) -> int:
        if not self.tokenizer_path:
            return len(text.split())
        return len(self._tokenizer().encode(text, add_special_tokens=False).ids)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        """Counts of many texts (the tokenizer's Rust batch encoder, in parallel)."""
        if not self.tokenizer_path:
            return [len(t.split()) for t in texts]
        encs = self._tokenizer().encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def __getstate__(self):
        return {"tokenizer_path": self.tokenizer_path, "_tok": None}


def make_token_counter(tokenizer_path: str = "") -> Callable[[str], int]:
    """A picklable token counter (see :class:`TokenCounter`); '' = word count."""
    return TokenCounter(tokenizer_path)
