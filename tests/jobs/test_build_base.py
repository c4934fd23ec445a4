import pytest

from citylake import lake, quality
from tests.conftest import NIGHT, load_job

pytestmark = pytest.mark.spark
land = load_job("land")
standardise = load_job("standardise")
build_base = load_job("build_base")


def test_population_holds_one_record_per_valid_person(spark, settings_in, generated_night):
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-1")
    rows = build_base.build(spark, settings_in, "population", NIGHT, "run-1")
    assert rows == generated_night["base"]["population"]


def test_a_stale_source_stops_the_library(spark, settings_in, generated_night):
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-1")
    with pytest.raises(quality.GateFailed, match="population: not built, stale sources: household_registration: "
                                                 "latest batch 2026-11-23 is 3 day\\(s\\) old \\(at most 1 allowed\\)"):
        build_base.build(spark, settings_in, "population", "2026-11-26", "run-2")
    assert not lake.exists(spark, lake.path(settings_in, lake.BASE, "population"))


def test_legal_entity_holds_the_registry_and_the_social_organisations(spark, settings_in, generated_night):
    for source in ("enterprise_registry", "social_organisations"):
        land.land(spark, settings_in, source, NIGHT, "run-1")
        standardise.standardise(spark, settings_in, source, NIGHT, "run-1")
    rows = build_base.build(spark, settings_in, "legal_entity", NIGHT, "run-1")
    assert rows == generated_night["base"]["legal_entity"]
    library = lake.read(spark, lake.path(settings_in, lake.BASE, "legal_entity"))
    assert {r.provenance_source for r in library.select("provenance_source").distinct().collect()} == {
        "enterprise_registry", "social_organisations"}
    assert library.filter("organisation_code IS NULL OR length(organisation_code) != 9").count() == 0
