#!/usr/bin/env bash
# One full nightly on a generated city, through Airflow, on the configured environment
# (CITYLAKE_ENV, default local: the lake folder under data/). Prints where the results are and
# the night's summary. Starts the departments' exchange database (infra/postgres.sh) and leaves it
# running; `infra/postgres.sh stop` stops it. Starts the Spark Connect server unless one runs, and
# stops the one it started.
#   infra/nightly.sh [RUN_DATE] [PEOPLE]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DATE=${1:-$(date +%F)}
PEOPLE=${2:-${CITYLAKE_PEOPLE:-3000}}
export PATH="$(pwd)/.venv/bin:$PATH"
eval "$(citylake airflow-env)"
mkdir -p "$AIRFLOW_HOME" "$(python3 -c 'import json, os, pathlib; print(pathlib.Path(json.loads(os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"])["log_file_path"]).parent)')"
started=$(date +%s)

airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
# the pool every lake-writing task runs in (citylake/orchestration.py): one slot, one writer at a
# time: Delta's S3 and local log stores cannot see two drivers commit one table (citylake/lake.py)
airflow pools set citylake_lake_writers 1 "citylake: one Spark job at a time writes the lake" > /dev/null
# the environment's warm Spark (a Spark Connect server, citylake/spark_server.py): every job of the night
# is a client of it. Reused when one is running; stopped at the end when the nightly started it.
spark_server=$(python -m citylake.spark_server start) || exit 1
echo "nightly: $spark_server"
case $spark_server in *"started at"*) trap 'python -m citylake.spark_server stop > /dev/null' EXIT ;; esac
# the departments' exchange database (PostgreSQL on loopback): the tax bureau delivers through it
departments_db=$(infra/postgres.sh start)  # a failed start stops the nightly here (set -e)
eval "$departments_db"
citylake generate --people "$PEOPLE" --seed "${CITYLAKE_SEED:-7}" --date "$RUN_DATE"
# The night as the scheduler runs it: each source's ingest DAG (its delivery, land, standardise), then the base
# libraries' DAG and the curated one (asset-scheduled in production), each with `airflow dags test`
# for this night. A failed source does not stop the others, and the libraries are still built: they
# read each source's last published night (citylake/ledger.py), never a night that failed its gate;
# the summary reports every source, and the nightly exits non-zero.
failed=()
run_dag() {
  local dag_id=$1 log="$AIRFLOW_HOME/dags-test-$RUN_DATE-$1.log" t=$(date +%s) state
  airflow dags test "$dag_id" "$RUN_DATE" > "$log" 2>&1 || true
  state=$(grep -oE "DagRun Finished: .*state=[a-z]+" "$log" | tail -1 | grep -oE "state=[a-z]+$" || true)
  printf 'nightly: %-46s %-15s %4ss  (log: %s)\n' "$dag_id" "${state:-state=unknown}" "$(( $(date +%s) - t ))" "$log"
  [ "$state" = "state=success" ] || failed+=("$dag_id")
}
for contract in sources/*.yaml; do
  run_dag "citylake_ingest_$(basename "$contract" .yaml)"
done
run_dag citylake_base_libraries
run_dag citylake_curated
if [ ${#failed[@]} -eq 0 ]; then
  echo "nightly: DAG runs state=success in $(( $(date +%s) - started ))s"
else
  echo "nightly: ${#failed[@]} DAG run(s) failed: ${failed[*]}" >&2
fi
citylake summary --date "$RUN_DATE"
[ ${#failed[@]} -eq 0 ]
