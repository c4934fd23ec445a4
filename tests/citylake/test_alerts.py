"""Failure alerts, received by a real webhook: a tiny HTTP server on loopback."""

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from citylake import alerts
from tests.infra.helpers import VENV_BIN, clean_environment, run

GATE_FAILED = ("household_registration: batch household_registration/2026-11-23 not published: "
               "gate standard.household_registration FAILED: HR-002 violated by 51 of 3077 rows")


@pytest.fixture
def webhook():
    """A webhook on 127.0.0.1 that keeps every JSON body POSTed to it."""
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "content_type": self.headers["Content-Type"],
                             "alert": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/citylake/alerts", received
    server.shutdown()
    server.server_close()


def _context(task_id, error, dag_id="citylake_ingest_household_registration", ds="2026-11-23"):
    ti = SimpleNamespace(task_id=task_id, dag_id=dag_id, try_number=3)
    return {"ti": ti, "ds": ds, "run_id": f"scheduled__{ds}T02:00:00+00:00", "exception": error,
            "dag": SimpleNamespace(dag_id=dag_id), "task": SimpleNamespace(task_id=task_id)}


@pytest.mark.parametrize("task_id, step, source", [
    ("delivery_taxpayer_credit_ratings", "delivery", "taxpayer_credit_ratings"),
    ("land_household_registration", "land", "household_registration"),
    ("standardise_enterprise_registry", "standardise", "enterprise_registry"),
    ("build_population", "build_population", None),
    ("build_curated", "build_curated", None),
    ("maintain_lake", "maintain_lake", None),
])
def test_step_and_source_come_from_the_task_id(task_id, step, source):
    assert alerts.step_and_source(task_id) == (step, source)


def test_a_spark_submit_failure_is_reduced_to_the_jobs_own_error_without_values():
    message = (
        "Cannot execute: spark-submit --master local[2] --conf spark.sql.shuffle.partitions=4 "
        "--name citylake-standardise_household_registration /work/main/jobs/standardise.py "
        "--source household_registration --run-date 2026-11-23. Error code is: 1.\n"
        "Last spark-submit output:\n"
        "Traceback (most recent call last):\n"
        '  File "/work/main/jobs/standardise.py", line 120, in <module>\n'
        "pyspark.errors.exceptions.captured.NumberFormatException: [CAST_INVALID_INPUT] The value "
        "'张三' of the type \"STRING\" cannot be cast to \"INT\"\n"
        f"citylake.quality.GateFailed: {GATE_FAILED} (first row 420303198001011234)\n"
        "26/11/23 02:01:02 INFO ShutdownHookManager: Shutdown hook called"
    )
    reason = alerts.reason_of(Exception(message))
    assert reason.startswith("spark-submit exited with code 1: citylake.quality.GateFailed: household_registration")
    assert "HR-002 violated by 51 of 3077 rows" in reason
    assert "420303198001011234" not in reason and "张三" not in reason and "--conf" not in reason
    assert len(alerts.reason_of(Exception("x" * 5000))) <= alerts.REASON_LIMIT


def test_the_callback_logs_one_alert_line_and_posts_it(webhook, monkeypatch, caplog):
    url, received = webhook
    monkeypatch.setenv("CITYLAKE_ALERT_WEBHOOK", url)
    alerts.on_failure(_context("standardise_household_registration", RuntimeError(GATE_FAILED)))

    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("CITYLAKE ALERT")]
    assert line.startswith("CITYLAKE ALERT dag=citylake_ingest_household_registration step=standardise "
                           "source=household_registration run_date=2026-11-23 ")
    assert "reason=RuntimeError: household_registration: batch" in line
    (post,) = received
    assert post["path"] == "/citylake/alerts" and post["content_type"].startswith("application/json")
    assert post["alert"] | {"reason": None} == {
        "alert": "citylake task failed", "dag_id": "citylake_ingest_household_registration",
        "task_id": "standardise_household_registration", "step": "standardise",
        "source": "household_registration", "run_date": "2026-11-23",
        "run_id": "scheduled__2026-11-23T02:00:00+00:00", "try_number": 3, "reason": None}
    assert "HR-002" in post["alert"]["reason"]


def test_without_a_webhook_the_alert_is_only_logged(webhook, monkeypatch, caplog):
    _, received = webhook
    monkeypatch.delenv("CITYLAKE_ALERT_WEBHOOK", raising=False)
    alerts.on_failure(_context("build_population", RuntimeError("population: not built")))
    assert any("step=build_population source=- " in r.getMessage() for r in caplog.records)
    assert received == []


def test_a_broken_webhook_neither_raises_nor_waits(monkeypatch, caplog):
    with socket.socket() as closed:  # a port nobody listens on: refused at once
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    monkeypatch.setenv("CITYLAKE_ALERT_WEBHOOK", refused)
    alerts.on_failure(_context("land_enterprise_registry", ValueError("unreadable")))
    assert any("webhook failed" in r.getMessage() for r in caplog.records)

    with socket.socket() as silent:  # accepts connections, never answers: the timeout ends it
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        assert alerts.post(f"http://127.0.0.1:{silent.getsockname()[1]}/", {"alert": "x"}, timeout=0.5) is False
        assert time.monotonic() - started < 3


PROBE_DAG = '''
"""A citylake task that fails the way a gate does, with citylake's DEFAULT_ARGS (retries off)."""
from datetime import datetime, timezone

from airflow.sdk import dag, task

from citylake.orchestration import DEFAULT_ARGS


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     default_args={**DEFAULT_ARGS, "retries": 0}, tags=["test"])
def citylake_alert_probe():
    @task(task_id="standardise_household_registration")
    def standardise():
        raise RuntimeError(%r)

    standardise()


probe = citylake_alert_probe()

if __name__ == "__main__":
    run = probe.test(logical_date=datetime(2026, 11, 23, 2, tzinfo=timezone.utc))
    print("probe run state:", run.state)
'''


@pytest.mark.slow
def test_a_failing_task_run_by_airflow_alerts_the_webhook(webhook, tmp_path):
    """The callback wired through DEFAULT_ARGS, run by Airflow 3 itself (dag.test())."""
    url, received = webhook
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "citylake_alert_probe.py").write_text(textwrap.dedent(PROBE_DAG % GATE_FAILED))
    env = clean_environment(
        AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__UNIT_TEST_MODE="False",
        CITYLAKE_DATA_DIR=str(tmp_path), CITYLAKE_ALERT_WEBHOOK=url,
    )
    run([str(VENV_BIN / "airflow"), "db", "migrate"], env, timeout=600)
    result = subprocess.run([sys.executable, str(dags / "citylake_alert_probe.py")], env=env,
                            capture_output=True, text=True, timeout=600)
    assert "probe run state: failed" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]

    (post,) = received
    alert = post["alert"]
    assert (alert["dag_id"], alert["step"], alert["source"], alert["run_date"]) == (
        "citylake_alert_probe", "standardise", "household_registration", "2026-11-23")
    assert alert["reason"] == f"RuntimeError: {GATE_FAILED}"
    output = result.stdout + result.stderr
    assert "CITYLAKE ALERT dag=citylake_alert_probe step=standardise source=household_registration" in output
