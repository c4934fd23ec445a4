"""DAG policy: every DAG imports, is owned, tagged and retried; producing tasks declare outlets."""

import pytest

from citylake import contracts
from citylake.orchestration import SPARK_CONNECTION
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "citylake_nightly" in dagbag.dags


def test_every_dag_is_owned_tagged_and_retried(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.max_active_runs == 1 and not dag.catchup, dag_id
        for task in dag.tasks:
            assert task.owner == "citylake", task.task_id
            assert task.retries >= 1, task.task_id


def test_every_lake_writing_task_declares_its_outlets(dagbag):
    dag = dagbag.dags["citylake_nightly"]
    outlets = {task.task_id: {a.uri for a in task.outlets} for task in dag.tasks}
    for name in contracts.load_all():
        assert outlets[f"land_{name}"] == {f"citylake://raw/{name}"}
        assert outlets[f"standardise_{name}"] == {f"citylake://standard/{name}"}
    assert outlets["build_population"] == {"citylake://base/population"}
    assert outlets["build_legal_entity"] == {"citylake://base/legal_entity"}
    assert outlets["build_curated"] == {"citylake://theme/enterprise_legal_representative"}


def test_spark_jobs_are_submitted_through_the_citylake_connection(dagbag):
    dag = dagbag.dags["citylake_nightly"]
    spark_tasks = [t for t in dag.tasks if t.task_type == "SparkSubmitOperator"]
    assert len(spark_tasks) == len(dag.tasks)
    for task in spark_tasks:
        assert task._conn_id == SPARK_CONNECTION
        assert (PROJECT_ROOT / "jobs").as_posix() in task.application
        assert "--run-date" in task.application_args


def test_wiring_follows_the_layers(dagbag):
    dag = dagbag.dags["citylake_nightly"]
    upstream = {task.task_id: set(task.upstream_task_ids) for task in dag.tasks}
    assert upstream["standardise_household_registration"] == {"land_household_registration"}
    # a library waits for the sources it is built from (citylake/base.py), not for every source of it
    assert upstream["build_population"] == {"standardise_household_registration"}
    assert upstream["build_legal_entity"] == {"standardise_enterprise_registry", "standardise_social_organisations"}
    assert upstream["build_curated"] == {"build_population", "build_legal_entity"}
    read_by_no_library = {f"standardise_{name}" for name in contracts.load_all()} - upstream["build_population"] - \
        upstream["build_legal_entity"]
    assert "standardise_taxpayer_credit_ratings" in read_by_no_library and "build_credit" not in upstream
    assert upstream["nightly_summary"] == {"build_curated"} | read_by_no_library
