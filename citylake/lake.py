"""Where each table of the lake lives, and the few ways citylake writes Delta.

Layers, as the city's platforms name them: raw (贴源, as delivered) -> standard (标准库) ->
base (基础库: population, legal_entity) -> theme (主题库, curated for analysts); ops holds the
landing ledger and the quarantine.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from citylake.settings import Settings

RAW, STANDARD, BASE, THEME, OPS = "raw", "standard", "base", "theme", "ops"
LANDING_LEDGER = (OPS, "landing_ledger")
QUARANTINE = (OPS, "quarantine")
METRICS_HISTORY = (OPS, "metrics_history")

LEDGER_SCHEMA = StructType(
    [
        StructField("source", StringType(), False),
        StructField("batch_id", StringType(), False),
        StructField("run_id", StringType(), True),
        StructField("file", StringType(), True),
        StructField("status", StringType(), False),  # landed | rejected
        StructField("reason", StringType(), True),
        StructField("rows_read", LongType(), False),
        StructField("rows_landed", LongType(), False),
        StructField("rows_quarantined", LongType(), False),
        StructField("new_columns", StringType(), True),
        StructField("recorded_at", TimestampType(), False),
    ]
)

METRICS_SCHEMA = StructType(
    [
        StructField("run_date", StringType(), False),
        StructField("run_id", StringType(), True),
        StructField("table", StringType(), False),
        StructField("metric", StringType(), False),  # rows_in, rows_published, violations:<rule>, ...
        StructField("value", DoubleType(), True),
        StructField("note", StringType(), True),
        StructField("recorded_at", TimestampType(), False),
    ]
)

QUARANTINE_SCHEMA = StructType(
    [
        StructField("quarantine_id", StringType(), False),  # stable: batch, stage and line
        StructField("status", StringType(), False),  # open | replayed
        StructField("source", StringType(), False),
        StructField("batch_id", StringType(), False),
        StructField("run_id", StringType(), True),
        StructField("stage", StringType(), False),  # landing | standardise
        StructField("rule_id", StringType(), False),
        StructField("reason", StringType(), False),
        StructField("file", StringType(), True),
        StructField("line_number", IntegerType(), True),
        StructField("record", StringType(), True),
        StructField("quarantined_at", TimestampType(), False),
    ]
)


def batch_id(source: str, run_date: str) -> str:
    return f"{source}/{run_date}"


def path(settings: Settings, layer: str, name: str) -> str:
    return settings.table_path(layer, name)


def exists(spark: SparkSession, table_path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, table_path)


def replace_where(frame: DataFrame, table_path: str, predicate: str) -> None:
    """Overwrites exactly the rows matching the predicate (one batch): reruns are idempotent.

    New columns are merged into the schema (schema drift keeps unknown columns).
    """
    (
        frame.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", predicate)
        .option("mergeSchema", "true")
        .save(table_path)
    )


def overwrite(frame: DataFrame, table_path: str) -> None:
    frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(table_path)


def read(spark: SparkSession, table_path: str) -> DataFrame:
    return spark.read.format("delta").load(table_path)


def sql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quarantine_id(batch: str, stage: str, line_number: int) -> str:
    """Stable identifier of a quarantined row (the Spark twin is quarantine_id_col)."""
    import hashlib

    return hashlib.sha1(f"{batch}|{stage}|{line_number}".encode()).hexdigest()[:16]


def quarantine_id_col(batch, stage, line_number):
    from pyspark.sql import functions as F

    return F.substring(F.sha1(F.concat_ws("|", batch, stage, line_number.cast("string"))), 1, 16)
