"""Reading and appending ops/metrics_history, the Delta table of every night's metrics."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.settings import Settings


def history(spark: SparkSession, settings: Settings, table: str, metric: str, before: str) -> list[int]:
    """The metric's values on nights before ``before``, oldest first (one per night)."""
    path = lake.path(settings, *lake.METRICS_HISTORY)
    if not lake.exists(spark, path):
        return []
    rows = (
        lake.read(spark, path)
        .filter((F.col("table") == table) & (F.col("metric") == metric) & (F.col("run_date") < before))
        .groupBy("run_date")
        .agg(F.max_by("value", "recorded_at").alias("value"))
        .orderBy("run_date")
        .collect()
    )
    return [int(row.value) for row in rows if row.value is not None]


def record(
    spark: SparkSession,
    settings: Settings,
    table: str,
    run_date: str,
    run_id: str,
    metrics: dict[str, tuple[float | None, str | None]],
) -> None:
    """Replaces this night's metrics of the table (a rerun leaves one set per night)."""
    now = datetime.now()
    rows = [
        (run_date, run_id, table, name, None if value is None else float(value), note, now)
        for name, (value, note) in sorted(metrics.items())
    ]
    frame = spark.createDataFrame(rows, lake.METRICS_SCHEMA)
    predicate = f"run_date = {lake.sql_literal(run_date)} AND `table` = {lake.sql_literal(table)}"
    lake.replace_where(frame, lake.path(settings, *lake.METRICS_HISTORY), predicate)
