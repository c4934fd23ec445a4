#!/usr/bin/env bash
# Sets citylake up from nothing, idempotently; the second run only checks stamps (seconds).
#   1. a virtualenv in .venv with the pinned stack (pyproject.toml + constraints.txt)
#   2. Spark's Ivy cache warmed with the Delta, hadoop-aws and AWS SDK bundle jars (Maven Central)
#   3. the MinIO server, built through the Go module proxy at a pinned version
# Caches that outlive a clone (Ivy, MinIO) live in ${CITYLAKE_CACHE:-~/.cache/citylake}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE=${CITYLAKE_CACHE:-$HOME/.cache/citylake}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c   # the newest commit of MinIO's community source
started=$(date +%s)
mkdir -p "$CACHE/bin" data

# 1. Python environment -----------------------------------------------------------------------
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat .venv/.citylake-stamp 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the Python stack into .venv (a few minutes the first time)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
  echo "$want" > .venv/.citylake-stamp
else
  echo "setup: Python stack up to date"
fi

# 2. Spark jars through Ivy ---------------------------------------------------------------------
jars_want=$(.venv/bin/python -c "import citylake.spark as s; print(' '.join(s.ALL_PACKAGES))" | sha256sum | cut -c1-16)
if [ "$(cat "$CACHE/ivy.stamp" 2>/dev/null)" != "$jars_want" ]; then
  echo "setup: resolving Spark packages from Maven Central into $CACHE/ivy"
  CITYLAKE_IVY_DIR="$CACHE/ivy" .venv/bin/python -m citylake.spark
  echo "$jars_want" > "$CACHE/ivy.stamp"
else
  echo "setup: Spark packages cached"
fi

# 3. MinIO ----------------------------------------------------------------------------------------
if [ "$(cat "$CACHE/bin/minio.version" 2>/dev/null)" != "$MINIO_VERSION" ] || [ ! -x "$CACHE/bin/minio" ]; then
  echo "setup: building MinIO $MINIO_VERSION with go install (about 5 minutes the first time)"
  GOBIN="$CACHE/bin" GOFLAGS=-mod=mod go install "$MINIO_MODULE@$MINIO_VERSION"
  echo "$MINIO_VERSION" > "$CACHE/bin/minio.version"
else
  echo "setup: MinIO $MINIO_VERSION present"
fi

echo "setup: done in $(( $(date +%s) - started ))s"
