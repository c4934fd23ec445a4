import csv
import dataclasses
import datetime as dt

import pytest
from pyspark.sql import functions as F

from citylake import contracts, lake
from citylake.landing import LandingRejected
from tests.conftest import NIGHT, load_job

pytestmark = pytest.mark.spark
land = load_job("land")


def _ledger(spark, settings):
    return {r.batch_id: r for r in lake.read(spark, lake.path(settings, *lake.LANDING_LEDGER)).collect()}


def _truth(settings, source) -> dict[int, str]:
    """Line number -> expected outcome, as the generator recorded it."""
    with (settings.truth_dir / NIGHT / f"{source}.csv").open(encoding="utf-8", newline="") as handle:
        return {int(row["line_number"]): row["outcome"] for row in csv.DictReader(handle)}


def _assert_landed_as_generated(spark, settings, source, counts, expected):
    assert counts["rows_read"] == expected["rows_read"]
    assert counts["rows_landed"] == expected["landed"]
    assert counts["rows_quarantined"] == expected["landing_quarantined"]
    raw = lake.read(spark, lake.path(settings, lake.RAW, source))
    quarantine = lake.read(spark, lake.path(settings, *lake.QUARANTINE)).filter(F.col("source") == source)
    truth = _truth(settings, source)
    assert {r._line_number for r in raw.select("_line_number").collect()} == {
        line for line, outcome in truth.items() if outcome != "landing_quarantine"}
    assert {r.line_number for r in quarantine.select("line_number").collect()} == {
        line for line, outcome in truth.items() if outcome == "landing_quarantine"}
    entry = _ledger(spark, settings)[f"{source}/{NIGHT}"]
    assert entry.status == "landed"
    assert entry.rows_read == entry.rows_landed + entry.rows_quarantined == expected["rows_read"]


@pytest.mark.parametrize("source", [
    "household_registration",  # GBK CSV
    "birth_certificates",  # GB18030 CSV
    "death_certificates",  # UTF-8 CSV with a byte-order mark
    "dishonest_debtors",  # JSON Lines
    "marriage_registrations",  # Excel workbook
])
def test_every_row_read_is_landed_or_quarantined(spark, settings_in, generated_night, source):
    counts = land.land(spark, settings_in, source, NIGHT, "run-1")
    _assert_landed_as_generated(spark, settings_in, source, counts, generated_night["sources"][source])


@pytest.mark.slow
def test_an_exchange_table_lands_like_a_file(spark, settings_in, generated_night, departments_db):
    from citylake import departments_db as exchange
    from citylake import generator

    source = "taxpayer_credit_ratings"
    table = contracts.load(source).jdbc
    settings = dataclasses.replace(settings_in, departments_db=departments_db.departments_db)
    staged = generator.exchange_path(settings_in.data_dir / "exchange", dt.date.fromisoformat(NIGHT),
                                     table.table)
    with staged.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle)
        exchange.deliver(settings, table.table, next(rows), rows, table.batch_column, NIGHT, table.order_column)
    counts = land.land(spark, settings, source, NIGHT, "run-1")
    _assert_landed_as_generated(spark, settings, source, counts, generated_night["sources"][source])


def test_landing_the_same_batch_again_changes_nothing(spark, settings_in, generated_night):
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    table = lake.path(settings_in, lake.RAW, "household_registration")
    before = sorted(lake.read(spark, table).drop("_ingested_at").collect())
    land.land(spark, settings_in, "household_registration", NIGHT, "run-2")
    after = sorted(lake.read(spark, table).drop("_ingested_at").collect())
    assert before == after
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{table}`").first().properties
    assert properties["delta.dataSkippingStatsColumns"] == land.RAW_STATS_COLUMNS


def test_a_later_batch_appends(spark, settings_in, generated_night):
    land.land(spark, settings_in, "enterprise_registry", NIGHT, "run-1")
    night = settings_in.incoming_dir / NIGHT
    later = settings_in.incoming_dir / "2026-11-24"
    later.mkdir()
    (night / "market_regulation").rename(later / "market_regulation")
    land.land(spark, settings_in, "enterprise_registry", "2026-11-24", "run-2")
    batches = lake.read(spark, lake.path(settings_in, lake.RAW, "enterprise_registry")).groupBy("_batch_id").count().collect()
    assert {r._batch_id for r in batches} == {"enterprise_registry/2026-11-23", "enterprise_registry/2026-11-24"}


def _extract(settings, source="household_registration"):
    return settings.incoming_dir / NIGHT / "public_security" / f"{source}.csv"


def _rejected(spark, settings, match):
    with pytest.raises(LandingRejected, match=match):
        land.land(spark, settings, "household_registration", NIGHT, "run-1")
    assert not lake.exists(spark, lake.path(settings, lake.RAW, "household_registration"))
    assert not lake.exists(spark, lake.path(settings, *lake.QUARANTINE))
    entry = _ledger(spark, settings)[f"household_registration/{NIGHT}"]
    assert entry.status == "rejected" and (entry.rows_read, entry.rows_landed) == (0, 0)
    return entry


def test_missing_required_column_rejects_the_batch_and_writes_nothing(spark, settings_in, generated_night):
    path = _extract(settings_in)
    lines = path.read_bytes().split(b"\n")
    lines[0] = lines[0].replace("公民身份号码,".encode("gbk"), "身份证,".encode("gbk"))
    path.write_bytes(b"\n".join(lines))
    entry = _rejected(spark, settings_in, "missing required column\\(s\\) 公民身份号码")
    assert "公民身份号码" in entry.reason


def test_wrong_declared_encoding_rejects_the_batch(spark, settings_in, generated_night):
    path = _extract(settings_in)
    path.write_bytes(path.read_bytes().decode("gbk", errors="replace").encode("utf-8"))
    entry = _rejected(spark, settings_in, "declared gbk but the bytes look like utf_8")
    assert "fix the contract's encoding" in entry.reason


def test_empty_extract_is_rejected(spark, settings_in, generated_night):
    _extract(settings_in).write_bytes(b"")
    _rejected(spark, settings_in, "household_registration.csv: empty file, no header line")


def test_missing_extract_is_rejected_with_its_location(spark, settings_in):
    with pytest.raises(LandingRejected, match="household_registration.csv: extract not delivered"):
        land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    assert _ledger(spark, settings_in)[f"household_registration/{NIGHT}"].status == "rejected"


def test_an_extract_with_only_its_header_lands_no_rows(spark, settings_in, generated_night):
    path = _extract(settings_in)
    path.write_bytes(path.read_bytes().split(b"\n")[0] + b"\n")
    counts = land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    assert (counts["rows_read"], counts["rows_landed"], counts["rows_quarantined"]) == (0, 0, 0)
    entry = _ledger(spark, settings_in)[f"household_registration/{NIGHT}"]
    assert entry.status == "landed" and entry.rows_read == 0


def test_an_unknown_new_column_is_kept_and_reported(spark, settings_in, generated_night):
    path = _extract(settings_in)
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    path.write_bytes(b"\n".join([lines[0] + ",手机号".encode("gbk")]
                                + [line + b",13800000000" for line in lines[1:]]) + b"\n")
    counts = land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    assert counts["new_columns"] == ["手机号"]
    assert _ledger(spark, settings_in)[f"household_registration/{NIGHT}"].new_columns == "手机号"
    raw = lake.read(spark, lake.path(settings_in, lake.RAW, "household_registration"))
    assert raw.filter(F.col("手机号") == "13800000000").count() == counts["rows_landed"]
