#!/usr/bin/env bash
# mathmine node setup: EMR bootstrap action and Dataproc initialization action (same script).
#
#   EMR:      bootstrap action  s3://.../bootstrap.sh  <wheel-uri> <requirements-uri>
#   Dataproc: initialization action gs://.../bootstrap.sh, with cluster metadata
#             mathmine-wheel=<wheel-uri> mathmine-requirements=<requirements-uri>
#
# Creates /opt/mathmine/venv with Python >= 3.11, installs the pinned requirements (binary wheels
# from PyPI for this node's platform) and the mathmine wheel without dependencies. Spark finds it
# through spark.pyspark.python=/opt/mathmine/venv/bin/python (set by `mathmine submit`).
# pyspark is NOT installed: the cluster's own Spark is used.
set -euo pipefail

VENV=/opt/mathmine/venv
WORK=$(mktemp -d /tmp/mathmine-bootstrap.XXXXXX)

meta() {  # Dataproc/GCE metadata attribute, empty elsewhere
  if [ -x /usr/share/google/get_metadata_value ]; then
    /usr/share/google/get_metadata_value "attributes/$1" 2>/dev/null || true
  fi
}

WHEEL_URI=${1:-$(meta mathmine-wheel)}
REQ_URI=${2:-$(meta mathmine-requirements)}
if [ -z "$WHEEL_URI" ] || [ -z "$REQ_URI" ]; then
  echo "bootstrap.sh: pass <wheel-uri> <requirements-uri> (or Dataproc metadata mathmine-wheel/mathmine-requirements)" >&2
  exit 2
fi

fetch() {  # fetch URI DEST: s3:// with the AWS CLI, gs:// with gsutil/gcloud, else a local path
  case "$1" in
    s3://*) aws s3 cp --only-show-errors "$1" "$2" ;;
    gs://*) if command -v gcloud >/dev/null; then gcloud storage cp "$1" "$2"; else gsutil -q cp "$1" "$2"; fi ;;
    *) cp "$1" "$2" ;;
  esac
}

find_python() {  # first interpreter >= 3.11
  for p in python3.12 python3.11 /opt/conda/default/bin/python3 /opt/conda/miniconda3/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      command -v "$p"; return 0
    fi
  done
  return 1
}

PY=$(find_python || true)
if [ -z "$PY" ]; then
  # EMR 7.x runs Amazon Linux 2023, whose default python3 is 3.9; it packages 3.11
  if command -v dnf >/dev/null; then sudo dnf install -y -q python3.11 python3.11-pip python3.11-devel
  elif command -v apt-get >/dev/null; then sudo apt-get update -q && sudo apt-get install -y -q python3.11 python3.11-venv
  fi
  PY=$(find_python)
fi

fetch "$WHEEL_URI" "$WORK/$(basename "$WHEEL_URI")"
fetch "$REQ_URI" "$WORK/requirements.txt"

sudo mkdir -p /opt/mathmine
sudo "$PY" -m venv "$VENV"
sudo "$VENV/bin/python" -m pip install -q --upgrade pip
sudo "$VENV/bin/python" -m pip install -q --prefer-binary -r "$WORK/requirements.txt"
sudo "$VENV/bin/python" -m pip install -q --no-deps "$WORK/$(basename "$WHEEL_URI")"
sudo chmod -R a+rX /opt/mathmine
"$VENV/bin/python" -c 'import jobs.cli, pipeline.config, infra.storage; print("mathmine node venv ready")'
rm -rf "$WORK"
