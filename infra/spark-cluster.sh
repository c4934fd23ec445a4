#!/usr/bin/env bash
# A Spark standalone cluster on loopback, from the pyspark distribution in .venv: one master, one
# worker. The scale-out path of citylake: the same jobs and DAGs run on it when
# CITYLAKE_SPARK_MASTER points at it (the lake must be where the worker can reach it: the local
# lake folder on this host, or the object store).
#   infra/spark-cluster.sh start   starts master and worker (logs and pids in data/spark-cluster),
#                                  waits until the worker has registered, prints the export
#                                  (eval "$(infra/spark-cluster.sh start)")
#   infra/spark-cluster.sh stop    stops both
# Ports and size: CITYLAKE_SPARK_MASTER_PORT (7077), CITYLAKE_SPARK_MASTER_UI_PORT (8180),
# CITYLAKE_SPARK_WORKER_CORES (2), CITYLAKE_SPARK_WORKER_MEMORY (4g), CITYLAKE_DATA_DIR (data/).
set -euo pipefail
cd "$(dirname "$0")/.."
export SPARK_HOME=${SPARK_HOME:-$(.venv/bin/python -c "import os, pyspark; print(os.path.dirname(pyspark.__file__))")}
DATA=${CITYLAKE_DATA_DIR:-$(pwd)/data}
FOLDER="$DATA/spark-cluster"
PORT=${CITYLAKE_SPARK_MASTER_PORT:-7077}
UI_PORT=${CITYLAKE_SPARK_MASTER_UI_PORT:-8180}
CORES=${CITYLAKE_SPARK_WORKER_CORES:-2}
MEMORY=${CITYLAKE_SPARK_WORKER_MEMORY:-4g}
MASTER="spark://127.0.0.1:$PORT"

start_daemon() {  # name, class, arguments...
  local name=$1; shift
  if [ -f "$FOLDER/$name.pid" ] && kill -0 "$(cat "$FOLDER/$name.pid")" 2>/dev/null; then
    echo "spark-cluster: $name already running (pid $(cat "$FOLDER/$name.pid"))" >&2; return
  fi
  SPARK_LOCAL_IP=127.0.0.1 SPARK_WORKER_DIR="$FOLDER/work" SPARK_LOG_DIR="$FOLDER" \
    nohup "$SPARK_HOME/bin/spark-class" "$@" > "$FOLDER/$name.log" 2>&1 &
  echo $! > "$FOLDER/$name.pid"
}

stop_daemon() {
  local pidfile="$FOLDER/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start)
    mkdir -p "$FOLDER/work"
    start_daemon master org.apache.spark.deploy.master.Master \
      --host 127.0.0.1 --port "$PORT" --webui-port "$UI_PORT"
    start_daemon worker org.apache.spark.deploy.worker.Worker "$MASTER" \
      --host 127.0.0.1 --cores "$CORES" --memory "$MEMORY" --webui-port 0 --work-dir "$FOLDER/work"
    for _ in $(seq 1 120); do
      if curl -fs "http://127.0.0.1:$UI_PORT/json/" 2>/dev/null | grep -q '"aliveworkers" *: *[1-9]'; then
        echo "spark-cluster: $MASTER with 1 worker ($CORES cores, $MEMORY), UI http://127.0.0.1:$UI_PORT" >&2
        echo "export CITYLAKE_SPARK_MASTER=$MASTER"; exit 0
      fi
      for name in master worker; do
        kill -0 "$(cat "$FOLDER/$name.pid")" 2>/dev/null || { tail -20 "$FOLDER/$name.log" >&2; exit 1; }
      done
      sleep 0.5
    done
    echo "spark-cluster: no worker registered after 60s, see $FOLDER/*.log" >&2; exit 1 ;;
  stop)
    stop_daemon worker; stop_daemon master; echo "spark-cluster: stopped" >&2 ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
