"""Lake maintenance on a small local lake: tables written in many small appends, as nights do."""

import json
import os

import pytest

from citylake import contracts, lake, maintenance
from citylake.settings import load
from tests.conftest import NIGHT

pytestmark = pytest.mark.spark
APPENDS = 4

STANDARD_SCHEMA = "identity_number string, name string, division_code string, _batch_id string"
RAW_SCHEMA = "line string, _batch_id string"
QUARANTINE_SCHEMA = "source string, batch_id string, rule_id string, line_number int"
METRICS_SCHEMA = "run_date string, `table` string, metric string, value double"


def _appends(spark, path, schema, rows_of_night):
    for night in range(APPENDS):
        spark.createDataFrame(rows_of_night(night), schema).coalesce(1).write.format("delta") \
            .mode("append").save(path)


def _small_lake(spark, settings):
    """Four tables, each written in APPENDS small appends (one file each)."""
    def person(night, i):
        return (f"4203{night:02d}19800101{i:03d}X", f"居民{night}-{i}", "420303", f"b/{night}")

    _appends(spark, lake.path(settings, lake.STANDARD, "household_registration"), STANDARD_SCHEMA,
             lambda n: [person(n, i) for i in range(10)])
    _appends(spark, lake.path(settings, lake.RAW, "household_registration"), RAW_SCHEMA,
             lambda n: [(f"line {i}", f"b/{n}") for i in range(5)])
    _appends(spark, lake.path(settings, *lake.QUARANTINE), QUARANTINE_SCHEMA,
             lambda n: [(s, f"{s}/{n}", "HR-001", i) for s in ("household_registration", "enterprise_registry")
                        for i in range(3)])
    _appends(spark, lake.path(settings, *lake.METRICS_HISTORY), METRICS_SCHEMA,
             lambda n: [(f"2026-11-{n + 1:02d}", "household_registration", m, 1.0 * n)
                        for m in ("rows_in", "rows_published")])


def _rows(frame):
    return sorted(tuple(row) for row in frame.collect())


def _history(spark, path, operation):
    return [row for row in spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect() if row.operation == operation]


@pytest.fixture(scope="module")
def maintained(spark, tmp_path_factory):
    """A small lake before and after one maintenance run with the default audit window."""
    settings = load({"CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"], "CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(tmp_path_factory.mktemp("maintained"))})
    _small_lake(spark, settings)
    standard = lake.path(settings, lake.STANDARD, "household_registration")
    before = _rows(lake.read(spark, standard))
    report = maintenance.maintain(spark, settings, NIGHT)
    return settings, before, report


def test_every_delta_table_of_the_lake_is_found_in_layer_order(spark, maintained):
    settings, _, report = maintained
    expected = [("raw", "household_registration"), ("standard", "household_registration"),
                ("ops", "metrics_history"), ("ops", "quarantine")]
    assert maintenance.discover(settings) == expected
    assert [(t["layer"], t["table"]) for t in report["tables"]] == expected


def test_optimize_compacts_small_files_and_keeps_the_content(spark, maintained):
    settings, before, report = maintained
    tables = {(t["layer"], t["table"]): t for t in report["tables"]}
    for table in tables.values():
        assert table["files_before"] == APPENDS
        assert table["files_after"] == 1
        assert table["files_rewritten"] == APPENDS and table["files_written"] == 1
    after = lake.read(spark, lake.path(settings, lake.STANDARD, "household_registration"))
    assert _rows(after) == before and len(before) == APPENDS * 10


def test_zorder_ran_on_each_tables_lookup_keys(spark, maintained):
    settings, _, report = maintained
    expected = {
        (lake.STANDARD, "household_registration"): '["identity_number"]',  # the contract's keys
        lake.QUARANTINE: '["source","batch_id"]',
        lake.METRICS_HISTORY: '["table","metric"]',
        (lake.RAW, "household_registration"): "[]",  # compaction only
    }
    for table, zorder_by in expected.items():
        (optimize,) = _history(spark, lake.path(settings, *table), "OPTIMIZE")
        assert optimize.operationParameters["zOrderBy"] == zorder_by, table


def test_vacuum_keeps_time_travel_for_the_audit_window(spark, maintained):
    settings, _, report = maintained
    assert settings.audit_days == 30
    assert report["retention_hours"] == 30 * 24
    path = lake.path(settings, lake.STANDARD, "household_registration")
    # the first night and the last one before OPTIMIZE, both inside the window, still read back
    first = spark.read.format("delta").option("versionAsOf", 0).load(path)
    assert first.count() == 10 and {r._batch_id for r in first.collect()} == {"b/0"}
    last_appended = spark.read.format("delta").option("versionAsOf", APPENDS - 1).load(path)
    assert last_appended.count() == APPENDS * 10
    (vacuum_start,) = _history(spark, path, "VACUUM START")
    assert maintenance.applied_retention_hours(vacuum_start.operationParameters) == 30 * 24
    assert vacuum_start.operationParameters["retentionCheckEnabled"] == "true"
    properties = lake.detail(spark, path).properties
    assert properties["delta.deletedFileRetentionDuration"] == "interval 30 days"
    assert properties["delta.logRetentionDuration"] == "interval 30 days"
    table = next(t for t in report["tables"] if t["layer"] == "standard")
    assert table["retention_hours"] == 720 and table["oldest_version_in_window"] == 0
    assert table["files_vacuumed"] == 0  # every replaced file is younger than the window


def test_the_report_is_written_without_values(maintained):
    settings, _, report = maintained
    written = maintenance.report_path(settings, NIGHT)
    assert json.loads(written.read_text(encoding="utf-8")) == report
    assert "420300" not in written.read_text(encoding="utf-8")  # no identity number, no name
    assert "居民" not in written.read_text(encoding="utf-8")


def test_a_short_audit_window_is_the_tables_own_retention_with_the_check_left_on(spark, tmp_path):
    settings = load({"CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"], "CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(tmp_path), "CITYLAKE_AUDIT_DAYS": "1"})
    path = lake.path(settings, *lake.QUARANTINE)
    _appends(spark, path, QUARANTINE_SCHEMA, lambda n: [("enterprise_registry", f"enterprise_registry/{n}", "ER-001", 1)])
    # Delta 4.4 ignores VACUUM's RETAIN (vacuum.retentionWindowIgnore.enabled): asked for 24 hours,
    # it applies the table's deletedFileRetentionDuration (7 days by default). Hence the property.
    spark.conf.set("spark.databricks.delta.vacuum.logging.enabled", "true")
    spark.sql(f"VACUUM delta.`{path}` RETAIN 24 HOURS").collect()
    (unmaintained,) = _history(spark, path, "VACUUM START")
    assert maintenance.applied_retention_hours(unmaintained.operationParameters) == 7 * 24

    report = maintenance.maintain(spark, settings, NIGHT)
    assert spark.conf.get("spark.databricks.delta.retentionDurationCheck.enabled") == "true"
    vacuum_start = _history(spark, path, "VACUUM START")[0]  # newest first
    assert maintenance.applied_retention_hours(vacuum_start.operationParameters) == 24
    assert vacuum_start.operationParameters["retentionCheckEnabled"] == "true"
    assert report["tables"][0]["retention_hours"] == 24 and report["audit_days"] == 1
    assert spark.read.format("delta").option("versionAsOf", 0).load(path).count() == 1

    # the week after, nothing changed: no second OPTIMIZE (Z-order would rewrite every file)
    again = maintenance.maintain(spark, settings, "2026-11-30")
    assert again["tables"][0]["optimized"] is False
    assert len(_history(spark, path, "OPTIMIZE")) == 1


def test_zorder_keys_follow_contracts_and_the_tables_columns():
    known = contracts.load_all()
    assert maintenance.zorder_columns("standard", "enterprise_registry", ["credit_code", "x"], known) == ["credit_code"]
    assert maintenance.zorder_columns("standard", "social_insurance_enrolment",
                                      ["insured_person_number", "insurance_type"], known) == [
        "insured_person_number", "insurance_type"]
    assert maintenance.zorder_columns("standard", "no_such_source", ["a"], known) == []
    assert maintenance.zorder_columns("base", "population", ["identity_number", "name"]) == ["identity_number"]
    assert maintenance.zorder_columns("base", "legal_entity", ["credit_code"]) == ["credit_code"]
    assert maintenance.zorder_columns("raw", "household_registration", ["identity_number"]) == []
    assert maintenance.zorder_columns("ops", "landing_ledger", ["source", "batch_id"]) == []
    assert maintenance.zorder_columns("ops", "quarantine", ["batch_id", "source"]) == ["source", "batch_id"]
