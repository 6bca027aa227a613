"""Cluster entry point: ``spark-submit mathmine_entry.py <mathmine subcommand> [args]``.

The node's venv (infra/scripts/bootstrap.sh) has the mathmine wheel installed; this file only
fetches a remote ``--config s3://...|gs://...`` to a local temp file (load_config reads local
files) and then runs the ``mathmine`` CLI with the same arguments.
"""

from __future__ import annotations

import os
import sys
import tempfile


def localize_config(argv: list[str]) -> list[str]:
    out = list(argv)
    for i, a in enumerate(out[:-1]):
        if a == "--config" and "://" in out[i + 1]:
            from infra.storage import read_bytes
            from pipeline.config import IOConfig

            fd, path = tempfile.mkstemp(prefix="mathmine-config-", suffix=".yaml")
            with os.fdopen(fd, "wb") as f:
                f.write(read_bytes(out[i + 1], IOConfig()))
            out[i + 1] = path
    return out


def main(argv: list[str]) -> int:
    from jobs.cli import main as cli_main

    return cli_main(localize_config(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
