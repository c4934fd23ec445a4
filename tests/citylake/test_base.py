import pytest

from citylake.base import latest_per_key

pytestmark = pytest.mark.spark


def test_latest_record_wins_and_provenance_is_kept(spark):
    standard = spark.createDataFrame(
        [
            ("A", "old name", "hr", "hr/2026-11-22", 9),
            ("A", "new name", "hr", "hr/2026-11-23", 2),
            ("A", "same night, earlier line", "hr", "hr/2026-11-23", 1),
            ("B", "only", "hr", "hr/2026-11-23", 5),
            (None, "no key", "hr", "hr/2026-11-23", 6),
        ],
        "k string, name string, _source string, _batch_id string, _line_number int",
    )
    rows = {r.k: r for r in latest_per_key(standard, "k", ["k", "name"]).collect()}
    assert set(rows) == {"A", "B"}
    assert rows["A"].name == "new name" and rows["A"].source_records == 3
    assert (rows["A"].provenance_batch, rows["A"].provenance_line) == ("hr/2026-11-23", 2)
