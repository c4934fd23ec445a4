"""What the DAGs need to run citylake jobs as Spark Connect clients; no I/O at import time.

The environment's Spark Connect server (citylake/spark_server.py: local[*], or a spark:// or
k8s:// cluster behind it) comes from settings: `airflow_environment` turns it into the Airflow
connection ``citylake_spark`` (AIRFLOW_CONN_CITYLAKE_SPARK, a ``spark_connect`` connection), which
every job's task reaches it through, so one DAG runs on a laptop and on a cluster alike.

Every task retries with exponential backoff (Airflow 3 takes ``retry_exponential_backoff`` as the
multiplier: ``True`` would be 1.0, a constant delay) and alerts on its final failure
(citylake/alerts.py). Every job that writes the lake runs in the ``citylake_lake_writers`` pool:
with its one slot (infra/nightly.sh creates it) one Spark application at a time writes the lake's
Delta tables, because neither Delta's default S3 log store nor its local one can see two drivers
committing the same table at once (see citylake/lake.py, which retries the conflicts Delta does
see). Widen the pool only where the log store detects concurrent commits across drivers (HDFS,
S3 with the DynamoDB log store).
"""

from __future__ import annotations

import json
from datetime import timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable

from citylake import spark_server
from citylake.alerts import on_failure
from citylake.settings import PROJECT_ROOT, Settings

SPARK_CONNECTION = "citylake_spark"
CITY_TIMEZONE = "Asia/Shanghai"
# The night a run processes (see `night`); every job gets it as --run-date.
NIGHT = "{{ night(dag_run, triggering_asset_events) }}"
JOBS_DIR = PROJECT_ROOT / "jobs"
LAKE_WRITERS_POOL = "citylake_lake_writers"
READ_ONLY_JOBS = frozenset({"nightly_summary"})  # every other job writes Delta tables
# An ingest run waits for its department's extract (`wait_for_extract`): a look every five
# minutes, for at most six hours after the scheduler wakes, then it fails and alerts.
EXTRACT_POKE_INTERVAL = timedelta(minutes=5)
EXTRACT_WAIT = timedelta(hours=6)
DEFAULT_ARGS = {
    "owner": "citylake",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,  # 1, 2, 4 ... minutes (jittered by Airflow)
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": on_failure,
}


def night(dag_run, triggering_asset_events=None) -> str:
    """The night (YYYY-MM-DD, city time) a DAG run processes.

    A time-scheduled run processes its data interval, which starts on the night (see
    `nightly_schedule`); a manual or `airflow dags test` run the night of its logical date. An
    asset-triggered run has no logical date in Airflow 3: it processes the newest night among its
    triggering asset events, each of which carries the night its producer processed (``extra``,
    written by `record_night`) or comes from a run with a logical date.
    """
    if dag_run.logical_date is not None:
        return _city_date(dag_run.logical_date)
    nights = []
    for events in (triggering_asset_events or {}).values():
        for event in events:
            extra = getattr(event, "extra", None) or {}
            source = getattr(event, "source_dag_run", None)
            if extra.get("night"):
                nights.append(str(extra["night"]))
            elif source is not None and source.logical_date is not None:
                nights.append(_city_date(source.logical_date))
    if not nights:
        raise ValueError(f"run {dag_run.run_id}: no logical date and no triggering asset event "
                         "with a night: which night to process is unknown")
    return max(nights)


def _city_date(moment) -> str:
    import pendulum

    return pendulum.instance(moment).in_timezone(CITY_TIMEZONE).to_date_string()


def record_night(context, result=None) -> None:
    """Post-execute hook of every citylake job: the night it processed goes into the events of
    its outlet assets (``extra["night"]``), for the asset-triggered runs downstream."""
    processed = night(context["dag_run"], context.get("triggering_asset_events"))
    for outlet in context["task"].outlets:
        context["outlet_events"][outlet].extra["night"] = processed


def nightly_schedule(cron: str) -> CronDataIntervalTimetable:
    """A contract's cron in city time, as data intervals: the run at 01:00 on the 24th covers the
    interval that starts at 01:00 on the 23rd, so it processes the night of the 23rd."""
    return CronDataIntervalTimetable(cron, timezone=CITY_TIMEZONE)


def latest_scheduled_night(cron: str, now) -> str:
    """The night the scheduler runs first for a DAG on this schedule that starts at ``now`` (an
    aware datetime) with catchup off: that of the latest complete data interval (the scheduler's
    own timetable computes it)."""
    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable as SchedulerTimetable

    timetable = SchedulerTimetable(cron, timezone=CITY_TIMEZONE)
    return _city_date(timetable.infer_manual_data_interval(run_after=pendulum.instance(now)).start)


# What every citylake DAG shares (the DAG policy tests/dags checks).
DAG_KWARGS = {
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
    "user_defined_macros": {"night": night},
}


def asset(layer: str, table: str) -> Asset:
    """The Airflow asset of a lake table, independent of where the lake lives."""
    return Asset(name=f"{layer}.{table}", uri=f"citylake://{layer}/{table}")


def lineage_file(settings: Settings):
    """Where the nightly's OpenLineage events go (one JSON object per line)."""
    return settings.data_dir / "lineage" / "openlineage.jsonl"


def _connect_host(settings: Settings) -> str:
    """On loopback the client says ``localhost``: gRPC then sends the token without TLS."""
    return "localhost" if settings.spark_host in ("127.0.0.1", "::1") else settings.spark_host


def airflow_environment(settings: Settings) -> dict[str, str]:
    """Environment that points Airflow at this project: home, DAGs folder, Spark connection."""
    home = settings.data_dir / "airflow"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # OpenLineage (Airflow's provider): a START and a COMPLETE or FAIL event per task run,
        # appended as JSON lines to lineage/openlineage.jsonl; point the transport at Marquez or
        # any OpenLineage backend with AIRFLOW__OPENLINEAGE__TRANSPORT in a deployment
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "citylake",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(lineage_file(settings)), "append": True}
        ),
        # the environment's Spark Connect server (citylake/spark_server.py), its token as the password
        f"AIRFLOW_CONN_{SPARK_CONNECTION.upper()}": json.dumps(
            {"conn_type": "spark_connect", "host": _connect_host(settings), "port": settings.spark_port,
             "password": spark_server.token(settings)}
        ),
    }


def wait_for_extract(source: str):
    """The ingest DAG's first task, ``delivery_<source>``: waits until the department has
    delivered the night's extract (operators.ExtractDeliveredSensor), looking every
    EXTRACT_POKE_INTERVAL for at most EXTRACT_WAIT, holding no worker slot or pool slot between
    looks. A run the scheduler starts before the delivery (a department late, or the next night's
    run while this one is still at work) waits here instead of failing in the landing job."""
    from citylake.operators import ExtractDeliveredSensor

    return ExtractDeliveredSensor(task_id=f"delivery_{source}", source=source, run_date=NIGHT,
                                  poke_interval=EXTRACT_POKE_INTERVAL, timeout=EXTRACT_WAIT, mode="reschedule")


def spark_job(task_id: str, job: str, args: list[str], **operator_kwargs):
    """A citylake job run as a client of the environment's Spark Connect server
    (operators.CitylakeSparkConnectOperator); args get --run-date (the run's night, see `night`;
    the DAG needs DAG_KWARGS' macros) and --run-id added. Its inlets and outlets are also its
    OpenLineage input and output datasets (citylake/lineage.py).

    Jobs that write the lake take a slot of the lake writers' pool (see the module docstring).
    """
    from citylake.operators import CitylakeSparkConnectOperator

    if job not in READ_ONLY_JOBS:
        operator_kwargs.setdefault("pool", LAKE_WRITERS_POOL)
    operator_kwargs.setdefault("post_execute", record_night)
    return CitylakeSparkConnectOperator(
        task_id=task_id,
        conn_id=SPARK_CONNECTION,
        job=job,
        application_args=[*args, "--run-date", NIGHT, "--run-id", "{{ run_id }}"],
        **operator_kwargs,
    )
