#!/usr/bin/env bash
# The whole local stack in one command: the object store (MinIO), the departments' exchange
# database (PostgreSQL), the Spark Connect server every job is a client of, and Airflow standalone (API server with its UI, scheduler, DAG processor,
# triggerer; SQLite and the LocalExecutor) running citylake's DAGs on the lake in the object store.
#   infra/stack.sh start   starts what is not running, waits until Airflow is healthy, prints the
#                          URLs and the exports (eval "$(infra/stack.sh start)")
#   infra/stack.sh stop    stops all four (the Spark server only if this started it)
# Ports and folders: CITYLAKE_AIRFLOW_PORT (8080), CITYLAKE_MINIO_PORT (9000),
# CITYLAKE_DEPARTMENTS_DB_PORT (5433), CITYLAKE_DATA_DIR (data/). CITYLAKE_STACK_PAUSED: DAG ids
# left paused on a first start (say citylake_maintenance, which otherwise runs last Sunday's
# maintenance as soon as the scheduler sees it). The UI lets everyone in as admin
# (a local stack; infra/deploy/ describes a real deployment). A night through the scheduler:
#   citylake generate --people 3000 --date 2026-11-23
#   for f in sources/*.yaml; do airflow dags trigger "citylake_ingest_$(basename "$f" .yaml)" \
#       --logical-date 2026-11-23T00:00:00+08:00; done     # the libraries follow on their assets
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(pwd)/.venv/bin:$PATH"
DATA=${CITYLAKE_DATA_DIR:-$(pwd)/data}
PORT=${CITYLAKE_AIRFLOW_PORT:-8080}
PIDFILE="$DATA/airflow-standalone.pid"

case "${1:-}" in
  start)
    exports="$(infra/minio.sh start)"$'\n'"$(infra/postgres.sh start)"
    eval "$exports"
    eval "$(citylake airflow-env)"
    # the environment's Spark Connect server, on the lake in the object store (reused if running;
    # the stack stops it only if it started it here)
    spark_server=$(python -m citylake.spark_server start) || exit 1
    echo "stack: $spark_server" >&2
    case $spark_server in *"started at"*) mkdir -p "$DATA" && touch "$DATA/spark-server.started" ;; esac
    export AIRFLOW__API__PORT=$PORT AIRFLOW__API__BASE_URL="http://127.0.0.1:$PORT"
    export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
    # the LocalExecutor starts a worker process per slot (32 by default, ~150 MB each); the lake
    # writers' pool lets one job write at a time, so a few slots serve a night on one machine
    export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-4}
    # DAG files change with a deploy, not by the minute: parsing the three files every 30 s (the
    # default) took ~10% of a core from the night's jobs on a two-core machine
    export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=${AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL:-300}
    mkdir -p "$AIRFLOW_HOME" "$(python3 -c 'import json, os, pathlib; print(pathlib.Path(json.loads(os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"])["log_file_path"]).parent)')"
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "stack: Airflow already running (pid $(cat "$PIDFILE"))" >&2
    else
      airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log" >&2; exit 1; }
      airflow pools set citylake_lake_writers 1 "citylake: one Spark job at a time writes the lake" > /dev/null
      if [ -n "${CITYLAKE_STACK_PAUSED:-}" ]; then  # known to Airflow before the scheduler starts
        airflow dags reserialize > "$AIRFLOW_HOME/reserialize.log" 2>&1 || { cat "$AIRFLOW_HOME/reserialize.log" >&2; exit 1; }
        for dag_id in $CITYLAKE_STACK_PAUSED; do airflow dags pause "$dag_id" > /dev/null; done
      fi
      setsid nohup airflow standalone > "$AIRFLOW_HOME/standalone.log" 2>&1 &
      echo $! > "$PIDFILE"
    fi
    for _ in $(seq 1 240); do
      if curl -fs "http://127.0.0.1:$PORT/api/v2/monitor/health" 2>/dev/null | python3 -c \
          'import json, sys; h = json.load(sys.stdin); sys.exit(h["scheduler"]["status"] != "healthy")' 2>/dev/null; then
        echo "stack: Airflow UI http://127.0.0.1:$PORT, lake $CITYLAKE_S3_ENDPOINT (bucket citylake)" >&2
        echo "$exports"
        [ -n "${CITYLAKE_SPARK_CONNECT:-}" ] && echo "export CITYLAKE_SPARK_CONNECT=$CITYLAKE_SPARK_CONNECT"
        for key in AIRFLOW_HOME AIRFLOW__CORE__DAGS_FOLDER AIRFLOW__LOGGING__BASE_LOG_FOLDER AIRFLOW__API__PORT \
                   AIRFLOW__API__BASE_URL AIRFLOW__CORE__EXECUTION_API_SERVER_URL; do
          echo "export $key=${!key}"
        done
        exit 0
      fi
      kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { tail -30 "$AIRFLOW_HOME/standalone.log" >&2; exit 1; }
      sleep 1
    done
    echo "stack: Airflow not healthy after 240s, see $AIRFLOW_HOME/standalone.log" >&2; exit 1 ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      pid=$(cat "$PIDFILE")
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$pid" 2>/dev/null || true
      fi
      rm -f "$PIDFILE"; echo "stack: Airflow stopped" >&2
    fi
    if [ -f "$DATA/spark-server.started" ]; then
      .venv/bin/python -m citylake.spark_server stop >&2; rm -f "$DATA/spark-server.started"
    fi
    infra/postgres.sh stop; infra/minio.sh stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
