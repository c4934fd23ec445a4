"""Weekly upkeep of every Delta table in the lake: compaction, Z-order on lookup keys, VACUUM.

Nightly batches arrive as many small files (a replaceWhere per source and night, an append per
night's metrics). For every table found under the lake's layers (raw, standard, base, theme, ops,
wherever the lake lives: the folders are listed through Hadoop's FileSystem, so s3a:// works as
well as a local folder):

1. OPTIMIZE: bin-packing compaction, Z-ordered on the keys the table is looked up by
   (`zorder_columns`): a standard table on its contract's keys, the base libraries on identity
   number and credit code, ops/quarantine on (source, batch_id), ops/metrics_history on
   (table, metric); raw tables and the landing ledger are only compacted. A table that has not
   changed since its last OPTIMIZE is left as it is (Z-order rewrites every file, every time).
2. VACUUM, keeping the audit window (CITYLAKE_AUDIT_DAYS, 30): any version committed within the
   window stays readable by time travel. In Delta 4.4 the window has to be the table's own
   property: VACUUM ignores a RETAIN shorter or longer than ``delta.deletedFileRetentionDuration``
   (``spark.databricks.delta.vacuum.retentionWindowIgnore.enabled``, on by default), time travel
   past that duration is refused (``vacuum.enforceTimeTravelWithinDeletedFileRetentionDuration``)
   and the log must be kept at least as long (``logRetentionDuration``, or the commits to travel
   back to are cleaned up at checkpoints). So each table first carries the window as both
   ``delta.deletedFileRetentionDuration`` and ``delta.logRetentionDuration``; VACUUM then asks for
   exactly days * 24 hours too, which equals the table's duration, so Delta's retention-duration
   check (``retentionDurationCheck.enabled``, left on) is met on its own terms wherever RETAIN is
   honoured. The retention Delta really applied is read back from the table's history (VACUUM
   START, recorded because maintenance turns vacuum logging on) into the report.

The report (per table: Z-order keys, files and bytes before and after, files vacuumed, the
retention and the versions kept) goes to reports/<date>/maintenance.json. Counts only: no value
of any record appears in it. Compaction does not change a table's content, so the maintenance job
declares no asset events.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pyspark.sql import SparkSession

from citylake import contracts, lake, storage
from citylake.settings import Settings

log = logging.getLogger("citylake.maintenance")

# Lookup keys by table; standard tables take their contract's keys.
ZORDER_KEYS: dict[tuple[str, str], list[str]] = {
    (lake.BASE, "population"): ["identity_number"],
    (lake.BASE, "legal_entity"): ["credit_code"],
    (lake.BASE, "population_records"): ["record_key"],
    (lake.BASE, "legal_entity_records"): ["record_key"],
    (lake.BASE, "credit"): ["record_key"],
    (lake.THEME, "enterprise_legal_representative"): ["credit_code"],
    (lake.THEME, "entity_credit_profile"): ["credit_code"],
    (lake.THEME, "person_profile"): ["person_id"],
    lake.QUARANTINE: ["source", "batch_id"],
    lake.METRICS_HISTORY: ["table", "metric"],
}
DEFAULT_INDEXED_COLUMNS = 32  # delta.dataSkippingNumIndexedCols: Z-order needs a key's statistics


@dataclass
class TableReport:
    layer: str
    table: str
    path: str
    zorder_by: list[str]
    files_before: int
    bytes_before: int
    files_after: int = 0
    bytes_after: int = 0
    optimized: bool = False
    files_rewritten: int = 0  # by OPTIMIZE: small files read ...
    files_written: int = 0  # ... and the compacted files written in their place
    files_vacuumed: int = 0
    retention_hours: int = 0  # as applied by VACUUM (read back from the table's history)
    current_version: int = 0
    oldest_version_in_window: int = 0
    versions_in_window: int = 0
    notes: list[str] = field(default_factory=list)


def retention_hours(settings: Settings) -> int:
    """VACUUM's retention: the audit window in hours."""
    return settings.audit_days * 24


def applied_retention_hours(vacuum_start: dict[str, str]) -> int:
    """The retention a VACUUM applied, from its VACUUM START parameters: the RETAIN it was given
    when Delta honoured it, else the table's deletedFileRetentionDuration."""
    millis = vacuum_start.get("specifiedRetentionMillis") or vacuum_start["defaultRetentionMillis"]
    return int(millis) // 3_600_000


def discover(settings: Settings) -> list[tuple[str, str]]:
    """(layer, table) of every Delta table under the lake's layers: each folder of a layer that
    holds a _delta_log, listed by this process (the lake folder, or the bucket with boto3)."""
    tables = []
    root = settings.lake_root.rstrip("/")
    if root.startswith(("s3a://", "s3://")):
        bucket, _, prefix = root.split("://", 1)[1].partition("/")
        client = storage.s3_client(settings)
        for layer in lake.LAYERS:
            folders = set()
            for page in client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=f"{prefix}/{layer}/".lstrip("/"), Delimiter="/"):
                folders |= {entry["Prefix"] for entry in page.get("CommonPrefixes", [])}
            for folder in folders:
                if client.list_objects_v2(Bucket=bucket, Prefix=f"{folder}_delta_log/", MaxKeys=1).get("KeyCount"):
                    tables.append((layer, folder.rstrip("/").rsplit("/", 1)[-1]))
    else:
        for layer in lake.LAYERS:
            folder = Path(root.removeprefix("file:")) / layer
            if folder.is_dir():
                tables += [(layer, table.name) for table in folder.iterdir()
                           if table.is_dir() and (table / "_delta_log").is_dir()]
    return sorted(tables, key=lambda table: (lake.LAYERS.index(table[0]), table[1]))


def zorder_columns(layer: str, table: str, columns: list[str],
                   known: dict[str, contracts.Contract] | None = None) -> list[str]:
    """The table's lookup keys that it has; none for raw tables and the landing ledger."""
    if layer == lake.STANDARD:
        known = contracts.load_all() if known is None else known
        keys = known[table].keys if table in known else []
    else:
        keys = ZORDER_KEYS.get((layer, table), [])
    return [key for key in keys if key in columns]


def _indexed_columns(columns: list[str], properties: dict[str, str]) -> list[str]:
    """Columns Delta collects statistics for (Z-order refuses the others)."""
    if properties.get("delta.dataSkippingStatsColumns"):
        return [c.strip().strip("`") for c in properties["delta.dataSkippingStatsColumns"].split(",")]
    count = int(properties.get("delta.dataSkippingNumIndexedCols", DEFAULT_INDEXED_COLUMNS))
    return columns if count < 0 else columns[:count]


def keep_audit_window(spark: SparkSession, table_path: str, days: int,
                      properties: dict[str, str]) -> bool:
    """Sets the table's file and log retention to the audit window; True when it changed them."""
    wanted = {"delta.deletedFileRetentionDuration": f"interval {days} days",
              "delta.logRetentionDuration": f"interval {days} days"}
    if all(properties.get(key) == value for key, value in wanted.items()):
        return False
    assignments = ", ".join(f"'{key}' = '{value}'" for key, value in wanted.items())
    lake.with_commit_retry(
        lambda: spark.sql(f"ALTER TABLE delta.`{table_path}` SET TBLPROPERTIES ({assignments})"),
        f"{table_path}: audit window",
    )
    return True


def _changed_since_optimize(history: list) -> bool:
    """Whether anything but VACUUM and property changes was committed since the last OPTIMIZE."""
    for entry in history:  # newest first
        if entry.operation == "OPTIMIZE":
            return False
        if entry.operation not in ("VACUUM START", "VACUUM END", "SET TBLPROPERTIES"):
            return True
    return True


def maintain_table(spark: SparkSession, settings: Settings, layer: str, table: str,
                   known: dict[str, contracts.Contract] | None = None) -> TableReport:
    # VACUUM START / END in the table's history: the audit trail of what was deleted, and the
    # retention applied. Like OPTIMIZE, they commit while maintenance holds the writers' pool.
    spark.conf.set("spark.databricks.delta.vacuum.logging.enabled", "true")
    # VACUUM lists the table's folders with spark.sql.sources.parallelPartitionDiscovery.parallelism
    # tasks, 10,000 by default even for one folder: minutes of empty tasks per table, on 2 cores.
    # Our tables are not partitioned; a few tasks per core list them.
    spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.parallelism", str(max(8, 4 * (os.cpu_count() or 2))))
    path = lake.path(settings, layer, table)
    table_sql = f"delta.`{path}`"
    detail = lake.detail(spark, path)
    columns = lake.read(spark, path).columns
    keys = zorder_columns(layer, table, columns, known)
    report = TableReport(layer, table, path, keys, detail.numFiles, detail.sizeInBytes)
    indexed = _indexed_columns(columns, detail.properties)
    unindexed = [key for key in keys if key not in indexed]
    if unindexed:
        report.notes.append(f"not Z-ordered on {unindexed}: Delta keeps no statistics for them")
        report.zorder_by = keys = [key for key in keys if key in indexed]

    if keep_audit_window(spark, path, settings.audit_days, detail.properties):
        report.notes.append(f"retention set to the audit window ({settings.audit_days} days)")
    if _changed_since_optimize(spark.sql(f"DESCRIBE HISTORY {table_sql} LIMIT 50").collect()):
        zorder = f" ZORDER BY ({', '.join(f'`{key}`' for key in keys)})" if keys else ""
        metrics = lake.with_commit_retry(
            lambda: spark.sql(f"OPTIMIZE {table_sql}{zorder}").first().metrics, f"{path}: OPTIMIZE")
        report.optimized = True
        report.files_rewritten, report.files_written = metrics.numFilesRemoved, metrics.numFilesAdded
    else:
        report.notes.append("unchanged since its last OPTIMIZE")

    spark.sql(f"VACUUM {table_sql} RETAIN {retention_hours(settings)} HOURS").collect()
    history = spark.sql(f"DESCRIBE HISTORY {table_sql}").select(
        "version", "timestamp", "operation", "operationParameters", "operationMetrics").collect()  # newest first
    vacuum = {}
    for entry in history:
        if entry.operation.startswith("VACUUM"):
            vacuum.setdefault(entry.operation, entry)
    if "VACUUM START" in vacuum:
        report.retention_hours = applied_retention_hours(vacuum["VACUUM START"].operationParameters)
    if "VACUUM END" in vacuum:
        report.files_vacuumed = int(vacuum["VACUUM END"].operationMetrics.get("numDeletedFiles", 0))
    cutoff = datetime.now() - timedelta(days=settings.audit_days)  # collected timestamps are local too
    in_window = [entry.version for entry in history if entry.timestamp >= cutoff]
    after = lake.detail(spark, path)
    report.files_after, report.bytes_after = after.numFiles, after.sizeInBytes
    report.current_version = history[0].version
    report.oldest_version_in_window = min(in_window, default=report.current_version)
    report.versions_in_window = len(in_window)
    return report


def maintain(spark: SparkSession, settings: Settings, run_date: str) -> dict:
    """Maintains every table of the lake and writes reports/<date>/maintenance.json."""
    known = contracts.load_all()
    tables = []
    for layer, table in discover(settings):
        report = maintain_table(spark, settings, layer, table, known)
        log.info("%s/%s: %d -> %d files, Z-order %s, %d vacuumed, versions %d..%d kept",
                 layer, table, report.files_before, report.files_after, report.zorder_by or "-",
                 report.files_vacuumed, report.oldest_version_in_window, report.current_version)
        tables.append(asdict(report))
    summary = {
        "run_date": run_date,
        "environment": settings.env,
        "lake_root": settings.lake_root,
        "audit_days": settings.audit_days,
        "retention_hours": retention_hours(settings),
        "tables": tables,
    }
    out = report_path(settings, run_date)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return summary


def report_path(settings: Settings, run_date: str) -> Path:
    return settings.reports_dir / run_date / "maintenance.json"
