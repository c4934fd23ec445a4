import pytest
from pyspark.sql import functions as F

from citylake import lake
from citylake.landing import LandingRejected
from tests.conftest import NIGHT, load_job

pytestmark = pytest.mark.spark
land = load_job("land")


def _ledger(spark, settings):
    return {r.batch_id: r for r in lake.read(spark, lake.path(settings, *lake.LANDING_LEDGER)).collect()}


@pytest.mark.parametrize("source", ["household_registration", "enterprise_registry"])
def test_every_row_read_is_landed_or_quarantined(spark, settings_in, generated_night, source):
    counts = land.land(spark, settings_in, source, NIGHT, "run-1")
    expected = generated_night["sources"][source]
    assert counts["rows_read"] == expected["rows_read"]
    assert counts["rows_landed"] == expected["landed"]
    assert counts["rows_quarantined"] == expected["landing_quarantined"]
    raw = lake.read(spark, lake.path(settings_in, lake.RAW, source))
    assert raw.count() == expected["landed"]
    quarantine = lake.read(spark, lake.path(settings_in, *lake.QUARANTINE))
    assert quarantine.filter(F.col("source") == source).count() == expected["landing_quarantined"]
    entry = _ledger(spark, settings_in)[f"{source}/{NIGHT}"]
    assert entry.rows_read == entry.rows_landed + entry.rows_quarantined == expected["rows_read"]


def test_landing_the_same_batch_again_changes_nothing(spark, settings_in, generated_night):
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    table = lake.path(settings_in, lake.RAW, "household_registration")
    before = sorted(lake.read(spark, table).drop("_ingested_at").collect())
    land.land(spark, settings_in, "household_registration", NIGHT, "run-2")
    after = sorted(lake.read(spark, table).drop("_ingested_at").collect())
    assert before == after


def test_a_later_batch_appends(spark, settings_in, generated_night):
    land.land(spark, settings_in, "enterprise_registry", NIGHT, "run-1")
    night = settings_in.incoming_dir / NIGHT
    later = settings_in.incoming_dir / "2026-11-24"
    later.mkdir()
    (night / "market_regulation").rename(later / "market_regulation")
    land.land(spark, settings_in, "enterprise_registry", "2026-11-24", "run-2")
    batches = lake.read(spark, lake.path(settings_in, lake.RAW, "enterprise_registry")).groupBy("_batch_id").count().collect()
    assert {r._batch_id for r in batches} == {"enterprise_registry/2026-11-23", "enterprise_registry/2026-11-24"}


def test_missing_required_column_rejects_the_batch_and_writes_nothing(spark, settings_in, generated_night):
    path = settings_in.incoming_dir / NIGHT / "public_security" / "household_registration.csv"
    lines = path.read_bytes().split(b"\n")
    lines[0] = lines[0].replace("公民身份号码,".encode("gbk"), "身份证,".encode("gbk"))
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(LandingRejected, match="missing required column\\(s\\) 公民身份号码"):
        land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    assert not lake.exists(spark, lake.path(settings_in, lake.RAW, "household_registration"))
    entry = _ledger(spark, settings_in)[f"household_registration/{NIGHT}"]
    assert entry.status == "rejected" and "公民身份号码" in entry.reason


def test_missing_extract_is_rejected_with_its_location(spark, settings_in):
    with pytest.raises(LandingRejected, match="household_registration.csv: extract not delivered"):
        land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
