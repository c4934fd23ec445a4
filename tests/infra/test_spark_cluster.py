"""The scale-out path: a Spark standalone cluster on loopback (infra/spark-cluster.sh: a master and a
worker from the pyspark distribution) runs the same DAGs by configuration alone. One source's
ingest DAG, run the way infra/nightly.sh runs every DAG of the night (`airflow dags test` for the
night), has its jobs run by a Spark Connect server whose master is the cluster instead of
local[*]. The whole night runs once, under the scheduler, in test_stack.py."""

import json
import urllib.request

import pytest

from citylake import generator, lake, orchestration, spark_server
from citylake import settings as citylake_settings
from citylake.local_stack import exports
from tests.infra.helpers import clean_environment, free_port, run

pytestmark = pytest.mark.slow
NIGHT = "2026-11-23"
SOURCE = "household_registration"
DAG_ID = f"citylake_ingest_{SOURCE}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from datetime import date

    data = tmp_path_factory.mktemp("cluster")
    ui_port = free_port()
    env = clean_environment(CITYLAKE_DATA_DIR=str(data), CITYLAKE_SPARK_MASTER_PORT=str(free_port()),
                            CITYLAKE_SPARK_MASTER_UI_PORT=str(ui_port), CITYLAKE_SPARK_WORKER_MEMORY="3g",
                            # the cluster's own Connect server, not the test run's (a local[*] one)
                            CITYLAKE_SPARK_CONNECT=f"sc://127.0.0.1:{free_port()}",
                            CITYLAKE_SPARK_SERVER_MEMORY="1g")
    settings = None
    try:
        env |= exports(run(["infra/spark-cluster.sh", "start"], env, timeout=180).stdout)
        # the local lake, Spark on the cluster (CITYLAKE_SPARK_MASTER from the cluster's exports)
        settings = citylake_settings.load({**env, "CITYLAKE_ENV": "local"})
        assert spark_server.start(settings).started
        manifest = generator.generate(200, 5, date.fromisoformat(NIGHT), settings.incoming_dir,
                                      settings.truth_dir)
        # Airflow pointed at this project as infra/nightly.sh points it (citylake airflow-env)
        env |= orchestration.airflow_environment(settings)
        orchestration.lineage_file(settings).parent.mkdir(parents=True, exist_ok=True)
        run(["airflow", "db", "migrate"], env, timeout=600)
        run(["airflow", "pools", "set", orchestration.LAKE_WRITERS_POOL, "1", "citylake: one lake writer"], env,
            timeout=120)
        result = run(["airflow", "dags", "test", DAG_ID, NIGHT], env, timeout=1200)
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=10) as response:
            state = json.load(response)
        yield env, settings, manifest, result, state
    finally:
        if settings is not None:
            spark_server.stop(settings)
        run(["infra/spark-cluster.sh", "stop"], env, timeout=60)


def test_the_dag_run_succeeds_with_every_job_a_client_of_the_cluster_s_connect_server(cluster):
    env, settings, _, result, state = cluster
    assert env["CITYLAKE_SPARK_MASTER"].startswith("spark://127.0.0.1:")
    connection = json.loads(env["AIRFLOW_CONN_CITYLAKE_SPARK"])
    assert connection["conn_type"] == "spark_connect" and connection["port"] == settings.spark_port
    assert "state=success" in (result.stdout + result.stderr).split("DagRun Finished")[-1]
    # one application on the cluster, the server, which ran both jobs
    assert [app["name"] for app in state["activeapps"]] == ["citylake-spark-connect"]
    assert state["aliveworkers"] == 1


def test_the_cluster_wrote_the_night_to_the_lake(cluster, spark):
    _, settings, manifest, _, _ = cluster
    expected = manifest["sources"][SOURCE]
    raw = lake.read(spark, lake.path(settings, lake.RAW, SOURCE))
    standard = lake.read(spark, lake.path(settings, lake.STANDARD, SOURCE))
    assert raw.count() == expected["landed"]
    assert standard.count() == expected["standardised"]
