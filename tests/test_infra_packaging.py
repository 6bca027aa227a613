"""The wheel and requirements the cluster nodes install: complete, importable, reproducible."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from infra import packaging

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return packaging.build_wheel(tmp_path_factory.mktemp("whl"))


def test_wheel_is_reproducible_and_complete(wheel, tmp_path):
    again = packaging.build_wheel(tmp_path)
    assert again.read_bytes() == wheel.read_bytes()
    names = set(zipfile.ZipFile(wheel).namelist())
    for pkg in ("pipeline", "jobs", "infra", "classifiers"):
        for py in (REPO / pkg).rglob("*.py"):
            if "__pycache__" not in py.parts:
                assert py.relative_to(REPO).as_posix() in names
    for data in (
        "pipeline/defaults.yaml",
        "infra/scripts/bootstrap.sh",
        "infra/templates/emr_cluster.yaml",
        "infra/iam/bucket_policy.json",
        # the language-id model ships in the wheel, with its attribution and licence
        "pipeline/data/lid.176.ftz",
        "pipeline/data/lid.176.SOURCES.md",
        "pipeline/data/lid.176.LICENSE.CC-BY-SA-3.0.txt",
    ):
        assert data in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


def test_wheel_record_hashes_match(wheel):
    zf = zipfile.ZipFile(wheel)
    record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
    rows = [ln.split(",") for ln in zf.read(record).decode().splitlines()]
    assert len(rows) == len(zf.namelist())
    for name, digest, size in rows:
        if name == record:
            continue
        data = zf.read(name)
        want = (
            "sha256="
            + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        )
        assert (digest, int(size)) == (want, len(data)), name
    meta = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
    assert "Name: mathmine" in meta and "Requires-Dist: fastwarc" in meta


def test_wheel_installs_and_runs_without_the_source_tree(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import sys, infra.storage, jobs.cli; from pipeline.config import load_config, DEFAULTS_PATH;"
        "load_config(); assert str(DEFAULTS_PATH).startswith(sys.argv[1]), DEFAULTS_PATH;"
        "from pipeline.langid import lid_model_path; m = lid_model_path();"
        "assert m.startswith(sys.argv[1]) and open(m, 'rb').read(4) == bytes.fromhex('ba164f2f'), m;"
        "print(jobs.cli.__file__)"
    )
    # cwd outside the repo and PYTHONPATH = the install target only: no way to see the source
    proc = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith(str(target))


def test_pinned_requirements_are_the_installed_closure():
    pins = packaging.pinned_requirements()
    names = {p.split("==")[0].lower().replace("_", "-") for p in pins}
    assert "pyspark" not in names and "py4j" not in names  # the cluster provides Spark
    for direct in ("fastwarc", "resiliparse", "trafilatura", "pyarrow", "boto3", "numpy"):
        assert direct in names
    # transitive dependencies are pinned too (botocore via boto3, lxml via trafilatura)
    assert {"botocore", "lxml"} <= names
    for p in pins:
        name, version = p.split("==")
        assert metadata.version(name) == version
    cloud = {p.split("==")[0].lower() for p in packaging.pinned_requirements(extras=("cloud",))}
    assert "google-cloud-storage" in cloud


def test_scripts_are_valid(tmp_path):
    subprocess.run(["bash", "-n", str(packaging.SCRIPTS / "bootstrap.sh")], check=True)
    subprocess.run(["bash", "-n", str(packaging.SCRIPTS / "build_venv_archive.sh")], check=True)
    # the entry script fetches a remote --config before handing over to the CLI
    sys.path.insert(0, str(packaging.SCRIPTS))
    try:
        import mathmine_entry
    finally:
        sys.path.remove(str(packaging.SCRIPTS))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dedup:\n  threshold: 0.7\n")
    argv = mathmine_entry.localize_config(["clean", "--run", "x", "--config", f"file://{cfg}"])
    assert argv[:4] == ["clean", "--run", "x", "--config"] and "://" not in argv[4]
    assert Path(argv[4]).read_text() == cfg.read_text()
    assert mathmine_entry.localize_config(["x", "--config", str(cfg)])[2] == str(cfg)
