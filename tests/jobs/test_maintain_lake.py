import json

import pytest

from citylake import lake
from citylake.settings import load
from tests.conftest import NIGHT, load_job

pytestmark = pytest.mark.spark
maintain_lake = load_job("maintain_lake")


def test_the_job_maintains_the_configured_lake_and_reports(spark, tmp_path, monkeypatch):
    """As spark-submit runs it: settings from the environment, report under reports/<date>/."""
    monkeypatch.setenv("CITYLAKE_ENV", "local")
    monkeypatch.setenv("CITYLAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYLAKE_AUDIT_DAYS", "14")
    settings = load()
    population = lake.path(settings, lake.BASE, "population")
    for night in range(3):
        spark.createDataFrame([(f"42030319800101{night:03d}X", "420303")], "identity_number string, division_code string") \
            .write.format("delta").mode("append").save(population)

    assert maintain_lake.main(["--run-date", NIGHT, "--run-id", "scheduled__2026-11-23"]) == 0

    report = json.loads((tmp_path / "reports" / NIGHT / "maintenance.json").read_text(encoding="utf-8"))
    assert report["audit_days"] == 14 and report["retention_hours"] == 14 * 24
    (table,) = report["tables"]
    assert (table["layer"], table["table"], table["zorder_by"]) == ("base", "population", ["identity_number"])
    assert (table["files_before"], table["files_after"]) == (3, 1)
    history = {row.operation: row for row in spark.sql(f"DESCRIBE HISTORY delta.`{population}`").collect()}
    assert history["OPTIMIZE"].operationParameters["zOrderBy"] == '["identity_number"]'
    assert history["VACUUM START"].operationParameters["defaultRetentionMillis"] == str(14 * 24 * 3600 * 1000)
    assert table["retention_hours"] == 14 * 24
    assert spark.read.format("delta").option("versionAsOf", 0).load(population).count() == 1
