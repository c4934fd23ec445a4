#!/usr/bin/env bash
# Sets citylake up from nothing, idempotently; the second run only checks stamps (seconds).
#   1. a virtualenv in .venv with the pinned stack (pyproject.toml + constraints.txt)
#   2. Spark's Ivy cache warmed with the Delta, hadoop-aws, AWS SDK bundle and PostgreSQL JDBC jars
#      (Maven Central), and a class archive (AppCDS) of what a Spark driver loads
#   3. the MinIO server, built through the Go module proxy at a pinned version
#   4. the PostgreSQL server for departments' exchange databases, Debian's package (apt-get)
#   5. the Docker Compose CLI plugin (validates infra/deploy/compose.yaml), built from its module
#      source at a pinned version through the Go module proxy
#   6. Chromium, Debian's package, for headless browser checks of the Airflow UI
# Caches that outlive a clone (Ivy, MinIO, Compose) live in ${CITYLAKE_CACHE:-~/.cache/citylake}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE=${CITYLAKE_CACHE:-$HOME/.cache/citylake}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c   # the newest commit of MinIO's community source
COMPOSE_MODULE=github.com/docker/compose/v5        # the `docker compose` plugin (module v5 since Compose 5.0)
COMPOSE_VERSION=v5.6.0                             # the newest buildable with Go 1.26.8 (v5.7.0 wants 1.26.10)
started=$(date +%s)
mkdir -p "$CACHE/bin" data
chmod 700 data  # extracts, the local lake and keys: the owner's only

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

# 2. Spark jars through Ivy, and the drivers' class archive -----------------------------------------
jars_want=$( { .venv/bin/python -c "import citylake.spark as s; print(' '.join(s.ALL_PACKAGES))"; java -version 2>&1; } \
             | sha256sum | cut -c1-16)
if [ "$(cat "$CACHE/ivy.stamp" 2>/dev/null)" != "$jars_want" ] || [ ! -f "$CACHE/ivy/citylake-jars.json" ]; then
  echo "setup: resolving Spark packages from Maven Central into $CACHE/ivy"
  CITYLAKE_IVY_DIR="$CACHE/ivy" .venv/bin/python -m citylake.spark
  echo "$jars_want" > "$CACHE/ivy.stamp"
else
  echo "setup: Spark packages cached"
fi
# citylake's Spark session extension (infra/spark/src), compiled against this environment's Spark
extension=.venv/citylake-spark-extension.jar
if [ ! -f "$extension" ] || [ -n "$(find infra/spark/src -newer "$extension" -name '*.java')" ] \
   || [ "$extension" -ot .venv/.citylake-stamp ]; then
  echo "setup: compiling citylake's Spark extension into $extension"
  .venv/bin/python -m citylake.spark build-extension
else
  echo "setup: Spark extension built"
fi
# the classes of this JDK, these jars and this environment's Spark: made again when any changes
archive=.venv/citylake-classes.jsa
if [ ! -f "$archive" ] || [ "$archive" -ot "$CACHE/ivy.stamp" ] || [ "$archive" -ot .venv/.citylake-stamp ] \
   || [ "$archive" -ot "$extension" ]; then
  echo "setup: archiving the classes a Spark driver loads (AppCDS) in $archive"
  CITYLAKE_IVY_DIR="$CACHE/ivy" .venv/bin/python -m citylake.spark archive-classes > .venv/archive-classes.log 2>&1 \
    || echo "setup: no class archive (see .venv/archive-classes.log); Spark drivers start without one"
else
  echo "setup: class archive present"
fi

# 3. MinIO ----------------------------------------------------------------------------------------
if [ "$(cat "$CACHE/bin/minio.version" 2>/dev/null)" != "$MINIO_VERSION" ] || [ ! -x "$CACHE/bin/minio" ]; then
  echo "setup: building MinIO $MINIO_VERSION with go install (about 5 minutes the first time)"
  GOBIN="$CACHE/bin" GOFLAGS=-mod=mod go install "$MINIO_MODULE@$MINIO_VERSION"
  echo "$MINIO_VERSION" > "$CACHE/bin/minio.version"
else
  echo "setup: MinIO $MINIO_VERSION present"
fi

# 4. PostgreSQL ---------------------------------------------------------------------------------
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup: PostgreSQL server present"
else
  echo "setup: installing Debian's postgresql package (the departments' exchange database)"
  infra/postgres.sh install
fi

# 5. Docker Compose plugin -------------------------------------------------------------------------
# `go install module/cmd@version` refuses Compose: its go.mod has exclude directives. So the pinned
# module source is fetched through the proxy (checked against sum.golang.org) and built as the main
# module, with its own go.sum, as Compose's Makefile does (CGO off, version stamped).
PLUGINS=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
if [ "$(cat "$CACHE/bin/docker-compose.version" 2>/dev/null)" != "$COMPOSE_VERSION" ] || [ ! -x "$CACHE/bin/docker-compose" ]; then
  echo "setup: building Docker Compose $COMPOSE_VERSION with go build (a few minutes the first time)"
  source_dir=$(go mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  build_dir=$(mktemp -d)
  cp -R "$source_dir/." "$build_dir" && chmod -R u+w "$build_dir"
  (cd "$build_dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath \
     -ldflags "-w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION" -o "$CACHE/bin/docker-compose" ./cmd)
  rm -rf "$build_dir"
  echo "$COMPOSE_VERSION" > "$CACHE/bin/docker-compose.version"
else
  echo "setup: Docker Compose $COMPOSE_VERSION present"
fi
mkdir -p "$PLUGINS"
cmp -s "$CACHE/bin/docker-compose" "$PLUGINS/docker-compose" || cp "$CACHE/bin/docker-compose" "$PLUGINS/docker-compose"

# 6. Chromium ----------------------------------------------------------------------------------------
# Headless, for the browser check of the local stack's Airflow UI (tests/infra/test_stack.py).
if command -v chromium >/dev/null; then
  echo "setup: Chromium present"
else
  echo "setup: installing Debian's chromium package (headless browser checks)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium > /dev/null || { apt-get update -q > /dev/null && apt-get install -y -q chromium > /dev/null; }
fi

echo "setup: done in $(( $(date +%s) - started ))s"
