"""DAG policy: every DAG imports, is owned, tagged and retried; one ingest DAG per contract, on the
contract's schedule; producing tasks declare their outlet assets; the libraries follow the assets."""

import re
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from citylake import contracts, orchestration
from citylake.orchestration import NIGHT, SPARK_CONNECTION, night
from tests.conftest import PROJECT_ROOT

SOURCES = contracts.load_all()


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"citylake_base_libraries", "citylake_curated", "citylake_maintenance"} <= set(dagbag.dags)


def test_every_dag_is_owned_tagged_and_retried(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.max_active_runs == 1 and not dag.catchup, dag_id
        for task in dag.tasks:
            assert task.owner == "citylake", task.task_id
            assert task.retries >= 1, task.task_id


def test_one_ingest_dag_per_contract_on_the_contracts_schedule(dagbag):
    ingest = {dag_id.removeprefix("citylake_ingest_"): dag for dag_id, dag in dagbag.dags.items()
              if dag_id.startswith("citylake_ingest_")}
    assert set(ingest) == set(SOURCES)
    for name, dag in ingest.items():
        assert dag.timetable.expression == SOURCES[name].schedule, name
        assert str(dag.timetable.timezone) == "Asia/Shanghai"
        assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"  # the run covers its night
        assert {t.task_id for t in dag.tasks} == {f"delivery_{name}", f"land_{name}", f"standardise_{name}"}
        assert dag.get_task(f"land_{name}").upstream_task_ids == {f"delivery_{name}"}
        assert dag.get_task(f"standardise_{name}").upstream_task_ids == {f"land_{name}"}


def test_an_ingest_run_waits_for_its_extract_holding_no_slot(dagbag):
    for name in SOURCES:
        wait = dagbag.dags[f"citylake_ingest_{name}"].get_task(f"delivery_{name}")
        assert wait.task_type == "ExtractDeliveredSensor"
        assert (wait.source, wait.run_date) == (name, NIGHT)
        assert wait.mode == "reschedule" and wait.pool == "default_pool"
        assert wait.poke_interval == orchestration.EXTRACT_POKE_INTERVAL.total_seconds()
        assert wait.timeout == orchestration.EXTRACT_WAIT.total_seconds()
        assert wait.retries >= 1 and wait.on_failure_callback


def test_a_new_contract_gets_its_ingest_dag_without_python(tmp_path, monkeypatch):
    """A contract file copied under a new name is a new DAG on the next parse."""
    from airflow.dag_processing.dagbag import DagBag

    from citylake import contracts as contracts_module

    sources = tmp_path / "sources"
    sources.mkdir()
    text = (contracts_module.SOURCES_DIR / "death_certificates.yaml").read_text(encoding="utf-8")
    (sources / "death_certificates.yaml").write_text(text, encoding="utf-8")
    (sources / "death_certificates_county.yaml").write_text(
        text.replace("name: death_certificates", "name: death_certificates_county"), encoding="utf-8")
    monkeypatch.setattr(contracts_module, "SOURCES_DIR", sources)
    monkeypatch.setattr(contracts_module.load_all, "__defaults__", (sources,))
    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "citylake_ingest.py"))
    assert bag.import_errors == {}
    assert set(bag.dags) == {"citylake_ingest_death_certificates", "citylake_ingest_death_certificates_county"}


def test_every_lake_writing_task_declares_its_outlets(dagbag):
    outlets = {task.task_id: {a.uri for a in task.outlets}
               for dag in dagbag.dags.values() for task in dag.tasks}
    for name in SOURCES:
        assert outlets[f"land_{name}"] == {f"citylake://raw/{name}"}
        assert outlets[f"standardise_{name}"] == {f"citylake://standard/{name}"}
    assert outlets["build_base_libraries"] == {"citylake://base/population", "citylake://base/legal_entity",
                                               "citylake://base/credit"}
    assert outlets["build_curated"] == {f"citylake://theme/{name}" for name in (
        "enterprise_legal_representative", "person_profile", "entity_credit_profile", "district_population",
        "joint_punishment_list", "data_quality")}


def test_every_job_records_its_night_on_its_asset_events():
    from citylake.orchestration import record_night

    outlet = object()
    events = {outlet: SimpleNamespace(extra={})}
    context = {"dag_run": _run(datetime(2026, 11, 22, 17, 0, tzinfo=timezone.utc)),
               "triggering_asset_events": {}, "task": SimpleNamespace(outlets=[outlet]),
               "outlet_events": events}
    record_night(context)
    assert events[outlet].extra == {"night": "2026-11-23"}


def test_spark_jobs_are_clients_of_the_citylake_spark_connect_connection(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            if task.task_type == "ExtractDeliveredSensor":  # the wait for an extract, above
                continue
            assert task.task_type == "CitylakeSparkConnectOperator", f"{dag_id}.{task.task_id}"
            assert task.conn_id == SPARK_CONNECTION
            assert (PROJECT_ROOT / "jobs" / f"{task.job}.py").is_file()
            assert task.application_args[-4:-2] == ["--run-date", NIGHT]
            assert dag.user_defined_macros["night"] is night
            assert task._post_execute_hook.__name__ == "record_night"


def _asset_uris(condition):
    assert type(condition).__name__ == "AssetAll"  # every one of them, not any
    return {a.uri for a in condition.objects}


def test_libraries_wait_for_the_standard_tables_they_are_built_from(dagbag):
    base = dagbag.dags["citylake_base_libraries"]
    # every source feeds a library: the credit sources' parties are resolved with the population
    # and the legal entities
    assert _asset_uris(base.timetable.asset_condition) == {f"citylake://standard/{name}" for name in SOURCES}
    # one application builds the three, each after those it reads (jobs/build_base.py: build_libraries)
    (task,) = base.tasks
    assert task.task_id == "build_base_libraries"
    assert {a.uri for a in task.inlets} == {f"citylake://standard/{name}" for name in SOURCES}
    assert task.application_args[:4] == ["--library", "population", "legal_entity", "credit"]
    curated = dagbag.dags["citylake_curated"]
    assert _asset_uris(curated.timetable.asset_condition) == {
        "citylake://base/population", "citylake://base/legal_entity", "citylake://base/credit"}
    assert curated.get_task("nightly_summary").upstream_task_ids == {"build_curated"}
    assert curated.get_task("nightly_summary").trigger_rule == "all_done"


def _run(logical_date=None, run_id="r"):
    return SimpleNamespace(logical_date=logical_date, run_id=run_id)


def test_the_night_is_the_city_date_of_the_logical_date():
    # the nightly interval of the 23rd starts at 01:00 city time, 17:00 UTC on the 22nd
    assert night(_run(datetime(2026, 11, 22, 17, 0, tzinfo=timezone.utc))) == "2026-11-23"
    assert night(_run(datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc))) == "2026-11-23"  # dags test


def test_an_asset_triggered_run_takes_the_newest_night_of_its_triggering_events():
    def event(moment, extra=None):
        return SimpleNamespace(source_dag_run=SimpleNamespace(logical_date=moment), extra=extra or {})

    events = {"standard.a": [event(datetime(2026, 11, 21, 17, tzinfo=timezone.utc))],
              "standard.b": [event(datetime(2026, 11, 22, 17, tzinfo=timezone.utc)), event(None)]}
    assert night(_run(), events) == "2026-11-23"
    # the base libraries' run was itself asset-triggered: its events carry the night they processed
    assert night(_run(), {"base.population": [event(None, {"night": "2026-11-24"})]}) == "2026-11-24"
    with pytest.raises(ValueError, match="run r: no logical date"):
        night(_run(), {})


def test_the_first_scheduled_night_is_the_latest_complete_interval():
    utc = timezone.utc
    assert orchestration.latest_scheduled_night("0 1 * * *", datetime(2026, 12, 1, 14, 0, tzinfo=utc)) == "2026-11-30"  # 22:00 city
    assert orchestration.latest_scheduled_night("0 1 * * *", datetime(2026, 12, 1, 16, 30, tzinfo=utc)) == "2026-11-30"  # 00:30
    assert orchestration.latest_scheduled_night("0 1 * * *", datetime(2026, 12, 1, 17, 30, tzinfo=utc)) == "2026-12-01"  # 01:30


def test_hostile_broken_contract_disables_only_its_own_source(tmp_path, monkeypatch):
    """A contract nested too deeply to parse, and one whose location leaves the drop folder: each
    becomes a placeholder DAG whose task fails with the contract's error; the good one is intact."""
    from airflow.dag_processing.dagbag import DagBag

    from citylake import contracts as contracts_module

    sources = tmp_path / "sources"
    sources.mkdir()
    text = (contracts_module.SOURCES_DIR / "death_certificates.yaml").read_text(encoding="utf-8")
    (sources / "death_certificates.yaml").write_text(text, encoding="utf-8")
    (sources / "nested.yaml").write_text("columns: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    escaping = text.replace("name: death_certificates", "name: escaping").replace(
        "{incoming}/{run_date}/", "{incoming}/{run_date}/../../etc/")
    (sources / "escaping.yaml").write_text(escaping, encoding="utf-8")
    monkeypatch.setattr(contracts_module, "SOURCES_DIR", sources)
    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "citylake_ingest.py"))
    assert bag.import_errors == {}
    assert set(bag.dags) == {"citylake_ingest_death_certificates", "citylake_ingest_nested", "citylake_ingest_escaping"}
    good = bag.dags["citylake_ingest_death_certificates"]
    assert {t.task_id for t in good.tasks} == {"delivery_death_certificates", "land_death_certificates",
                                               "standardise_death_certificates"}
    for name, problem in (("nested", "nested too deeply"), ("escaping", "'..'")):
        placeholder = bag.dags[f"citylake_ingest_{name}"]
        assert "broken-contract" in placeholder.tags and placeholder.timetable.expression == "0 1 * * *"  # fails, and alerts, nightly
        (task,) = placeholder.tasks
        with pytest.raises(ValueError, match=re.escape(problem)):
            task.python_callable()
