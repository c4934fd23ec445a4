"""jobs/standardise.py and the base libraries under hostile and faulty deliveries: rows delivered
again, optional columns never delivered, nights that fail their gate, re-deliveries.

A night that fails its gate is never what a library reads: the ledger says failed, standard holds
nothing of it, and the population is built from the source's last published night.
"""

import csv
import io
import json

import pytest
from pyspark.sql import functions as F

from citylake import contracts, identity, lake, quality
from tests.conftest import NIGHT, load_job

pytestmark = pytest.mark.spark
land = load_job("land")
standardise = load_job("standardise")
build_base = load_job("build_base")

SOURCE = "household_registration"
NEXT_NIGHT = "2026-11-24"


def extract_path(settings, night=NIGHT):
    return settings.incoming_dir / night / "public_security" / f"{SOURCE}.csv"


def read_extract(settings, night=NIGHT) -> tuple[list[str], list[list[str]]]:
    lines = list(csv.reader(io.StringIO(extract_path(settings, night).read_bytes().decode("gbk", "replace"))))
    return lines[0], lines[1:]


def write_extract(settings, header, rows, night=NIGHT) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    path = extract_path(settings, night)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode("gbk", "replace"))


def clean_rows(settings) -> tuple[list[str], list[list[str]]]:
    """The generated extract without its damaged lines (they would land as quarantined anyway)."""
    header, rows = read_extract(settings)
    return header, [row for row in rows if len(row) == len(header) and "\ufffd" not in "".join(row)]


def broken(number: str) -> str:
    """An identity number with a wrong check character (the gate's HR rules refuse it)."""
    if len(number) < 17 or not number[:17].isdigit():
        return number + "#"
    return number[:17] + ("1" if identity.check_char(number[:17]) == "0" else "0")


def distinct_valid(rows) -> list[list[str]]:
    """Rows whose identity number is valid and on no other row (the generator re-sends some)."""
    numbers = [identity.normalise(row[0]) for row in rows]
    return [row for row, number in zip(rows, numbers) if identity.is_valid(number) and numbers.count(number) == 1]


def night_of(spark, settings, night=NIGHT, run="run-1"):
    land.land(spark, settings, SOURCE, night, run)
    return standardise.standardise(spark, settings, SOURCE, night, run)


def ledger_entry(spark, settings, night=NIGHT):
    (row,) = lake.read(spark, lake.path(settings, *lake.LANDING_LEDGER)).where(
        F.col("batch_id") == lake.batch_id(SOURCE, night)).collect()
    return row


def standard_batch(spark, settings, night=NIGHT):
    path = lake.path(settings, lake.STANDARD, SOURCE)
    return lake.read(spark, path).where(F.col("_batch_id") == lake.batch_id(SOURCE, night))


def duplicates_quarantined(spark, settings, night=NIGHT):
    return (lake.read(spark, lake.path(settings, *lake.QUARANTINE))
            .where((F.col("batch_id") == lake.batch_id(SOURCE, night)) & (F.col("rule_id") == "STD-DUPLICATE")))


@pytest.fixture
def with_duplicates_rule(tmp_path, monkeypatch):
    """The real contracts, household registration's ``duplicates`` rule set to the one given."""
    def declare(rule: str) -> None:
        folder = tmp_path / "sources"
        folder.mkdir(exist_ok=True)
        for path in contracts.SOURCES_DIR.glob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            if path.stem == SOURCE:
                text = text.replace("keys: [identity_number]", f"keys: [identity_number]\nduplicates: {rule}")
            (folder / path.name).write_text(text, encoding="utf-8")
        monkeypatch.setattr(contracts.load, "__defaults__", (folder,))
    return declare


def test_hostile_row_delivered_three_times_is_published_once_the_rest_quarantined(spark, settings_in, generated_night):
    header, rows = clean_rows(settings_in)
    rows = distinct_valid(rows)
    write_extract(settings_in, header, rows + [rows[0], rows[0]])
    night_of(spark, settings_in)
    number = identity.normalise(rows[0][0])
    published = standard_batch(spark, settings_in)
    assert published.where(F.col("identity_number") == number).count() == 1
    kept = published.where(F.col("identity_number") == number).first()._line_number
    assert kept == len(rows) + 3  # the latest line
    (copy_one, copy_two) = sorted(duplicates_quarantined(spark, settings_in).collect(), key=lambda r: r.line_number)
    assert (copy_one.line_number, copy_two.line_number) == (2, len(rows) + 2)
    assert copy_one.reason == f"key (identity_number) delivered again on line {kept}, the latest, which is kept"
    entry = ledger_entry(spark, settings_in)
    assert (entry.status, entry.rows_read, entry.rows_duplicated) == ("published", len(rows) + 2, 2)
    assert entry.rows_published == published.count()


def test_hostile_duplicates_rule_quarantine_takes_every_row_of_the_key_out(spark, settings_in, generated_night,
                                                                         with_duplicates_rule):
    with_duplicates_rule("quarantine")
    header, rows = clean_rows(settings_in)
    rows = distinct_valid(rows)
    write_extract(settings_in, header, rows + [rows[0], rows[0]])
    night_of(spark, settings_in)
    assert standard_batch(spark, settings_in).where(
        F.col("identity_number") == identity.normalise(rows[0][0])).count() == 0
    reasons = {r.reason for r in duplicates_quarantined(spark, settings_in).collect()}
    assert reasons == {"key (identity_number) delivered on 3 lines; contract rule duplicates: quarantine"}
    assert duplicates_quarantined(spark, settings_in).count() == 3
    assert ledger_entry(spark, settings_in).rows_duplicated == 3


def test_hostile_duplicates_rule_fail_fails_the_gate_and_publishes_nothing(spark, settings_in, generated_night,
                                                                         with_duplicates_rule):
    with_duplicates_rule("fail")
    header, rows = clean_rows(settings_in)
    rows = distinct_valid(rows)
    write_extract(settings_in, header, rows + [rows[0]])
    with pytest.raises(quality.GateFailed, match=r"FAILED on 2 row\(s\) of keys \(identity_number\) delivered more"):
        night_of(spark, settings_in)
    entry = ledger_entry(spark, settings_in)
    assert (entry.status, entry.rows_duplicated, entry.rows_published) == ("failed", 2, None)
    assert not lake.exists(spark, lake.path(settings_in, lake.STANDARD, SOURCE)) or standard_batch(spark, settings_in).count() == 0


def test_hostile_optional_column_never_delivered_standardises_as_null(spark, settings_in, generated_night):
    header, rows = clean_rows(settings_in)
    dropped = header.index("户籍地址")  # optional in the contract
    write_extract(settings_in, [h for i, h in enumerate(header) if i != dropped],
                  [[v for i, v in enumerate(row) if i != dropped] for row in rows])
    report = night_of(spark, settings_in)
    assert report.passed
    published = standard_batch(spark, settings_in)
    assert published.count() > 0 and published.where(F.col("household_address").isNotNull()).count() == 0
    assert ledger_entry(spark, settings_in).status == "published"


def test_hostile_gate_failed_redelivery_withdraws_the_batch_and_says_failed(spark, settings_in, generated_night):
    night_of(spark, settings_in)
    assert ledger_entry(spark, settings_in).status == "published"
    header, rows = clean_rows(settings_in)
    write_extract(settings_in, header, [[broken(row[0]), *row[1:]] for row in rows])  # bad check character
    land.land(spark, settings_in, SOURCE, NIGHT, "run-2")
    assert ledger_entry(spark, settings_in).status == "landed"
    assert standard_batch(spark, settings_in).count() == 0  # landed again: not standardised yet
    with pytest.raises(quality.GateFailed):
        standardise.standardise(spark, settings_in, SOURCE, NIGHT, "run-2")
    entry = ledger_entry(spark, settings_in)
    assert entry.status == "failed" and "HR-" in entry.reason and entry.rows_read == len(rows)
    assert not any(broken(row[0]) in entry.reason for row in rows)
    assert standard_batch(spark, settings_in).count() == 0


def test_hostile_gate_failed_source_leaves_the_population_as_the_last_good_night_built_it(
        spark, settings_in, generated_night):
    night_of(spark, settings_in)
    build_base.build(spark, settings_in, "population", NIGHT, "run-1")
    population = lake.path(settings_in, lake.BASE, "population")
    first = {row.person_id: row for row in lake.read(spark, population).collect()}

    # the next night household registration delivers an extract that fails its gate
    header, rows = clean_rows(settings_in)
    write_extract(settings_in, header, [[broken(row[0]), *row[1:]] for row in rows], night=NEXT_NIGHT)
    with pytest.raises(quality.GateFailed):
        night_of(spark, settings_in, NEXT_NIGHT, "run-2")
    assert ledger_entry(spark, settings_in, NEXT_NIGHT).status == "failed"
    build_base.build(spark, settings_in, "population", NEXT_NIGHT, "run-2")

    second = {row.person_id: row for row in lake.read(spark, population).collect()}
    assert set(second) == set(first) and len(first) > 100
    compared = [name for name in lake.read(spark, population).columns if name not in lake.RUN_COLUMNS
                and name not in ("night", "valid_to", "built_at")]
    assert all([second[key][name] for name in compared] == [first[key][name] for name in compared] for key in first)
    report = json.loads((settings_in.reports_dir / NEXT_NIGHT / "quality" / "base.population.json").read_text())
    assert any("household_registration: latest published batch 2026-11-23 is 1 day(s) old" in line
               and "tonight's batch is failed, not published, so 2026-11-23 is read" in line
               for line in report["freshness"])
