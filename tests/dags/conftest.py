import pytest

from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="session")
def dagbag():
    """Every DAG in dags/, parsed as Airflow's DAG processor parses them."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
