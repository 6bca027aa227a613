"""``pipeline/defaults.yaml``, rendered from the config schema (``pipeline/config.py``).

The file is generated, not kept by hand and checked: the reason for a default then exists
once, beside the field's type and range, and nobody edits a comment in two places. A
hand-kept file checked by a test would still need every ``why`` written twice (the test can
only compare what both places hold). The file stays in the repository (and the wheel) for
people to read and copy from; ``tests/test_config.py`` fails when it differs from
:func:`render`, and says which command rewrites it.

    python -m pipeline.defaults_yaml --write   # = make defaults-yaml
    python -m pipeline.defaults_yaml --check   # exit 1 when the file is stale
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from typing import Any

import yaml

from pipeline.config import DEFAULTS_PATH, Config, sections

HEADER = """\
# mathmine defaults: every tunable, with the reason for its value.
# Generated from the schema in pipeline/config.py (make defaults-yaml): change a default or its
# reason there, not here. What each key accepts is checked when a config is loaded.
# Override in your own YAML (--config FILE) or on the command line: --set dedup.threshold=0.7
"""

COMMENT_COLUMN = 33  # where the comments start, as in the hand-written file this replaced
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./+-]*")


def value_text(value: Any) -> str:
    """``value`` as YAML flow text that reads back as the same value and type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        if isinstance(value, float) and "e" in text and "." not in text:
            text = text.replace("e", ".0e")  # YAML 1.1 (PyYAML) reads 1e-05 as a string
        if yaml.safe_load(text) != value or type(yaml.safe_load(text)) is not type(value):
            raise ValueError(f"{value!r} does not read back from YAML as itself")
        return text
    if isinstance(value, str):
        plain = _PLAIN.fullmatch(value) and yaml.safe_load(value) == value
        return value if plain else json.dumps(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{value_text(k)}: {value_text(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no YAML text for {value!r}")


def _line(text: str, comment: str) -> str:
    if not comment:
        return text
    pad = text.ljust(COMMENT_COLUMN) if len(text) < COMMENT_COLUMN else text + "  "
    return f"{pad}# {comment}"


def render() -> str:
    """The text of defaults.yaml: each section (its docstring as the comment), each key with
    its default and its ``why``."""
    defaults = Config()
    out = [HEADER]
    for name, cls in sections():
        doc = (cls.__doc__ or "").strip().splitlines()[0].rstrip(".")
        out.append(_line(f"{name}:", doc))
        section = getattr(defaults, name)
        for f in dataclasses.fields(cls):
            text = f"  {f.name}: {value_text(getattr(section, f.name))}"
            out.append(_line(text, f.metadata["why"]))
        out.append("")
    return "\n".join(out[:-1]) + "\n"


def read() -> dict[str, Any]:
    """defaults.yaml as YAML reads it."""
    return yaml.safe_load(DEFAULTS_PATH.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite pipeline/defaults.yaml")
    mode.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    a = p.parse_args(argv)
    text = render()
    if a.write:
        DEFAULTS_PATH.write_text(text)
        print(f"wrote {DEFAULTS_PATH}")
    elif a.check:
        if DEFAULTS_PATH.read_text() != text:
            print(f"{DEFAULTS_PATH} is stale: run make defaults-yaml", file=sys.stderr)
            return 1
        print(f"{DEFAULTS_PATH} matches the schema")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
