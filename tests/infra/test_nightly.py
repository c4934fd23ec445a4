"""End to end: the README's nightly (infra/nightly.sh), through Airflow, over a generated city on
the local lake, with its Spark jobs submitted to a standalone cluster (a master and a worker from
the pyspark distribution, infra/spark-cluster.sh): the scale-out path. The same script on the
default local[*] runs under the scheduler in test_stack.py, and every job's own test runs local[*].
One night serves both checks, because a night costs minutes (one Spark application per step)."""

import json
import urllib.request
from pathlib import Path
from subprocess import CompletedProcess
from typing import NamedTuple

import pytest

from tests.infra.helpers import assert_libraries_match, clean_environment, free_port, run

pytestmark = pytest.mark.slow
NIGHT = "2026-11-23"


class Night(NamedTuple):
    result: CompletedProcess  # infra/nightly.sh's run
    manifest: dict  # the generator's truth
    summary: dict  # the night's summary report
    data: Path  # the data folder (lake, reports, logs, lineage)
    master: str  # the cluster's spark:// URL
    cluster: dict  # the master's state after the night (/json/)


@pytest.fixture(scope="module")
def nightly(tmp_path_factory):
    data = tmp_path_factory.mktemp("nightly")
    ui_port = free_port()
    env = clean_environment(CITYLAKE_DATA_DIR=str(data), CITYLAKE_SEED="5",
                            CITYLAKE_DEPARTMENTS_DB_PORT=str(free_port()),
                            CITYLAKE_SPARK_MASTER_PORT=str(free_port()), CITYLAKE_SPARK_MASTER_UI_PORT=str(ui_port),
                            CITYLAKE_SPARK_WORKER_MEMORY="3g")
    try:
        started = run(["infra/spark-cluster.sh", "start"], env, timeout=180)
        env["CITYLAKE_SPARK_MASTER"] = started.stdout.strip().removeprefix("export CITYLAKE_SPARK_MASTER=")
        result = run(["infra/nightly.sh", NIGHT, "400"], env, timeout=3000)
        manifest = json.loads((data / "truth" / NIGHT / "manifest.json").read_text(encoding="utf-8"))
        summary = json.loads((data / "reports" / NIGHT / "summary.json").read_text(encoding="utf-8"))
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=10) as response:
            cluster = json.load(response)
        yield Night(result, manifest, summary, data, env["CITYLAKE_SPARK_MASTER"], cluster)
    finally:
        run(["infra/postgres.sh", "stop"], env, timeout=60)
        run(["infra/spark-cluster.sh", "stop"], env, timeout=60)


def test_the_dag_run_succeeds_and_prints_the_summary(nightly):
    result, data = nightly.result, nightly.data
    assert "DAG runs state=success" in result.stdout
    assert "citylake_ingest_household_registration" in result.stdout and "citylake_curated" in result.stdout
    assert f"lake     {data / 'lake'}" in result.stdout
    assert "gate standard.household_registration" in result.stdout
    catalog = (data / "reports" / NIGHT / "catalog.html").read_text(encoding="utf-8")
    assert f"catalog  {data / 'reports' / NIGHT / 'catalog.html'}" in result.stdout
    for table in ("standard/household_registration", "base/population", "base/credit", "theme/person_profile"):
        assert f"<section id='{table}'>" in catalog, table


def test_every_layer_holds_the_generated_counts(nightly):
    manifest, summary = nightly.manifest, nightly.summary
    for source, expected in manifest["sources"].items():
        got = summary["sources"][source]
        assert got["status"] == "landed"
        assert got["rows_read"] == expected["rows_read"]
        assert got["raw"] == expected["landed"]
        assert got["landing_quarantined"] == expected["landing_quarantined"]
        assert got["standard"] == expected["standardised"]
        assert got["standardise_quarantined"] == expected["standardise_quarantined"]
    assert_libraries_match(summary["base"], manifest["base"])
    assert summary["theme"]["enterprise_legal_representative"] == manifest["curated"]["enterprise_legal_representative"]
    assert all(gate["passed"] for gate in summary["gates"].values())
    assert len(summary["gates"]) == len(manifest["sources"]) + 3  # a suite per source, three bases


def test_curated_table_is_masked(nightly, spark):
    from pyspark.sql import functions as F

    manifest, data = nightly.manifest, nightly.data
    theme = spark.read.format("delta").load(str(data / "lake" / "theme" / "enterprise_legal_representative"))
    # at least the representatives registered as residents; the population also knows people from
    # its other sources (deaths, enrolments)
    represented = theme.filter(F.col("representative_in_population")).count()
    assert manifest["curated"]["representative_in_population"] <= represented <= theme.count()
    masked = theme.filter(~F.col("legal_representative_identity_number").rlike(r"^\d{4}\*{10}[0-9X]{4}$")).count()
    assert masked == 0


def test_no_artifact_of_the_night_carries_a_raw_identity_number(nightly):
    """Reports, GX results, Data Docs and every task log: no valid identity number in clear."""
    import re

    from citylake import identity

    data = nightly.data
    candidate = re.compile(rb"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
    scanned = 0
    for folder in (data / "reports", data / "airflow" / "logs", data / "lineage"):
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            scanned += 1
            found = [m.group().decode().upper() for m in candidate.finditer(path.read_bytes())]
            leaked = [n for n in found if identity.is_valid(n)]
            assert not leaked, f"{path} carries {len(leaked)} identity numbers"
    assert scanned > 10


def test_every_task_run_emits_openlineage_events(nightly):
    from citylake import contracts

    data = nightly.data
    events = [json.loads(line) for line in (data / "lineage" / "openlineage.jsonl").read_text().splitlines()]
    states = {}
    for event in events:
        assert event["job"]["namespace"] == "citylake"
        states.setdefault(event["job"]["name"], set()).add(event["eventType"])
    expected = {f"citylake_ingest_{name}.{step}_{name}" for name in contracts.load_all() for step in ("land", "standardise")}
    expected |= {"citylake_base_libraries.build_population", "citylake_base_libraries.build_legal_entity",
                 "citylake_base_libraries.build_credit",
                 "citylake_curated.build_curated", "citylake_curated.nightly_summary"}
    assert expected <= set(states)
    assert all(states[job] >= {"START", "COMPLETE"} for job in expected), states

    # the datasets: where each job read and wrote, at the lake's real location
    completed = {event["job"]["name"]: event for event in events if event["eventType"] == "COMPLETE"}
    lake = str((data / "lake").resolve())

    def names(event, side):
        return {(d["namespace"], d["name"]) for d in event[side]}

    population = completed["citylake_base_libraries.build_population"]
    assert ("file", f"{lake}/standard/household_registration") in names(population, "inputs")
    assert names(population, "outputs") == {("file", f"{lake}/base/population")}
    landing = completed["citylake_ingest_household_registration.land_household_registration"]
    (extract,) = [d for d in landing["inputs"]]
    assert extract["namespace"] == "file" and extract["name"].startswith(str((data / "incoming").resolve()))
    assert names(landing, "outputs") == {("file", f"{lake}/raw/household_registration")}
    jdbc = [c for c in contracts.load_all().values() if c.jdbc is not None]
    for contract in jdbc:
        (extract,) = completed[f"citylake_ingest_{contract.name}.land_{contract.name}"]["inputs"]
        assert extract["namespace"].startswith("postgres://127.0.0.1:")
        assert extract["name"] == f"departments.{contract.jdbc.table}"


def test_every_job_was_an_application_of_the_cluster(nightly):
    from citylake import contracts

    master, cluster = nightly.master, nightly.cluster
    assert master.startswith("spark://127.0.0.1:")
    names = {app["name"] for app in cluster["completedapps"]}
    for source in contracts.load_all():
        assert {f"citylake-land-{source}", f"citylake-standardise-{source}"} <= names, source
    assert {"citylake-base-population", "citylake-base-legal_entity", "citylake-base-credit", "citylake-curated",
            "citylake-summary"} <= names
    assert cluster["aliveworkers"] == 1
