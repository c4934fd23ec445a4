#!/usr/bin/env bash
# The S3-compatible object store on loopback: MinIO, built by infra/setup.sh.
#   infra/minio.sh start   starts it (data in data/minio), waits until healthy, prints the
#                          exports that point citylake at it (eval "$(infra/minio.sh start)")
#   infra/minio.sh stop    stops it cleanly
#   infra/minio.sh env     prints the exports only
# Port, keys and folders: CITYLAKE_MINIO_PORT (9000), CITYLAKE_S3_ACCESS_KEY, CITYLAKE_S3_SECRET_KEY,
# CITYLAKE_DATA_DIR (data/).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CITYLAKE_CACHE:-$HOME/.cache/citylake}
MINIO=${CITYLAKE_MINIO_BIN:-$CACHE/bin/minio}
DATA=${CITYLAKE_DATA_DIR:-$(pwd)/data}
PORT=${CITYLAKE_MINIO_PORT:-9000}
ACCESS=${CITYLAKE_S3_ACCESS_KEY:-citylake}
SECRET=${CITYLAKE_S3_SECRET_KEY:-citylake-local-secret}
PIDFILE="$DATA/minio/minio.pid"

exports() {
  cat <<EOT
export CITYLAKE_ENV=s3
export CITYLAKE_S3_ENDPOINT=http://127.0.0.1:$PORT
export CITYLAKE_S3_ACCESS_KEY=$ACCESS
export CITYLAKE_S3_SECRET_KEY=$SECRET
EOT
}

case "${1:-}" in
  start)
    [ -x "$MINIO" ] || { echo "minio: $MINIO not found; run infra/setup.sh" >&2; exit 1; }
    mkdir -p "$DATA/minio/store"
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "minio: already running (pid $(cat "$PIDFILE"))" >&2
    else
      MINIO_ROOT_USER=$ACCESS MINIO_ROOT_PASSWORD=$SECRET MINIO_BROWSER=off \
        nohup "$MINIO" server "$DATA/minio/store" --address "127.0.0.1:$PORT" --quiet \
        > "$DATA/minio/minio.log" 2>&1 &
      echo $! > "$PIDFILE"
    fi
    for _ in $(seq 1 60); do
      if curl -fs "http://127.0.0.1:$PORT/minio/health/live" >/dev/null; then
        echo "minio: serving http://127.0.0.1:$PORT (data $DATA/minio/store)" >&2
        exports; exit 0
      fi
      kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$DATA/minio/minio.log" >&2; exit 1; }
      sleep 0.5
    done
    echo "minio: not healthy after 30s, see $DATA/minio/minio.log" >&2; exit 1 ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      pid=$(cat "$PIDFILE")
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      fi
      rm -f "$PIDFILE"; echo "minio: stopped" >&2
    fi ;;
  env) exports ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
