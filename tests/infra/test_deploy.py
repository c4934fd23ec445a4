"""The multi-host deployment (infra/deploy/compose.yaml) is a valid Compose file.

`docker compose config` needs no daemon: it parses, interpolates and validates the file against
the Compose specification. The plugin comes from infra/setup.sh (built at a pinned version).
"""

import json
import shutil
import subprocess

import pytest

from tests.conftest import PROJECT_ROOT
from tests.infra.helpers import clean_environment

COMPOSE = PROJECT_ROOT / "infra" / "deploy" / "compose.yaml"
SECRETS = {
    "CITYLAKE_S3_ACCESS_KEY": "citylake", "CITYLAKE_S3_SECRET_KEY": "test-minio-secret",
    "CITYLAKE_DEPARTMENTS_DB_PASSWORD": "test-departments", "AIRFLOW_DB_PASSWORD": "test-airflow",
    "AIRFLOW_FERNET_KEY": "test-fernet", "AIRFLOW_JWT_SECRET": "test-jwt",
}


def compose(compose_file, *args, secrets=SECRETS, tmp_path):
    """`docker compose -f FILE config ...` with only the given variables (no .env of the host)."""
    if shutil.which("docker") is None:
        pytest.fail("the docker CLI is not installed")
    no_env_file = tmp_path / "empty.env"
    no_env_file.write_text("")
    return subprocess.run(
        ["docker", "compose", "--env-file", str(no_env_file), "-f", str(compose_file), "config", *args],
        env=clean_environment(**secrets), capture_output=True, text=True, timeout=60,
    )


@pytest.fixture(scope="module", autouse=True)
def compose_plugin():
    version = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True)
    if version.returncode != 0:
        pytest.fail(f"docker compose plugin missing (infra/setup.sh builds it): {version.stderr.strip()}")
    return version.stdout.strip()


def test_the_deployment_is_a_valid_compose_file(tmp_path):
    result = compose(COMPOSE, "--quiet", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_an_invalid_compose_file_fails(tmp_path):
    broken = tmp_path / "compose.yaml"
    text = COMPOSE.read_text(encoding="utf-8")
    broken.write_text(text.replace("  spark-master:\n", "  spark-master:\n    replicaz: 2\n", 1))
    result = compose(broken, "--quiet", tmp_path=tmp_path)
    assert result.returncode != 0 and "replicaz" in result.stderr

    broken.write_text(text.replace("condition: service_completed_successfully",
                                   "condition: whenever", 1))
    assert compose(broken, "--quiet", tmp_path=tmp_path).returncode != 0


def test_secrets_have_no_defaults(tmp_path):
    result = compose(COMPOSE, "--quiet", secrets={}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "AIRFLOW_JWT_SECRET" in result.stderr and "CITYLAKE_S3_SECRET_KEY" in result.stderr


def test_the_cluster_runs_the_same_dags_on_spark_standalone(tmp_path):
    result = compose(COMPOSE, "--format", "json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    airflow = {name for name in services if name.startswith("airflow-") and name != "airflow-db"}
    assert {"airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"} <= airflow
    for name in airflow:
        env = services[name]["environment"]
        assert env["CITYLAKE_ENV"] == "cluster", name
        assert env["CITYLAKE_SPARK_MASTER"] == "spark://spark-master:7077", name
        assert env["CITYLAKE_S3_ENDPOINT"] == "http://minio:9000", name
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/citylake/dags", name
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert json.loads(env["AIRFLOW_CONN_CITYLAKE_SPARK"])["host"] == "spark://spark-master:7077"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@airflow-db:5432/airflow")
    workers = [name for name in services if name.startswith("spark-worker-")]
    assert len(workers) == 2
    for name in workers:
        assert "spark://spark-master:7077" in services[name]["command"]
    assert "citylake_lake_writers" in " ".join(services["airflow-init"]["command"])
    assert {"minio", "airflow-db", "departments-db", "spark-master"} <= set(services)
