"""Working with ops/quarantine: list it, export rows for correction, replay corrections.

A data engineer exports a night's open standardise-stage rows of a source to CSV (standard
field names, one row per quarantined record, keyed by quarantine_id), corrects values, and
replays the file. Replay runs the source's standardisation and the row rules of its suite on the
corrected rows: rows that now pass are published into standard/<source> in place of their
original line (a MERGE on batch and line) and marked ``replayed``; rows that still fail stay
``open`` with their new reason. Replaying the same file again leaves the same tables.

Exports hold personal data in clear: they belong in the engineers' restricted workspace.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import contracts, lake, quality
from citylake.settings import Settings
from citylake.standardise import standardise


class ReplayError(ValueError):
    pass


def _table(spark: SparkSession, settings: Settings) -> DataFrame:
    path = lake.path(settings, *lake.QUARANTINE)
    if not lake.exists(spark, path):
        return spark.createDataFrame([], lake.QUARANTINE_SCHEMA)
    return lake.read(spark, path)


def summary(spark: SparkSession, settings: Settings, source: str | None = None,
            run_date: str | None = None) -> list[dict]:
    """Counts per source, batch, stage, rule and status (no record values)."""
    frame = _table(spark, settings)
    if source:
        frame = frame.filter(F.col("source") == source)
    if run_date:
        frame = frame.filter(F.col("batch_id").endswith(f"/{run_date}"))
    grouped = (
        frame.groupBy("source", "batch_id", "stage", "rule_id", "reason", "status")
        .agg(F.count(F.lit(1)).alias("rows"))
        .orderBy("source", "batch_id", "stage", "rule_id", "status")
    )
    return [row.asDict() for row in grouped.collect()]


def export(spark: SparkSession, settings: Settings, source: str, run_date: str, out: Path) -> int:
    """Writes the night's open standardise-stage rows of the source to a CSV for correction."""
    contract = contracts.load(source)
    fields = list(contract.mapping.values())
    rows = (
        _table(spark, settings)
        .filter((F.col("batch_id") == lake.batch_id(source, run_date))
                & (F.col("stage") == "standardise") & (F.col("status") == "open"))
        .orderBy("line_number")
        .collect()
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["quarantine_id", "line_number", "rule_id", "reason", *fields])
        for row in rows:
            record = json.loads(row.record or "{}")
            writer.writerow([row.quarantine_id, row.line_number, row.rule_id, row.reason,
                             *[_text(record.get(field)) for field in fields]])
    return len(rows)


def _text(value) -> str:
    return "" if value is None else str(value)


def replay(spark: SparkSession, settings: Settings, source: str, run_date: str, corrections: Path,
           run_id: str) -> dict[str, int]:
    """Replays corrected rows; returns how many were published and how many stay quarantined."""
    contract = contracts.load(source)
    fields = list(contract.mapping.values())
    batch = lake.batch_id(source, run_date)
    with corrections.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in ["quarantine_id", *fields] if name not in (reader.fieldnames or [])]
        if missing:
            raise ReplayError(f"{corrections}: missing column(s) {', '.join(missing)}")
        corrected = [{name: (row[name] or None) for name in ["quarantine_id", *fields]} for row in reader]
    if not corrected:
        return {"published": 0, "still_quarantined": 0}

    originals = _table(spark, settings).filter(
        (F.col("batch_id") == batch) & (F.col("stage") == "standardise")
    ).select("quarantine_id", "source", "batch_id", "file", "line_number")
    frame = spark.createDataFrame(corrected, ", ".join(f"`{n}` string" for n in ["quarantine_id", *fields]))
    joined = frame.join(originals, "quarantine_id", "left")
    unknown = [r.quarantine_id for r in joined.filter(F.col("batch_id").isNull()).select("quarantine_id").collect()]
    if unknown:
        raise ReplayError(f"{corrections}: quarantine_id(s) not in batch {batch}: {', '.join(unknown[:5])}")

    mapped = joined.select(
        "quarantine_id",
        *fields,
        F.col("source").alias("_source"),
        F.col("batch_id").alias("_batch_id"),
        F.col("file").alias("_file"),
        F.col("line_number").alias("_line_number"),
        F.current_timestamp().alias("_ingested_at"),
    )
    checked = standardise(mapped, contract).persist()
    _, rules = quality.load_suite(f"standard.{source}")
    clean, still = quality.split_quarantine(checked, rules)

    standard_path = lake.path(settings, lake.STANDARD, source)
    standard_columns = lake.read(spark, standard_path).columns
    published = clean.select(*standard_columns)
    _merge(spark, standard_path, published, "t._batch_id = s._batch_id AND t._line_number = s._line_number")

    record_columns = [c for c in checked.columns if not c.startswith("_") and c != "quarantine_id"]
    updates = (
        clean.select("quarantine_id", F.lit("replayed").alias("status"), F.lit(None).cast("string").alias("_rule_id"),
                     F.lit(None).cast("string").alias("_reason"), *record_columns)
        .unionByName(still.select("quarantine_id", F.lit("open").alias("status"), "_rule_id", "_reason",
                                  *record_columns))
        .select(
            "quarantine_id", "status",
            F.to_json(F.struct(*record_columns)).alias("record"),
            "_rule_id", "_reason",
        )
    )
    lake.merge(spark, lake.path(settings, *lake.QUARANTINE), updates, "t.quarantine_id = s.quarantine_id",
               f"WHEN MATCHED THEN UPDATE SET status = s.status, record = s.record, "
               f"run_id = {lake.sql_literal(run_id)}, rule_id = coalesce(s._rule_id, t.rule_id), "
               "reason = coalesce(s._reason, t.reason)")
    counts = {"published": clean.count(), "still_quarantined": still.count()}
    checked.unpersist()
    return counts


def _merge(spark: SparkSession, path: str, rows: DataFrame, condition: str) -> None:
    lake.merge(spark, path, rows, condition, "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")