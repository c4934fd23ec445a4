import json

import pytest
from pyspark.sql import functions as F

from citylake import identity, lake, quality
from tests.conftest import NIGHT, load_job

pytestmark = pytest.mark.spark
land = load_job("land")
standardise = load_job("standardise")


def test_standardised_and_quarantined_rows_match_the_truth(spark, settings_in, generated_night):
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    report = standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-1")
    expected = generated_night["sources"]["household_registration"]
    assert report.passed
    standard = lake.read(spark, lake.path(settings_in, lake.STANDARD, "household_registration"))
    assert standard.count() == expected["standardised"]
    assert standard.filter(~F.col("identity_number_valid")).count() == 0
    quarantined = lake.read(spark, lake.path(settings_in, *lake.QUARANTINE)).filter("stage = 'standardise'")
    assert quarantined.count() == expected["standardise_quarantined"]
    assert {r.rule_id for r in quarantined.select("rule_id").distinct().collect()} == {"HR-001", "HR-002", "STD-DUPLICATE"}
    written = json.loads((settings_in.reports_dir / NIGHT / "quality" / "standard.household_registration.json").read_text())
    assert written["passed"] is True


def test_a_gate_over_threshold_publishes_nothing(spark, settings_in, generated_night):
    path = settings_in.incoming_dir / NIGHT / "public_security" / "household_registration.csv"
    lines = path.read_bytes().split(b"\n")
    for index in range(1, len(lines), 5):  # a fifth of the numbers lose their check character
        if lines[index][:1].isdigit():
            lines[index] = lines[index][:17] + (b"0" if lines[index][17:18] != b"0" else b"1") + lines[index][18:]
    path.write_bytes(b"\n".join(lines))
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    with pytest.raises(quality.GateFailed, match="not published: gate standard.household_registration: FAILED on HR-002"):
        standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-1")
    assert not lake.exists(spark, lake.path(settings_in, lake.STANDARD, "household_registration"))
    quarantine = lake.read(spark, lake.path(settings_in, *lake.QUARANTINE))
    assert quarantine.filter("stage = 'standardise'").count() == 0


def test_reports_carry_no_identity_number(spark, settings_in, generated_night):
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-1")
    numbers = {r.identity_number for r in lake.read(spark, lake.path(settings_in, lake.STANDARD, "household_registration")).select("identity_number").collect()}
    assert all(identity.is_valid(n) for n in numbers)
    for report in settings_in.reports_dir.rglob("*"):
        if report.is_file():
            text = report.read_text(errors="ignore")
            leaked = [n for n in numbers if n in text]
            assert not leaked, f"{report} carries {len(leaked)} identity numbers"


def test_metrics_are_recorded_and_a_volume_collapse_fails_the_gate(spark, settings_in, generated_night):
    from citylake import metrics_history

    rows_in = generated_night["sources"]["household_registration"]["landed"]
    for night in ("2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"):
        metrics_history.record(spark, settings_in, "household_registration", night, "seed",
                               {"rows_in": (rows_in * 20, None)})
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    with pytest.raises(quality.GateFailed, match=r"FAILED on volume \d+ rows OUTSIDE the expected"):
        standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-1")
    assert not lake.exists(spark, lake.path(settings_in, lake.STANDARD, "household_registration"))
    assert metrics_history.history(spark, settings_in, "household_registration", "rows_in", "2026-11-24")[-1] == rows_in


def test_first_night_is_a_cold_start_and_metrics_accumulate(spark, settings_in, generated_night):
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-1")
    standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-2")  # a rerun
    report = json.loads((settings_in.reports_dir / NIGHT / "quality" / "standard.household_registration.json").read_text())
    assert report["volume"]["status"] == "cold_start"
    history = lake.read(spark, lake.path(settings_in, *lake.METRICS_HISTORY)).collect()
    metrics = {r.metric: r.value for r in history}
    expected = generated_night["sources"]["household_registration"]
    assert metrics["rows_in"] == expected["landed"] and metrics["rows_published"] == expected["standardised"]
    assert metrics["rows_quarantined"] == expected["standardise_quarantined"]
    assert len([r for r in history if r.metric == "rows_in"]) == 1  # the rerun replaced, not appended


@pytest.mark.parametrize("source", ["marriage_registrations", "administrative_penalties"])
def test_a_new_source_is_standardised_from_its_contract_alone(spark, settings_in, generated_night, source):
    """An Excel workbook with two identity numbers per row, and a credit extract whose counterparty
    is a person or an organisation: the counts the generated city says each layer should hold."""
    land.land(spark, settings_in, source, NIGHT, "run-1")
    report = standardise.standardise(spark, settings_in, source, NIGHT, "run-1")
    expected = generated_night["sources"][source]
    assert report.passed
    standard = lake.read(spark, lake.path(settings_in, lake.STANDARD, source))
    assert standard.count() == expected["standardised"] > 0
    if source == "marriage_registrations":
        assert standard.filter("husband_birth_date IS NULL OR wife_birth_date IS NULL").count() == 0
        assert standard.filter("registration_type NOT IN ('结婚', '离婚')").count() == 0
    else:
        assert standard.filter("decision_date IS NULL OR fine_wan IS NULL").count() == 0
        assert standard.filter("party_identifiable").count() >= 0.8 * expected["standardised"]
