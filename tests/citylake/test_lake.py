import pytest
from pyspark.sql import functions as F

from citylake import lake


def test_sql_literal_escapes_quotes():
    assert lake.sql_literal("a'b\\c") == "'a\\'b\\\\c'"


@pytest.mark.spark
def test_quarantine_id_twins_agree(spark):
    rows = [("household_registration/2026-11-23", "landing", 2), ("enterprise_registry/2026-11-24", "standardise", 9876)]
    frame = spark.createDataFrame(rows, "batch string, stage string, line int")
    ids = [r.id for r in frame.select(lake.quarantine_id_col(F.col("batch"), F.col("stage"), F.col("line")).alias("id")).collect()]
    assert ids == [lake.quarantine_id(*row) for row in rows]
    assert len(set(ids)) == 2 and all(len(i) == 16 for i in ids)
