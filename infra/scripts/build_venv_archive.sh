#!/usr/bin/env bash
# Build the packed virtual environment EMR Serverless needs (it has no bootstrap actions).
#
#   infra/scripts/build_venv_archive.sh dist/mathmine-0.1.0-py3-none-any.whl requirements.txt out.tar.gz
#
# Runs inside Amazon Linux 2023 (the EMR Serverless 7.x base) with Docker, so compiled wheels
# match the workers' glibc and Python; then `mathmine submit emr --serverless --venv-archive
# out.tar.gz` uploads it and passes spark.archives=...#environment.
set -euo pipefail
WHEEL=$(realpath "$1"); REQ=$(realpath "$2"); OUT=$(realpath -m "$3")
ARCH=${ARCH:-linux/amd64}   # linux/arm64 for Graviton applications
docker run --rm --platform "$ARCH" -v "$(dirname "$WHEEL")":/w:ro -v "$(dirname "$REQ")":/r:ro \
  -v "$(dirname "$OUT")":/o public.ecr.aws/amazonlinux/amazonlinux:2023 bash -euo pipefail -c "
    dnf install -y -q python3.11 python3.11-pip tar gzip
    python3.11 -m venv /venv
    /venv/bin/pip install -q --prefer-binary -r /r/$(basename "$REQ") venv-pack==0.2.0
    /venv/bin/pip install -q --no-deps /w/$(basename "$WHEEL")
    /venv/bin/venv-pack -p /venv -o /o/$(basename "$OUT") --force
"
echo "wrote $OUT"
