"""Package this project for cluster executors: a wheel, pinned requirements, the scripts.

The choice (docs/cloud.md explains it to users): on EMR on EC2 and Dataproc clusters a
bootstrap / initialization action (``infra/scripts/bootstrap.sh``) creates a virtual
environment on every node from the wheel and a fully pinned requirements file, and Spark is
pointed at it with ``spark.pyspark.python``. That works the same on every EMR and Dataproc image
(no glibc or Python ABI guessing, compiled wheels come from PyPI for the node's platform), where a
packed venv built on a laptop breaks as soon as the laptop's OS differs from the nodes'.
Serverless has no bootstrap step: EMR Serverless takes a venv archive built on Amazon Linux
(``infra/scripts/build_venv_archive.sh``) via ``spark.archives``, Dataproc Serverless a custom
container image (``infra/templates/Dockerfile.dataproc``).

The wheel is assembled here with ``zipfile`` (a wheel is a zip with a dist-info folder) instead
of ``pip wheel``: no build backend download, no network, deterministic bytes for the same tree.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tomllib
import zipfile
from dataclasses import dataclass, field
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "scripts"
# Where bootstrap.sh puts the venv on every node; spark.pyspark.python points here.
NODE_VENV = "/opt/mathmine/venv"
NODE_PYTHON = f"{NODE_VENV}/bin/python"
# The cluster provides Spark: installing pyspark (and its py4j) into the node venv would shadow
# the cluster's own Spark build with a second, unconfigured copy.
PROVIDED_BY_CLUSTER = frozenset({"pyspark", "py4j"})
# A fixed timestamp for every zip entry: the same tree gives the same wheel bytes.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
SKIP_PARTS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache"})


@dataclass
class Artifacts:
    """Local files to upload next to each other under one staging prefix."""

    wheel: Path
    requirements: Path
    bootstrap: Path
    entry: Path
    config: Path
    extra: dict[str, Path] = field(default_factory=dict)

    def files(self) -> dict[str, Path]:
        out = {
            "wheel": self.wheel,
            "requirements": self.requirements,
            "bootstrap": self.bootstrap,
            "entry": self.entry,
            "config": self.config,
        }
        out.update(self.extra)
        return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_metadata(repo: Path = REPO) -> dict:
    return tomllib.loads((repo / "pyproject.toml").read_text())


def _package_files(repo: Path, meta: dict) -> list[tuple[str, Path]]:
    tool = meta.get("tool", {}).get("setuptools", {})
    packages = tool.get("packages", [])
    data_globs = tool.get("package-data", {})
    out = []
    for pkg in packages:
        root = repo / pkg.replace(".", "/")
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.is_symlink() or SKIP_PARTS & set(p.parts):
                continue
            rel = p.relative_to(root).as_posix()
            is_py = p.suffix == ".py"
            is_data = any(fnmatch(rel, g) for g in data_globs.get(pkg, []))
            if is_py or is_data:
                out.append((f"{pkg.replace('.', '/')}/{rel}", p))
    return out


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(out_dir: str | Path, repo: Path = REPO) -> Path:
    """A pure-Python wheel of the project (code + package data), written to ``out_dir``."""
    meta = project_metadata(repo)
    proj = meta["project"]
    name, version = proj["name"], proj["version"]
    dist = f"{name.replace('-', '_')}-{version}"
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {proj.get('description', '')}",
        f"Requires-Python: {proj.get('requires-python', '>=3.11')}",
    ]
    lines += [f"Requires-Dist: {d}" for d in proj.get("dependencies", [])]
    for extra, deps in proj.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {d}; extra == "{extra}"' for d in deps]
    files: list[tuple[str, bytes]] = [
        (arc, p.read_bytes()) for arc, p in _package_files(repo, meta)
    ]
    files.append((f"{dist}.dist-info/METADATA", ("\n".join(lines) + "\n").encode()))
    wheel_txt = "Wheel-Version: 1.0\nGenerator: mathmine.infra.packaging\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files.append((f"{dist}.dist-info/WHEEL", wheel_txt.encode()))
    scripts = proj.get("scripts", {})
    if scripts:
        ep = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
        files.append((f"{dist}.dist-info/entry_points.txt", ep.encode()))
    record = "".join(f"{arc},{_record_hash(data)},{len(data)}\n" for arc, data in files)
    record += f"{dist}.dist-info/RECORD,,\n"
    files.append((f"{dist}.dist-info/RECORD", record.encode()))
    out = Path(out_dir) / f"{dist}-py3-none-any.whl"
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data in files:
            info = zipfile.ZipInfo(arc, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    out.write_bytes(buf.getvalue())
    return out


def pinned_requirements(repo: Path = REPO, extras: tuple[str, ...] = ()) -> list[str]:
    """``name==version`` for every installed distribution the project needs at run time (the
    transitive closure of its dependencies, as installed here), minus what the cluster provides.

    Pinning the whole closure makes every node run exactly the versions the tests ran with.
    """
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    env = default_environment()
    proj = project_metadata(repo)["project"]
    todo = [Requirement(d) for d in proj.get("dependencies", [])]
    for extra in extras:
        todo += [Requirement(d) for d in proj.get("optional-dependencies", {}).get(extra, [])]
    pins: dict[str, str] = {}
    while todo:
        req = todo.pop()
        key = _norm(req.name)
        if key in pins or key in PROVIDED_BY_CLUSTER or key == _norm(proj["name"]):
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency not installed here: the node resolves it
        pins[key] = f"{dist.metadata['Name']}=={dist.version}"
        for sub in dist.requires or []:
            r = Requirement(sub)
            wanted = [*req.extras]
            if r.marker is None or any(
                r.marker.evaluate({**env, "extra": e}) for e in (wanted or [""])
            ):
                todo.append(r)
    return sorted(pins.values(), key=str.lower)


def write_requirements(path: str | Path, extras: tuple[str, ...] = ()) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# Pinned run-time dependencies of mathmine for cluster nodes (generated by\n"
        "# infra.packaging.write_requirements from the versions the tests ran with).\n"
        "# pyspark/py4j are left out on purpose: the cluster provides Spark.\n"
    )
    p.write_text(header + "\n".join(pinned_requirements(extras=extras)) + "\n")
    return p


def build_artifacts(
    work_dir: str | Path, config_yaml: str, extras: tuple[str, ...] = ()
) -> Artifacts:
    """Everything a cluster needs, in ``work_dir``: wheel, requirements, scripts, config."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "config.yaml"
    cfg.write_text(config_yaml)
    return Artifacts(
        wheel=build_wheel(work),
        requirements=write_requirements(work / "requirements.txt", extras),
        bootstrap=SCRIPTS / "bootstrap.sh",
        entry=SCRIPTS / "mathmine_entry.py",
        config=cfg,
    )


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
