"""The base libraries built from a generated city's two nights, measured against its truth."""

import datetime as dt
import json
import os

import pytest
from pyspark.sql import functions as F

from citylake import base, contracts, lake, quality
from citylake import settings as citylake_settings
from citylake.resolution import evaluate, truth_tables
from citylake.timing import Phases
from tests.conftest import NIGHT, load_job

pytestmark = pytest.mark.spark
land = load_job("land")
standardise = load_job("standardise")
build_base = load_job("build_base")
NEXT_NIGHT = "2026-11-24"
PEOPLE = 800


def _ingest(spark, settings, night):
    for name, contract in contracts.load_all().items():
        if contract.format == "jdbc":  # the departments' database is tested in tests/infra
            continue
        land.land(spark, settings, name, night, f"run-{night}")
        standardise.standardise(spark, settings, name, night, f"run-{night}")


@pytest.fixture(scope="module")
def two_nights(spark, tmp_path_factory):
    """A city's first night built in full, its second incrementally; manifests and settings."""
    from citylake import generator

    settings = citylake_settings.load({"CITYLAKE_ENV": "local", "CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"],
                                       "CITYLAKE_DATA_DIR": str(tmp_path_factory.mktemp("base"))})
    manifests = {}
    for number, night in enumerate((NIGHT, NEXT_NIGHT), start=1):
        manifests[night] = generator.generate(PEOPLE, 11, dt.date.fromisoformat(night), settings.incoming_dir,
                                              settings.truth_dir, night_number=number)
        _ingest(spark, settings, night)
        # as the nightly run builds them: one application, the legal entities' resolution alongside the population
        manifests[f"rows {night}"] = build_base.build_libraries(spark, settings, ["credit", "legal_entity", "population"],
                                                                night, f"run-{night}")
        if night == NIGHT:  # the first night's libraries, before the second replaces them
            manifests["first"] = {name: lake.read(spark, lake.path(settings, lake.BASE, name)).localCheckpoint()
                                  for name in ("population", "legal_entity")}
    return settings, manifests


def _records(spark, settings, library, night):
    return base.records_as_of(lake.read(spark, lake.path(settings, lake.BASE, f"{library}_records")), night)


def _with_truth(spark, settings, library, night):
    records = _records(spark, settings, library, night)
    if "role" not in records.columns:
        records = records.withColumn("role", F.lit(None).cast("string"))
    return truth_tables.with_truth(records, truth_tables.lake_truth(spark, settings.truth_dir, night))


def test_every_registered_resident_is_one_golden_person(spark, two_nights):
    settings, manifests = two_nights
    first = manifests["first"]["population"]
    registered = first.where(F.array_contains("sources", "household_registration"))
    assert registered.count() == manifests[NIGHT]["base"]["population_registered"]
    numbered = first.where(F.col("identity_number").isNotNull())
    assert numbered.select("identity_number").distinct().count() == numbered.count()


def test_persons_resolve_against_the_truth_and_no_cluster_joins_two_numbers(spark, two_nights):
    settings, _ = two_nights
    resolved = _with_truth(spark, settings, "population", NIGHT)
    assert resolved.where(F.col("truth").isNull()).count() == 0  # every record traced to its line
    scores = evaluate.pairwise(resolved, "person_id", "truth")
    assert scores["precision"] == 1.0 and scores["f1"] >= 0.99, scores
    numbers = resolved.where(F.col("resolved_by") == "identity_number").groupBy("person_id").agg(
        F.countDistinct("identity_number").alias("numbers"))
    assert numbers.where(F.col("numbers") > 1).count() == 0
    without = evaluate.pairwise_involving(resolved.withColumn("no_id", F.col("resolved_by") != "identity_number"),
                                          "person_id", "truth", "no_id")
    assert without["f1"] >= 0.95, without


def test_legal_entities_are_the_registry_and_social_organisations_with_representatives(spark, two_nights):
    settings, manifests = two_nights
    first = manifests["first"]["legal_entity"]  # the first night's, before the second replaced it
    expected = manifests[NIGHT]
    assert first.count() == expected["base"]["legal_entity"]
    assert first.where("organisation_code IS NULL OR length(organisation_code) != 9").count() == 0
    represented = first.where(F.col("legal_representative_person_id").isNotNull())
    # at least those registered as residents; also those the population knows from other sources
    assert represented.count() >= expected["curated"]["representative_in_population"]
    population = manifests["first"]["population"]
    assert represented.join(population, F.col("legal_representative_person_id") == F.col("person_id"),
                            "left_anti").count() == 0
    resolved = _with_truth(spark, settings, "legal_entity", NIGHT)
    scores = evaluate.pairwise(resolved, "entity_id", "truth")
    assert scores["precision"] == 1.0 and scores["f1"] >= 0.99, scores


def test_every_credit_record_links_to_the_libraries_or_is_quarantined_with_a_reason(spark, two_nights):
    settings, _ = two_nights
    from citylake.credit import credit_records

    standards, _ = build_base.standard_tables(spark, settings, "credit", NEXT_NIGHT)
    read = credit_records(standards).count()
    linked = lake.read(spark, lake.path(settings, lake.BASE, "credit"))
    held = lake.read(spark, lake.path(settings, *lake.QUARANTINE)).where(F.col("stage") == "credit_linkage")
    assert linked.count() + held.count() == read and linked.count() > 0
    assert {r.reason for r in held.select("reason").distinct().collect()} <= {
        "party_category_unknown", "person_not_in_population", "entity_not_in_legal_entity"}
    population = lake.read(spark, lake.path(settings, lake.BASE, "population"))
    legal_entity = lake.read(spark, lake.path(settings, lake.BASE, "legal_entity"))
    assert linked.where("person_id IS NULL AND entity_id IS NULL").count() == 0
    assert linked.where("person_id IS NOT NULL").join(population, "person_id", "left_anti").count() == 0
    assert linked.where("entity_id IS NOT NULL").join(legal_entity, "entity_id", "left_anti").count() == 0
    joint = lake.read(spark, lake.path(settings, lake.BASE, "joint_punishment"))
    assert joint.where(F.col("list_kind") == "dishonest_entity").count() == \
        linked.where("record_type = 'dishonest_debtor' AND entity_id IS NOT NULL").select("entity_id").distinct().count()


def test_the_second_night_is_incremental_and_persons_keep_their_ids(spark, two_nights):
    settings, _ = two_nights
    report = json.loads((settings.reports_dir / NEXT_NIGHT / "resolution" / "population.json").read_text())
    assert report["mode"] == "incremental" and report["previous_night"] == NIGHT
    assert report["tonight_read"] == "changes"  # only the records of the keys whose rows changed
    assert set(report["seconds"]["prepare_steps"]) == {"features", "anchors_and_conflicts", "block_keys"}
    ids = {}
    for night in (NIGHT, NEXT_NIGHT):
        resolved = _with_truth(spark, settings, "population", night)
        ids[night] = {r.truth: r.person_id for r in resolved.where(F.col("source") == "household_registration")
                      .select("truth", "person_id").collect()}
    both = set(ids[NIGHT]) & set(ids[NEXT_NIGHT])
    kept = sum(ids[NIGHT][truth] == ids[NEXT_NIGHT][truth] for truth in both)
    assert len(both) > PEOPLE * 0.9 and kept / len(both) >= 0.999


@pytest.mark.parametrize("library", ["population", "legal_entity"])
def test_the_second_night_s_records_made_from_the_rows_that_changed_are_those_of_every_row(spark, two_nights,
                                                                                           library):
    from citylake.legal_entity import entity_records
    from citylake.population import person_records

    settings, _ = two_nights
    standards, _ = build_base.standard_tables(spark, settings, library, NEXT_NIGHT)
    made = {"population": person_records, "legal_entity": entity_records}[library](standards)
    written = _records(spark, settings, library, NEXT_NIGHT)
    columns = ["record_key", "_row_hash", "_mapping"]
    assert lake.content_hash(written.select(*columns)) == lake.content_hash(made.select(*columns))
    report = json.loads((settings.reports_dir / NEXT_NIGHT / "resolution" / f"{library}.json").read_text())
    assert report["tonight_read"] == "changes" and 0 < report["changed_records"] + report["new_records"]


def test_history_closes_changed_persons_and_keeps_the_rest(spark, two_nights):
    settings, _ = two_nights
    history = lake.read(spark, lake.path(settings, lake.BASE, "population_history"))
    current = lake.read(spark, lake.path(settings, lake.BASE, "population"))
    assert history.where("is_current").count() == current.count()
    closed = history.where(F.col("valid_to") == F.lit(NEXT_NIGHT).cast("date"))
    assert closed.count() > 0  # moves, deaths: a new version each
    reopened = closed.select("person_id").join(history.where("is_current"), "person_id")
    assert reopened.where(F.col("valid_from") == F.lit(NEXT_NIGHT).cast("date")).count() > 0


def test_the_second_night_writes_the_changed_persons_only_and_its_history_equals_comparing_all(spark, two_nights):

    settings, _ = two_nights
    for name in ("population", "population_history"):
        last = spark.sql(f"DESCRIBE HISTORY delta.`{lake.path(settings, lake.BASE, name)}` LIMIT 1").first()
        assert last.operation == "MERGE" and json.loads(last.userMetadata)["night"] == NEXT_NIGHT, name
    path = lake.path(settings, lake.BASE, "population_history")
    first = lake.read(spark, path, lake.tagged_version(spark, path, build_base._golden_tag(NIGHT)))
    golden = lake.read(spark, lake.path(settings, lake.BASE, "population"))
    compared = base.history(first, golden, "person_id", build_base.TRACKED["population"], NEXT_NIGHT)
    assert lake.content_hash(lake.read(spark, path)) == lake.content_hash(compared)


def test_the_second_night_keeps_unchanged_golden_records_and_equals_building_them_all(spark, two_nights):
    from citylake.legal_entity import golden_legal_entity
    from citylake.population import golden_population

    settings, _ = two_nights
    population = lake.read(spark, lake.path(settings, lake.BASE, "population"))
    made = json.loads((settings.reports_dir / NEXT_NIGHT / "build" / "population.json").read_text())["golden"]
    assert made["mode"] == "incremental" and 0 < made["rebuilt"] < population.count()
    assert 0 < made["kept"] < population.count()  # last night's, read where they lie
    people = _records(spark, settings, "population", NEXT_NIGHT)
    # every golden record built from the night's records as written (those the night kept carry last
    # night's batch): the latest source ranks by the night its batch read tonight came in
    nights = build_base._nights(spark, settings, "population", NEXT_NIGHT)
    assert lake.content_hash(population) == lake.content_hash(golden_population(people, nights))
    legal_entity = lake.read(spark, lake.path(settings, lake.BASE, "legal_entity"))
    representatives = people.join(population.select("person_id"), "person_id", "left_semi")
    assert json.loads((settings.reports_dir / NEXT_NIGHT / "build" / "legal_entity.json").read_text()
                      )["golden"]["mode"] == "incremental"
    assert lake.content_hash(legal_entity) == lake.content_hash(
        golden_legal_entity(_records(spark, settings, "legal_entity", NEXT_NIGHT), representatives))


@pytest.mark.parametrize("library", ["population", "legal_entity"])
def test_the_second_night_writes_only_the_records_that_changed_and_the_first_stays_readable(
        spark, two_nights, library):
    settings, _ = two_nights
    table = lake.read(spark, lake.path(settings, lake.BASE, f"{library}_records"))
    first, second = _records(spark, settings, library, NIGHT), _records(spark, settings, library, NEXT_NIGHT)
    report = json.loads((settings.reports_dir / NIGHT / "resolution" / f"{library}.json").read_text())
    assert first.count() == report["records"]  # night one's records, as night one wrote them
    written = table.where(F.col("night") == F.lit(NEXT_NIGHT).cast("date")).drop("night", "valid_to")
    # the night's new versions are exactly its records that are not as they were: few of them
    assert lake.content_hash(written) == lake.content_hash(second.exceptAll(first.select(*second.columns)))
    assert 0 < written.count() < second.count() / 2
    assert second.groupBy("record_key").count().where("count > 1").isEmpty()


def test_one_application_builds_the_libraries_in_order_the_entities_resolved_alongside_the_population(
        spark, two_nights):
    settings, manifests = two_nights
    rows = manifests[f"rows {NEXT_NIGHT}"]  # asked for credit first: built after those it reads
    assert list(rows) == ["population", "legal_entity", "credit"]
    for library, published in rows.items():
        assert published == lake.read(spark, lake.path(settings, lake.BASE, library)).count() > 0
    report = json.loads((settings.reports_dir / NEXT_NIGHT / "build" / "legal_entity.json").read_text())
    # resolved and survived alongside the population, the representatives linked once it was published
    assert list(report["seconds"]) == ["sources", "resolve", "write_resolution", "golden", "waiting_for_population",
                                       "representatives", "gate", "write_golden", "history"]
    # credit linked alongside the representatives, written once the legal entities were published
    report = json.loads((settings.reports_dir / NEXT_NIGHT / "build" / "credit.json").read_text())
    assert list(report["seconds"]) == ["sources", "link", "waiting_for_legal_entity", "write_quarantine", "gate",
                                       "write_golden", "profiles"]
    # on a session of their own: the population's commit tags (a session setting) are not on their commits
    for name in ("legal_entity_records", "legal_entity_id_history", "resolution_models"):
        assert {c.userMetadata for c in lake.commits(spark, lake.path(settings, lake.BASE, name))} == {None}, name


def test_only_the_libraries_there_are_are_built():
    with pytest.raises(ValueError, match="no library people \\(the libraries: population, legal_entity, credit\\)"):
        build_base.build_libraries(None, None, ["population", "people"], NIGHT, "run-1")


def test_a_night_is_not_built_again_under_a_later_one(spark, two_nights):
    settings, _ = two_nights
    with pytest.raises(RuntimeError, match="a later night"):
        build_base.build(spark, settings, "population", NIGHT, "run-again")


def test_the_landing_ledger_is_read_once_into_each_source_s_nights(spark, two_nights):
    settings, _ = two_nights
    ledger = build_base.landed_nights(spark, settings)
    assert ledger["household_registration"] == [dt.date(2026, 11, 23), dt.date(2026, 11, 24)]
    assert build_base.latest_landed(spark, settings, NIGHT, ledger)["household_registration"] == dt.date(2026, 11, 23)
    assert build_base.latest_landed(spark, settings, NEXT_NIGHT) == build_base.latest_landed(
        spark, settings, NEXT_NIGHT, ledger)


def test_the_latest_landed_night_of_a_source_is_its_newest_up_to_the_night():
    d = dt.date.fromisoformat
    ledger = {"a": [d("2026-11-20"), d("2026-11-23"), d("2026-11-25")], "b": [d("2026-11-25")]}
    assert build_base.latest_landed(None, None, "2026-11-24", ledger) == {"a": d("2026-11-23")}
    assert build_base.latest_landed(None, None, "2026-11-25", ledger) == {"a": d("2026-11-25"), "b": d("2026-11-25")}


def test_a_stale_source_stops_the_library(spark, settings_in, generated_night):
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-1")
    with pytest.raises(quality.GateFailed, match="population: not built, stale sources: household_registration: "
                                                 "latest published batch 2026-11-23 is 3 day\\(s\\) old \\(at most 1 allowed\\)"):
        build_base.build(spark, settings_in, "population", "2026-11-26", "run-2")
    assert not lake.exists(spark, lake.path(settings_in, lake.BASE, "population"))


def test_each_build_phase_is_timed_into_the_night_s_build_report(tmp_path):
    settings = citylake_settings.load({"CITYLAKE_DATA_DIR": str(tmp_path)})
    clock = iter([10.0, 12.5, 13.0, 20.0])
    phases = Phases(clock=lambda: next(clock))
    phases.done("sources")
    phases.done("resolve")
    phases.done("sources")  # a phase met twice adds up
    build_base.write_build_report(phases, settings, "population", NIGHT)
    report = json.loads((settings.reports_dir / NIGHT / "build" / "population.json").read_text())
    assert report == {"library": "population", "seconds": {"sources": 9.5, "resolve": 0.5}, "total": 10.0}


def test_the_second_night_built_again_writes_the_same_persons_and_history(spark, two_nights):
    settings, _ = two_nights
    tables = {name: lake.path(settings, lake.BASE, name) for name in ("population", "population_history")}
    before = {name: lake.content_hash(lake.read(spark, path)) for name, path in tables.items()}
    build_base.build(spark, settings, "population", NEXT_NIGHT, "run-again")
    assert {name: lake.content_hash(lake.read(spark, path)) for name, path in tables.items()} == before


def test_a_history_whose_last_night_cannot_be_read_is_compared_in_full(spark, tmp_path):
    path = str(tmp_path / "population_history")
    lake.overwrite(spark.createDataFrame([("P1", "甲", dt.date(2026, 11, 23), None, True)],
                                         "person_id string, name string, valid_from date, valid_to date, "
                                         "is_current boolean"), path)
    keys = spark.createDataFrame([("P1",)], "person_id string")
    golden = spark.createDataFrame([("P1", "甲甲")], "person_id string, name string")
    changes = build_base._history_changes(spark, path, 0, keys, golden, "person_id", ["name"], NEXT_NIGHT)
    assert {(row.person_id, row.name, row[lake.ENDS]) for row in changes.collect()} == {
        (None, None, "P1"), ("P1", "甲甲", None)}  # P1's open version ends, tonight's opens
    for name in (tmp_path / "population_history").glob("*.parquet"):
        name.unlink()  # vacuumed
    assert build_base._history_changes(spark, path, 0, keys, golden, "person_id", ["name"], NEXT_NIGHT) is None


def test_only_the_batches_or_rows_lacking_a_row_hash_get_one_made(spark):
    schema = "certificate_number string, name string, _row_hash string"
    complete = spark.createDataFrame([("D1", "张三", "h1"), ("D2", "李四", "h2")], schema)
    partial = spark.createDataFrame([("B1", "张三", "h1"), ("B3", "王五", None), ("B4", "赵六", None)], schema)
    bare = spark.createDataFrame([("B3", "王五")], "certificate_number string, name string")
    hashed = build_base.with_row_hashes({"death_certificates": complete, "birth_certificates": partial,
                                         "social_insurance_enrolment": complete})
    assert hashed["death_certificates"] is complete and hashed["social_insurance_enrolment"] is complete
    made = dict(hashed["birth_certificates"].select("certificate_number", "_row_hash").collect())
    assert made["B1"] == "h1" and None not in made.values() and len(set(made.values())) == 3
    (again,) = build_base.with_row_hashes({"birth_certificates": bare})["birth_certificates"].collect()
    assert again["_row_hash"] == made["B3"]  # the same content, the same hash
    assert build_base.with_row_hashes({}) == {}


def test_a_night_whose_records_fail_to_write_writes_no_model(spark, two_nights, monkeypatch):
    """The records, id history and review are written side by side, the model after them all: a
    night with a model is one the next night resolves against, so a failed write leaves none."""
    settings, _ = two_nights
    models = lake.path(settings, lake.BASE, "resolution_models")
    commits = len(lake.commits(spark, models))

    def failing(*args, **kwargs):
        raise OSError("the object store refused the write")

    monkeypatch.setattr(build_base, "_write_records", failing)
    with pytest.raises(OSError, match="refused"):
        build_base.build(spark, settings, "population", NEXT_NIGHT, "run-failing")
    assert len(lake.commits(spark, models)) == commits
    monkeypatch.undo()  # the night built again as it was, for any test after this one
    build_base.build(spark, settings, "population", NEXT_NIGHT, "run-again")
    assert len(lake.commits(spark, models)) == commits + 1
