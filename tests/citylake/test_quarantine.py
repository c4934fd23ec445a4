import csv

import pytest
from click.testing import CliRunner
from pyspark.sql import functions as F

from citylake import identity, lake, quarantine
from citylake.cli import main as cli
from tests.conftest import NIGHT, load_job

pytestmark = pytest.mark.spark
land = load_job("land")
standardise = load_job("standardise")


@pytest.fixture
def quarantined_night(spark, settings_in, generated_night):
    # a line with the wrong number of fields, so that the landing stage quarantines one line too
    extract = settings_in.incoming_dir / NIGHT / "public_security" / "household_registration.csv"
    with extract.open("ab") as handle:
        handle.write("损坏的行,2\n".encode("gbk"))
    land.land(spark, settings_in, "household_registration", NIGHT, "run-1")
    standardise.standardise(spark, settings_in, "household_registration", NIGHT, "run-1")
    return generated_night["sources"]["household_registration"]


def _correct(export, corrected):
    """Fixes the check character of every 18-character number; leaves missing ones alone."""
    with export.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fixed = 0
    for row in rows:
        number = row["identity_number"]
        if len(number) == 18:
            row["identity_number"] = number[:17] + identity.check_char(number[:17])
            fixed += 1
    with corrected.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows), fixed


def test_export_correct_and_replay_is_idempotent(spark, settings_in, quarantined_night, tmp_path):
    export = tmp_path / "export.csv"
    exported = quarantine.export(spark, settings_in, "household_registration", NIGHT, export)
    assert exported == quarantined_night["standardise_quarantined"]
    total, fixed = _correct(export, tmp_path / "corrected.csv")
    assert 0 < fixed < total  # missing numbers cannot be corrected this way

    standard = lake.path(settings_in, lake.STANDARD, "household_registration")
    for attempt in range(2):
        counts = quarantine.replay(spark, settings_in, "household_registration", NIGHT, tmp_path / "corrected.csv", "replay")
        assert counts == {"published": fixed, "still_quarantined": total - fixed}, attempt
        assert lake.read(spark, standard).count() == quarantined_night["standardised"] + fixed
        statuses = {r.status: r["count"] for r in lake.read(spark, lake.path(settings_in, *lake.QUARANTINE))
                    .filter("stage = 'standardise'").groupBy("status").count().collect()}
        assert statuses == {"replayed": fixed, "open": total - fixed}
    published = lake.read(spark, standard).filter(F.col("_batch_id") == f"household_registration/{NIGHT}")
    assert published.filter(~F.col("identity_number_valid")).count() == 0
    assert published.groupBy("_line_number").count().filter("count > 1").count() == 0


def test_replay_refuses_unknown_rows(spark, settings_in, quarantined_night, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("quarantine_id,identity_number,name,sex,ethnicity,birth_date,household_address,division_code\n"
                   "feedfeedfeedfeed,1,张三,1,01,2000-01-01,,420302\n", encoding="utf-8")
    with pytest.raises(quarantine.ReplayError, match="bad.csv: quarantine_id\\(s\\) not in batch household_registration/2026-11-23: feedfeedfeedfeed"):
        quarantine.replay(spark, settings_in, "household_registration", NIGHT, bad, "replay")


def test_list_command_counts_without_values(settings_in, quarantined_night):
    result = CliRunner().invoke(cli, ["quarantine", "list", "--source", "household_registration"],
                                env={"CITYLAKE_DATA_DIR": str(settings_in.data_dir)})
    assert result.exit_code == 0, result.output
    assert "HR-002" in result.output and " landing " in result.output and " open " in result.output
    import re

    assert not [n for n in re.findall(r"[0-9]{17}[0-9X]", result.output) if identity.is_valid(n)]
