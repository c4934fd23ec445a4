"""What the DAGs need to submit citylake jobs as Spark applications; no I/O at import time.

The Spark master comes from settings: `airflow_environment` turns it into the Airflow connection
``citylake_spark`` (AIRFLOW_CONN_CITYLAKE_SPARK), which SparkSubmitOperator reads, so one DAG runs
on local[2] and on a spark:// cluster alike.
"""

from __future__ import annotations

import json
from datetime import timedelta

from airflow.sdk import Asset

from citylake import spark as citylake_spark
from citylake.settings import PROJECT_ROOT, Settings, load

SPARK_CONNECTION = "citylake_spark"
JOBS_DIR = PROJECT_ROOT / "jobs"
DEFAULT_ARGS = {
    "owner": "citylake",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
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
    """A citylake job submitted with spark-submit; args get --run-date and --run-id added."""
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    settings = load()
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
