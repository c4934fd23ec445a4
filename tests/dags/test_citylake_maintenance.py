"""The weekly maintenance DAG, and the operations policy every citylake DAG follows."""

from citylake import alerts
from citylake.orchestration import LAKE_WRITERS_POOL, READ_ONLY_JOBS, SPARK_CONNECTION
from tests.conftest import PROJECT_ROOT


def test_maintenance_runs_weekly_the_maintain_lake_job(dagbag):
    assert dagbag.import_errors == {}
    dag = dagbag.dags["citylake_maintenance"]
    assert dag.timetable.expression == "0 5 * * 0"  # Sundays, after the night's run
    assert str(dag.timetable.timezone) == "Asia/Shanghai"
    assert dag.max_active_runs == 1 and not dag.catchup and "maintenance" in dag.tags
    (task,) = dag.tasks
    assert task.task_type == "CitylakeSparkConnectOperator" and task.conn_id == SPARK_CONNECTION
    assert task.job == "maintain_lake" and (PROJECT_ROOT / "jobs" / "maintain_lake.py").is_file()
    assert "--run-date" in task.application_args
    assert task.pool == LAKE_WRITERS_POOL
    assert not task.outlets  # compaction changes no table's content: nothing downstream reruns


def test_every_task_retries_with_exponential_backoff_and_alerts_on_failure(dagbag):
    assert {"citylake_ingest_household_registration", "citylake_maintenance"} <= set(dagbag.dags)
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            where = f"{dag_id}.{task.task_id}"
            assert task.retries > 0, where
            assert task.retry_exponential_backoff > 1, where  # a multiplier: True would be 1.0
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
            assert alerts.on_failure in callbacks, where


def test_every_job_that_writes_the_lake_takes_the_writers_pool(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            if task.task_type != "CitylakeSparkConnectOperator":
                continue
            job = task.job
            expected = "default_pool" if job in READ_ONLY_JOBS else LAKE_WRITERS_POOL
            assert task.pool == expected, f"{dag_id}.{task.task_id}"
    ingest = dagbag.dags["citylake_ingest_household_registration"]
    assert ingest.get_task("land_household_registration").pool == LAKE_WRITERS_POOL
    assert dagbag.dags["citylake_curated"].get_task("nightly_summary").pool == "default_pool"
