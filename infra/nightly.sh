#!/usr/bin/env bash
# One full nightly on a generated city, through Airflow, on the configured environment
# (CITYLAKE_ENV, default local: the lake folder under data/). Prints where the results are and
# the night's summary. Starts the departments' exchange database (infra/postgres.sh) and leaves it
# running; `infra/postgres.sh stop` stops it.
#   infra/nightly.sh [RUN_DATE] [PEOPLE]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DATE=${1:-$(date +%F)}
PEOPLE=${2:-${CITYLAKE_PEOPLE:-3000}}
export PATH="$(pwd)/.venv/bin:$PATH"
eval "$(citylake airflow-env)"
mkdir -p "$AIRFLOW_HOME"
started=$(date +%s)

airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
# the pool every lake-writing task runs in (citylake/orchestration.py): one slot, one writer at a
# time: Delta's S3 and local log stores cannot see two drivers commit one table (citylake/lake.py)
airflow pools set citylake_lake_writers 1 "citylake: one Spark job at a time writes the lake" > /dev/null
# the departments' exchange database (PostgreSQL on loopback): the tax bureau delivers through it
eval "$(infra/postgres.sh start)"
citylake generate --people "$PEOPLE" --seed "${CITYLAKE_SEED:-7}" --date "$RUN_DATE"
log="$AIRFLOW_HOME/dags-test-$RUN_DATE.log"
echo "nightly: airflow dags test citylake_nightly $RUN_DATE (log: $log)"
if ! airflow dags test citylake_nightly "$RUN_DATE" > "$log" 2>&1; then
  tail -40 "$log"; echo "nightly: the DAG run failed, see $log" >&2; exit 1
fi
state=$(grep -oE "DagRun Finished: .*state=[a-z]+" "$log" | tail -1 | grep -oE "state=[a-z]+$" || true)
echo "nightly: DAG run ${state:-state unknown} in $(( $(date +%s) - started ))s"
citylake summary --date "$RUN_DATE"
[ "$state" = "state=success" ]
