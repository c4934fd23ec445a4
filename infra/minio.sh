#!/usr/bin/env bash
# The S3-compatible object store on loopback: MinIO, built by infra/setup.sh.
#   infra/minio.sh start   starts it (data in data/minio), waits until healthy, provisions the
#                          buckets, role policies and accounts of access/roles.yaml (citylake
#                          access provision), prints the exports that point citylake at it with the
#                          pipeline's account (eval "$(infra/minio.sh start)")
#   infra/minio.sh stop    stops it cleanly
#   infra/minio.sh env     prints the pipeline's exports only
#   infra/minio.sh credentials USER
#                          prints the exports of one provisioned account (citylake-analyst, ...)
# Port, keys and folders: CITYLAKE_MINIO_PORT (9000), CITYLAKE_MINIO_ROOT_USER and
# CITYLAKE_MINIO_ROOT_PASSWORD (the store's root, used only to provision), CITYLAKE_DATA_DIR (data/).
# Accounts' secrets: data/minio/users/<user>.env (0600).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CITYLAKE_CACHE:-$HOME/.cache/citylake}
MINIO=${CITYLAKE_MINIO_BIN:-$CACHE/bin/minio}
DATA=${CITYLAKE_DATA_DIR:-$(pwd)/data}
PORT=${CITYLAKE_MINIO_PORT:-9000}
ACCESS=${CITYLAKE_MINIO_ROOT_USER:-citylake}
SECRET=${CITYLAKE_MINIO_ROOT_PASSWORD:-citylake-local-secret}
PIDFILE="$DATA/minio/minio.pid"
USERS="$DATA/minio/users"

exports() {  # the exports of one provisioned account (default: the pipeline's)
  local user=${1:-citylake-pipeline}
  [ -f "$USERS/$user.env" ] || { echo "minio: no account $user provisioned (see access/roles.yaml)" >&2; exit 1; }
  echo "export CITYLAKE_ENV=s3"
  echo "export CITYLAKE_S3_ENDPOINT=http://127.0.0.1:$PORT"
  sed 's/^/export /' "$USERS/$user.env"
}

provision() {
  CITYLAKE_ENV=s3 CITYLAKE_S3_ENDPOINT="http://127.0.0.1:$PORT" CITYLAKE_S3_ACCESS_KEY="$ACCESS" \
    CITYLAKE_S3_SECRET_KEY="$SECRET" CITYLAKE_DATA_DIR="$DATA" MINIO_ROOT_USER="$ACCESS" MINIO_ROOT_PASSWORD="$SECRET" \
    .venv/bin/citylake access provision --credentials-dir "$USERS" >&2
}

case "${1:-}" in
  start)
    [ -x "$MINIO" ] || { echo "minio: $MINIO not found; run infra/setup.sh" >&2; exit 1; }
    mkdir -p "$DATA/minio/store"
    chmod 700 "$DATA" "$DATA/minio"
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
        provision; exports; exit 0
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
  credentials) exports "${2:?usage: $0 credentials USER}" ;;
  *) echo "usage: $0 start|stop|env|credentials USER" >&2; exit 2 ;;
esac
