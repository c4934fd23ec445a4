"""What the DAGs need to submit citylake jobs as Spark applications; no I/O at import time.

The Spark master comes from settings: `airflow_environment` turns it into the Airflow connection
``citylake_spark`` (AIRFLOW_CONN_CITYLAKE_SPARK), which SparkSubmitOperator reads, so one DAG runs
on local[2] and on a spark:// cluster alike.

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

from airflow.sdk import Asset

from citylake import spark as citylake_spark
from citylake.alerts import on_failure
from citylake.settings import PROJECT_ROOT, Settings, load

SPARK_CONNECTION = "citylake_spark"
JOBS_DIR = PROJECT_ROOT / "jobs"
LAKE_WRITERS_POOL = "citylake_lake_writers"
READ_ONLY_JOBS = frozenset({"nightly_summary"})  # every other job writes Delta tables
DEFAULT_ARGS = {
    "owner": "citylake",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,  # 1, 2, 4 ... minutes (jittered by Airflow)
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": on_failure,
}


def asset(layer: str, table: str) -> Asset:
    """The Airflow asset of a lake table, independent of where the lake lives."""
    return Asset(name=f"{layer}.{table}", uri=f"citylake://{layer}/{table}")


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
        f"AIRFLOW_CONN_{SPARK_CONNECTION.upper()}": json.dumps(
            {"conn_type": "spark", "host": settings.spark_master}
        ),
    }


def spark_job(task_id: str, job: str, args: list[str], **operator_kwargs):
    """A citylake job submitted with spark-submit; args get --run-date and --run-id added.

    Jobs that write the lake take a slot of the lake writers' pool (see the module docstring).
    """
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    settings = load()
    if job not in READ_ONLY_JOBS:
        operator_kwargs.setdefault("pool", LAKE_WRITERS_POOL)
    conf = {
        key: value
        for key, value in citylake_spark.conf(settings).items()
        if not key.endswith((".access.key", ".secret.key"))  # those travel in the environment
    }
    return SparkSubmitOperator(
        task_id=task_id,
        conn_id=SPARK_CONNECTION,
        application=str(JOBS_DIR / f"{job}.py"),
        name=f"citylake-{task_id}",
        packages=citylake_spark.packages(settings),
        conf=conf,
        application_args=[*args, "--run-date", "{{ ds }}", "--run-id", "{{ run_id }}"],
        **operator_kwargs,
    )
