"""The scale-out path: the nightly, through Airflow, on a Spark standalone cluster (master and
worker from the pyspark distribution, infra/spark-cluster.sh) instead of local[2]."""

import json
import urllib.request

import pytest

from tests.infra.helpers import assert_libraries_match, clean_environment, free_port, run

pytestmark = pytest.mark.slow
NIGHT = "2026-11-23"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    data = tmp_path_factory.mktemp("cluster")
    ui_port = free_port()
    env = clean_environment(CITYLAKE_DATA_DIR=str(data), CITYLAKE_SPARK_MASTER_PORT=str(free_port()),
                            CITYLAKE_SPARK_MASTER_UI_PORT=str(ui_port), CITYLAKE_SPARK_WORKER_MEMORY="3g",
                            CITYLAKE_DEPARTMENTS_DB_PORT=str(free_port()), CITYLAKE_SEED="5")
    try:
        started = run(["infra/spark-cluster.sh", "start"], env, timeout=180)
        master = started.stdout.strip().removeprefix("export CITYLAKE_SPARK_MASTER=")
        yield env | {"CITYLAKE_SPARK_MASTER": master}, data, ui_port
    finally:
        run(["infra/postgres.sh", "stop"], env, timeout=60)
        run(["infra/spark-cluster.sh", "stop"], env, timeout=60)


def test_the_nightly_runs_on_the_standalone_cluster(cluster):
    env, data, ui_port = cluster
    assert env["CITYLAKE_SPARK_MASTER"].startswith("spark://127.0.0.1:")
    result = run(["infra/nightly.sh", NIGHT, "400"], env, timeout=3000)
    assert "DAG runs state=success" in result.stdout

    manifest = json.loads((data / "truth" / NIGHT / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((data / "reports" / NIGHT / "summary.json").read_text(encoding="utf-8"))
    for source, expected in manifest["sources"].items():
        assert summary["sources"][source]["standard"] == expected["standardised"], source
    assert_libraries_match(summary["base"], manifest["base"])

    # every job was an application of the cluster, and its executors ran on the worker
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=10) as response:
        state = json.load(response)
    names = {app["name"] for app in state["completedapps"]}
    from citylake import contracts

    for source in contracts.load_all():
        assert {f"citylake-land-{source}", f"citylake-standardise-{source}"} <= names, source
    assert {"citylake-base-population", "citylake-base-legal_entity", "citylake-base-credit", "citylake-curated",
            "citylake-summary"} <= names
    assert state["aliveworkers"] == 1
