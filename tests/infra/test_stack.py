"""The local stack in one command (infra/stack.sh: MinIO, PostgreSQL, Airflow standalone), a
night run by Airflow's own scheduler on the object store, and a headless Chromium check of it in
the Airflow UI."""

import json
import subprocess
import time
from datetime import datetime, timezone

import pytest

from citylake import contracts, orchestration
from citylake.local_stack import dag_runs, exports
from tests.infra.helpers import clean_environment, free_port, run

pytestmark = pytest.mark.slow


def _runs(env, dag_id):
    return dag_runs(run(["airflow", "dags", "list-runs", dag_id, "-o", "json"], env, timeout=120).stdout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("stack")
    env = clean_environment(CITYLAKE_DATA_DIR=str(data), CITYLAKE_AIRFLOW_PORT=str(free_port()),
                            CITYLAKE_MINIO_PORT=str(free_port()), CITYLAKE_DEPARTMENTS_DB_PORT=str(free_port()))
    night = orchestration.latest_scheduled_night(contracts.load_all()["household_registration"].schedule,
                                                 datetime.now(timezone.utc))
    try:
        # the departments deliver before the scheduler wakes: the stack's own servers, then the city
        for script in ("infra/minio.sh", "infra/postgres.sh"):
            env |= exports(run([script, "start"], env, timeout=300).stdout)
        run([".venv/bin/citylake", "generate", "--people", "1000", "--seed", "3", "--date", night], env, timeout=300)
        env |= exports(run(["infra/stack.sh", "start"], env, timeout=400).stdout)
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            curated = [r for r in _runs(env, "citylake_curated") if r["state"] in ("success", "failed")]
            if curated:
                break
            time.sleep(15)
        yield env, data, night
    finally:
        run(["infra/stack.sh", "stop"], env, timeout=120)


def test_the_scheduler_runs_the_night_through_its_assets(stack):
    env, data, night = stack
    ingest = _runs(env, "citylake_ingest_household_registration")
    assert [r["state"] for r in ingest] == ["success"]
    assert ingest[0]["run_id"].startswith("scheduled__")
    (curated,) = _runs(env, "citylake_curated")
    assert curated["state"] == "success" and curated["run_id"].startswith("asset_triggered__")
    summary = json.loads((data / "reports" / night / "summary.json").read_text(encoding="utf-8"))
    assert summary["lake_root"] == "s3a://citylake/lake"
    assert summary["base"]["population"] > 900


def test_the_airflow_ui_shows_the_run_succeeded(stack, tmp_path):
    env, data, night = stack
    (curated,) = _runs(env, "citylake_curated")
    url = f"{env['AIRFLOW__API__BASE_URL']}/dags/citylake_curated/runs/{curated['run_id']}"
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
               "--virtual-time-budget=20000"]
    screenshot = data / "reports" / night / "airflow-ui-citylake_curated.png"
    subprocess.run([*browser, f"--screenshot={screenshot}", url], check=True, capture_output=True, timeout=180)
    assert screenshot.stat().st_size > 20_000
    dom = subprocess.run([*browser, "--dump-dom", url], check=True, capture_output=True, text=True,
                         timeout=180).stdout
    assert "citylake_curated" in dom and curated["run_id"] in dom
    assert "success" in dom.lower() and "failed" not in dom.lower()
