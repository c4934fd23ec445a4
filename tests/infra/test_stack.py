"""The night as the city runs it: the local stack in one command (infra/stack.sh: MinIO,
PostgreSQL, Airflow standalone), whose scheduler wakes on the departments' schedule, lands and
standardises every source on the object store through s3a://, and builds the base libraries and
the curated tables on their assets. Checked against the generator's truth, for privacy and
lineage, through the analysts' `citylake sql`, and in the Airflow UI with headless Chromium.

This is the suite's one full night: a night is ~27 Spark applications, minutes even on a small
city, so every end-to-end check of a night's outcome reads this one (the cluster's own check,
test_spark_cluster.py, submits one source's DAG)."""

import csv
import io
import json
import re
import subprocess
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import pytest

from citylake import contracts, identity, orchestration
from citylake.local_stack import dag_runs, exports
from tests.infra.helpers import assert_libraries_match, clean_environment, free_port, run

pytestmark = pytest.mark.slow
PEOPLE = 400
NIGHT_DEADLINE_S = 4200  # a guard against a hung scheduler, not a speed target (bench/ measures speed)


class Night(NamedTuple):
    env: dict  # the stack's environment (its ports, the object store's keys)
    data: Path  # the data folder: reports, Airflow's logs, lineage (the lake is on the object store)
    night: str
    manifest: dict  # the generator's truth
    summary: dict  # the night's summary report


def _runs(env, dag_id):
    return dag_runs(run(["airflow", "dags", "list-runs", dag_id, "-o", "json"], env, timeout=120).stdout)


def _night_of(dag_run: dict) -> str:
    """The night a listed run of a time-scheduled or triggered DAG processes."""
    return orchestration.night(SimpleNamespace(logical_date=datetime.fromisoformat(dag_run["logical_date"])))


def _task_states(env, dag_id, run_id) -> dict:
    listed = run(["airflow", "tasks", "states-for-dag-run", dag_id, run_id, "-o", "json"], env, timeout=120)
    return {ti["task_id"]: ti["state"] for ti in dag_runs(listed.stdout)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("stack")
    env = clean_environment(CITYLAKE_DATA_DIR=str(data), CITYLAKE_AIRFLOW_PORT=str(free_port()),
                            CITYLAKE_MINIO_PORT=str(free_port()), CITYLAKE_DEPARTMENTS_DB_PORT=str(free_port()),
                            CITYLAKE_STACK_PAUSED="citylake_maintenance")  # Sunday's, not this night's
    night = orchestration.latest_scheduled_night(contracts.load_all()["household_registration"].schedule,
                                                 datetime.now(timezone.utc))
    try:
        # the departments deliver before the scheduler wakes: the stack's own servers, then the city
        for script in ("infra/minio.sh", "infra/postgres.sh"):
            env |= exports(run([script, "start"], env, timeout=300).stdout)
        run([".venv/bin/citylake", "generate", "--people", str(PEOPLE), "--seed", "3", "--date", night], env,
            timeout=300)
        env |= exports(run(["infra/stack.sh", "start"], env, timeout=400).stdout)
        # the night's last task writes its summary; Airflow's CLI (seconds of CPU a call) is asked
        # only now and then, for a night that fails before it
        summary_path = data / "reports" / night / "summary.json"
        deadline, asked = time.monotonic() + NIGHT_DEADLINE_S, time.monotonic()
        while time.monotonic() < deadline:
            finished = summary_path.exists()
            if not finished and time.monotonic() - asked > 180:
                finished = any(r["state"] in ("success", "failed") for r in _runs(env, "citylake_curated"))
                asked = time.monotonic()
            if finished:
                break
            time.sleep(5)
        while time.monotonic() < deadline and not [  # the summary is written before its task ends
                r for r in _runs(env, "citylake_curated") if r["state"] in ("success", "failed")]:
            time.sleep(5)
        manifest = json.loads((data / "truth" / night / "manifest.json").read_text(encoding="utf-8"))
        summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.exists() else {}
        yield Night(env, data, night, manifest, summary)
    finally:
        run(["infra/stack.sh", "stop"], env, timeout=120)


def test_the_scheduler_runs_the_night_through_its_assets(stack):
    ingest = _runs(stack.env, "citylake_ingest_household_registration")
    (tonight,) = [r for r in ingest if _night_of(r) == stack.night]
    assert tonight["state"] == "success" and tonight["run_id"].startswith("scheduled__")
    # the only other run, if any, is the next night's: begun when the scheduler's 01:00 fell within
    # this test, or by the test below; it waits for its extract
    assert all(_night_of(r) > stack.night and r["state"] == "running" for r in ingest if r is not tonight)
    (curated,) = _runs(stack.env, "citylake_curated")
    assert curated["state"] == "success" and curated["run_id"].startswith("asset_triggered__")
    assert stack.summary["lake_root"] == "s3a://citylake/lake"
    assert _runs(stack.env, "citylake_maintenance") == []  # left paused (CITYLAKE_STACK_PAUSED)


def test_a_night_whose_extract_has_not_come_waits_for_it_and_lands_nothing(stack):
    dag_id, source = "citylake_ingest_household_registration", "household_registration"
    next_night = (date.fromisoformat(stack.night) + timedelta(days=1)).isoformat()
    if not any(_night_of(r) == next_night for r in _runs(stack.env, dag_id)):  # unless the scheduler began it
        run(["airflow", "dags", "trigger", dag_id, "--logical-date", f"{next_night}T01:00:00+08:00"], stack.env,
            timeout=120)
    deadline = time.monotonic() + 600
    while True:
        (waiting,) = [r for r in _runs(stack.env, dag_id) if _night_of(r) == next_night]
        states = _task_states(stack.env, dag_id, waiting["run_id"])
        if states.get(f"delivery_{source}") == "up_for_reschedule" or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert states[f"delivery_{source}"] == "up_for_reschedule", states  # looked, and will look again
    assert waiting["state"] == "running"
    assert states[f"land_{source}"] == "" and states[f"standardise_{source}"] == ""  # never started


def test_every_layer_holds_the_generated_counts(stack):
    manifest, summary = stack.manifest, stack.summary
    for source, expected in manifest["sources"].items():
        got = summary["sources"][source]
        assert got["status"] == "published"
        assert got["rows_read"] == expected["rows_read"]
        assert got["raw"] == expected["landed"]
        assert got["landing_quarantined"] == expected["landing_quarantined"]
        assert got["standard"] == expected["standardised"]
        assert got["standardise_quarantined"] == expected["standardise_quarantined"]
    assert_libraries_match(summary["base"], manifest["base"])
    assert summary["theme"]["enterprise_legal_representative"] == manifest["curated"]["enterprise_legal_representative"]
    assert all(gate["passed"] for gate in summary["gates"].values())
    assert len(summary["gates"]) == len(manifest["sources"]) + 3  # a suite per source, three bases


def test_the_summary_and_the_catalog_report_the_night(stack):
    printed = run([".venv/bin/citylake", "summary", "--date", stack.night], stack.env, timeout=60).stdout
    assert "lake     s3a://citylake/lake" in printed
    assert "gate standard.household_registration" in printed
    catalog = (stack.data / "reports" / stack.night / "catalog.html").read_text(encoding="utf-8")
    for table in ("standard/household_registration", "base/population", "base/credit", "theme/person_profile"):
        assert f"<section id='{table}'>" in catalog, table


def test_the_lake_lives_on_the_object_store(stack):
    import boto3

    env = stack.env
    assert env["CITYLAKE_ENV"] == "s3"
    s3 = boto3.client("s3", endpoint_url=env["CITYLAKE_S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id=env["CITYLAKE_S3_ACCESS_KEY"],
                      aws_secret_access_key=env["CITYLAKE_S3_SECRET_KEY"])
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="citylake")
            for o in page.get("Contents", [])}
    assert f"incoming/{stack.night}/public_security/household_registration.csv" in keys
    for table in ("standard/household_registration", "base/population", "base/credit",
                  "theme/enterprise_legal_representative"):
        assert f"lake/{table}/_delta_log/00000000000000000000.json" in keys, table
    assert not (stack.data / "lake").exists()  # nothing landed on the local disk


def test_analysts_read_the_curated_table_masked(stack, tmp_path):
    answer = tmp_path / "representatives.csv"
    analyst = stack.env | exports(run(["infra/minio.sh", "credentials", "citylake-analyst"], stack.env, timeout=60).stdout)
    run([".venv/bin/citylake", "sql", "--format", "csv", "--output", str(answer),
         "SELECT legal_representative_person_key, representative_in_population "
         "FROM theme.enterprise_legal_representative"], analyst, timeout=300)
    rows = list(csv.DictReader(io.StringIO(answer.read_text(encoding="utf-8"))))
    assert len(rows) == stack.manifest["curated"]["enterprise_legal_representative"]
    # at least the representatives registered as residents; the population also knows people from
    # its other sources (deaths, enrolments)
    represented = sum(r["representative_in_population"].lower() == "true" for r in rows)
    assert stack.manifest["curated"]["representative_in_population"] <= represented
    # keyed pseudonyms: 24 letters, no digit of the number
    assert all(re.fullmatch(r"[a-p]{24}", r["legal_representative_person_key"]) for r in rows if
               r["legal_representative_person_key"])
    denied = subprocess.run([".venv/bin/citylake", "sql", "SELECT identity_number FROM base.population"],
                            cwd=Path(__file__).resolve().parents[2], env=analyst, capture_output=True, text=True,
                            timeout=300)
    assert denied.returncode == 1 and "may not read base.population" in denied.stderr


def _identity_number(digits: str, night: str) -> bool:
    """A valid check character and a real birth date before the night: a person's number, not one
    of the random 18-digit names in Spark's logs (fetchFileTemp648725140295989430.tmp), one in
    eleven of which has a valid check character."""
    from datetime import date

    try:
        born = date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    return identity.is_valid(digits) and date(1900, 1, 1) <= born <= date.fromisoformat(night)


def test_no_artifact_of_the_night_carries_a_raw_identity_number(stack):
    """Reports, GX results, Data Docs, every task log and the lineage: no identity number in clear."""
    assert _identity_number("11010519491231002X", stack.night)  # the domain's worked example
    assert not _identity_number("648725140295989430", stack.night)  # valid check character, month 95
    candidate = re.compile(rb"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
    scanned = 0
    for folder in (stack.data / "reports", stack.data / "airflow" / "logs", stack.data / "lineage"):
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            scanned += 1
            found = [m.group().decode().upper() for m in candidate.finditer(path.read_bytes())]
            leaked = [n for n in found if _identity_number(n, stack.night)]
            assert not leaked, f"{path} carries {len(leaked)} identity numbers"
    assert scanned > 10
    # every text field of the ledger and every reason and error in the quarantine, read as an
    # engineer reads them
    engineer = stack.env | exports(run(["infra/minio.sh", "credentials", "citylake-engineer"], stack.env,
                                       timeout=60).stdout)
    for query in ("SELECT source, batch_id, run_id, file, status, reason, new_columns FROM ops.landing_ledger",
                  "SELECT DISTINCT source, rule_id, reason, file FROM ops.quarantine"):
        printed = run([".venv/bin/citylake", "sql", "--format", "csv", query], engineer, timeout=300).stdout
        assert printed.count("\n") > 5, query
        found = [m.group().decode().upper() for m in candidate.finditer(printed.encode())]
        assert not [n for n in found if _identity_number(n, stack.night)], query


def test_every_task_run_emits_openlineage_events(stack):
    events = [json.loads(line) for line in
              (stack.data / "lineage" / "openlineage.jsonl").read_text(encoding="utf-8").splitlines()]
    states = {}
    for event in events:
        assert event["job"]["namespace"] == "citylake"
        states.setdefault(event["job"]["name"], set()).add(event["eventType"])
    expected = {f"citylake_ingest_{name}.{step}_{name}" for name in contracts.load_all() for step in ("land", "standardise")}
    expected |= {"citylake_base_libraries.build_base_libraries",
                 "citylake_curated.build_curated", "citylake_curated.nightly_summary"}
    assert expected <= set(states)
    assert all(states[job] >= {"START", "COMPLETE"} for job in expected), states

    # the datasets: where each job read and wrote, at the lake's real location (the bucket)
    completed = {event["job"]["name"]: event for event in events if event["eventType"] == "COMPLETE"}

    def names(event, side):
        return {(d["namespace"], d["name"]) for d in event[side]}

    libraries = completed["citylake_base_libraries.build_base_libraries"]
    assert ("s3://citylake", "lake/standard/household_registration") in names(libraries, "inputs")
    assert names(libraries, "outputs") == {("s3://citylake", f"lake/base/{name}")
                                           for name in ("population", "legal_entity", "credit")}
    landing = completed["citylake_ingest_household_registration.land_household_registration"]
    (extract,) = landing["inputs"]
    assert extract["namespace"] == "s3://citylake" and extract["name"].startswith(f"incoming/{stack.night}/")
    assert names(landing, "outputs") == {("s3://citylake", "lake/raw/household_registration")}
    for contract in (c for c in contracts.load_all().values() if c.jdbc is not None):
        (extract,) = completed[f"citylake_ingest_{contract.name}.land_{contract.name}"]["inputs"]
        assert extract["namespace"].startswith("postgres://127.0.0.1:")
        assert extract["name"] == f"departments.{contract.jdbc.table}"


def test_the_airflow_ui_shows_the_run_succeeded(stack):
    env, data, night = stack.env, stack.data, stack.night
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
