"""Where each table of the lake lives, and the few ways citylake writes Delta.

Layers, as the city's platforms name them: raw (贴源, as delivered) -> standard (标准库) ->
base (基础库: population, legal_entity) -> theme (主题库, curated for analysts); ops holds the
landing ledger and the quarantine.

Concurrent writers. Every source's land and standardise tasks write the shared ops tables
(ops/quarantine, ops/landing_ledger, ops/metrics_history), each its own batch through replaceWhere
on a disjoint predicate. The rows never overlap, but Delta cannot prove that for a predicate on a
column the table is not partitioned by: when two such writes commit at once the later one fails
with ConcurrentAppendException (or ProtocolChangedException when both create the table). Both
writes are idempotent (they replace exactly their batch), so `replace_where` and `overwrite` retry
on Delta's commit conflicts with capped exponential backoff and full jitter (`with_commit_retry`):
nothing is lost and nothing needs partitioning or rewriting. (Partitioning the ops tables by
source was the alternative: every replaceWhere predicate would have to name the partition, and
existing tables would have to be rewritten.)

Retrying relies on Delta seeing the conflict. It does between writers sharing a driver (threads
of one session: Delta orders their commits), on HDFS (atomic rename) and on S3 with the DynamoDB
log store. It does not between two drivers (two spark-submit jobs) on s3a with Delta's default S3
log store, nor reliably on a local folder (the local log store checks, then renames): both can
commit the same version and one commit silently replaces the other. So the orchestrator also
keeps one writer at a time on the lake (citylake/orchestration.py: every lake-writing task runs in
the one-slot ``citylake_lake_writers`` pool, created by infra/nightly.sh); retrying covers the
conflicts that remain visible (threads of one job; a pool widened on a log store that detects
them).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import Callable, TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
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

log = logging.getLogger("citylake.lake")
T = TypeVar("T")

RAW, STANDARD, BASE, THEME, OPS = "raw", "standard", "base", "theme", "ops"
LAYERS = (RAW, STANDARD, BASE, THEME, OPS)
LANDING_LEDGER = (OPS, "landing_ledger")
QUARANTINE = (OPS, "quarantine")
METRICS_HISTORY = (OPS, "metrics_history")

LEDGER_SCHEMA = StructType(
    [
        StructField("source", StringType(), False),
        StructField("batch_id", StringType(), False),
        StructField("run_id", StringType(), True),
        StructField("file", StringType(), True),
        StructField("status", StringType(), False),  # rejected | landed | failed | published (citylake/ledger.py)
        StructField("reason", StringType(), True),
        StructField("rows_read", LongType(), False),
        StructField("rows_landed", LongType(), False),
        StructField("rows_quarantined", LongType(), False),
        StructField("new_columns", StringType(), True),
        StructField("recorded_at", TimestampType(), False),
        StructField("rows_published", LongType(), True),  # once standardised
        StructField("rows_duplicated", LongType(), True),  # rows of a key delivered again (contract duplicates)
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
    """Whether a Delta table is at the path (Delta's SQL: its Python API needs a JVM of ours)."""
    return detail(spark, table_path) is not None


def detail(spark: SparkSession, table_path: str):
    """The table's DESCRIBE DETAIL row, or None when no Delta table is at the path."""
    from pyspark.errors import AnalysisException

    try:
        return spark.sql(f"DESCRIBE DETAIL delta.`{table_path}`").first()
    except AnalysisException as error:
        if any(sign in str(error) for sign in NOT_A_TABLE):
            return None
        raise


# what Delta says of a path that holds no table (a missing folder, or one without _delta_log)
NOT_A_TABLE = ("DELTA_MISSING_DELTA_TABLE", "DELTA_PATH_DOES_NOT_EXIST", "PATH_NOT_FOUND",
               "is not a Delta table", "doesn't exist", "DELTA_TABLE_NOT_FOUND")


def merge(spark: SparkSession, table_path: str, source: DataFrame, on: str, clauses: str) -> None:
    """``MERGE INTO`` the table (aliased ``t``) from ``source`` (aliased ``s``, a temp view of this
    session, dropped after): Delta's SQL, which a Spark Connect client can send."""
    import uuid

    view = f"citylake_merge_{uuid.uuid4().hex}"
    source.createOrReplaceTempView(view)
    try:
        spark.sql(f"MERGE INTO delta.`{table_path}` AS t USING {view} AS s ON {on} {clauses}")
    finally:
        spark.catalog.dropTempView(view)


# Delta's commit conflicts (io.delta.exceptions.*): the write lost the race for a version and can
# simply be attempted again on the new snapshot.
COMMIT_CONFLICTS = frozenset({
    "ConcurrentAppendException", "ConcurrentDeleteReadException", "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException", "ConcurrentWriteException", "MetadataChangedException",
    "ProtocolChangedException", "DeltaConcurrentModificationException",
})
COMMIT_ATTEMPTS = 8
BACKOFF_SECONDS = 0.5  # first delay's upper bound; doubles per attempt
MAX_BACKOFF_SECONDS = 30.0


def is_commit_conflict(error: BaseException) -> bool:
    """A Delta commit conflict: converted to delta.exceptions, still a Py4JJavaError, or as a
    Spark Connect client sees it (an error naming Delta's exception or its DELTA_CONCURRENT_* class)."""
    if type(error).__name__ in COMMIT_CONFLICTS:
        return True
    text = str(error)[:4000]
    if "DELTA_CONCURRENT" in text or any(name in text for name in COMMIT_CONFLICTS):
        return True
    java = getattr(error, "java_exception", None)
    while java is not None:  # the Java exception and its causes
        if java.getClass().getSimpleName() in COMMIT_CONFLICTS:
            return True
        java = java.getCause()
    return False


def with_commit_retry(write: Callable[[], T], what: str, attempts: int = COMMIT_ATTEMPTS,
                      base: float = BACKOFF_SECONDS, cap: float = MAX_BACKOFF_SECONDS) -> T:
    """Runs an idempotent Delta write, again after a commit conflict (exponential backoff with
    full jitter: a random wait up to min(cap, base * 2**n), so colliding writers spread out)."""
    for attempt in range(attempts):
        try:
            return write()
        except Exception as error:  # noqa: BLE001 - re-raised unless a commit conflict
            if attempt == attempts - 1 or not is_commit_conflict(error):
                raise
            delay = random.uniform(0, min(cap, base * 2**attempt))
            log.warning("%s: Delta commit conflict (%s), attempt %d of %d, retrying in %.1fs",
                        what, _conflict_name(error), attempt + 1, attempts, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _conflict_name(error: BaseException) -> str:
    java = getattr(error, "java_exception", None)
    return java.getClass().getSimpleName() if java is not None else type(error).__name__


def replace_where(frame: DataFrame, table_path: str, predicate: str) -> None:
    """Overwrites exactly the rows matching the predicate (one batch): reruns are idempotent, so
    a commit conflict with a concurrent writer is retried (see the module docstring).

    New columns are merged into the schema (schema drift keeps unknown columns).
    """
    with_commit_retry(
        lambda: (
            frame.write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", predicate)
            .option("mergeSchema", "true")
            .save(table_path)
        ),
        f"{table_path} where {predicate}",
    )


def overwrite(frame: DataFrame, table_path: str, tag: dict[str, str] | None = None,
              deletion_vectors: bool = False) -> None:
    """Replaces the table; ``tag`` goes into the commit (its userMetadata), for :func:`tagged_version`.
    ``deletion_vectors``: turned on for the table (once), which a later night's changes
    (:func:`write_changes`, :func:`write_versions`) then mark rows with."""
    def write() -> None:
        writer = frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
        if tag is not None:
            writer = writer.option("userMetadata", json.dumps(tag, sort_keys=True))
        writer.save(table_path)

    with_commit_retry(write, table_path)
    if deletion_vectors:
        _with_deletion_vectors(frame.sparkSession, table_path)


def write_versions(spark: SparkSession, table_path: str, versions: DataFrame, ended: DataFrame | None, key: str,
                   night: str, after: str | None) -> None:
    """Writes a night's changes to a versioned table (citylake/base.py: ``night`` the night a
    version was written, ``valid_to`` the night it stopped holding, null while it holds): the
    holding versions of the ``ended`` keys end on ``night`` and ``versions`` (the table's other
    columns) hold from it, in one commit (a MERGE: with deletion vectors the ended rows are marked
    in their files, which are not rewritten). ``ended`` None: a night written in full, every
    holding version ends and ``versions`` are appended (two commits). The changes are against the night ``after``: what was written or ended
    after it is undone first (a rerun of ``night``, or a night that failed after writing here;
    None: from ``night`` on), so a night written twice is written once."""
    import datetime as dt

    on = F.lit(night).cast("date")
    stamped = versions.withColumns({"night": on, "valid_to": F.lit(None).cast("date")})
    if not exists(spark, table_path):
        overwrite(stamped, table_path, deletion_vectors=True)
        return
    _with_deletion_vectors(spark, table_path)
    since = after if after is not None else (dt.date.fromisoformat(night) - dt.timedelta(days=1)).isoformat()
    since_sql, night_sql = f"DATE{sql_literal(since)}", f"DATE{sql_literal(night)}"
    table = f"delta.`{table_path}`"
    held = read(spark, table_path)
    if not held.where((F.col("night") > F.lit(since).cast("date")) | (F.col("valid_to") > F.lit(since).cast("date"))).isEmpty():
        log.info("%s: undoing what was written after %s", table_path, after or "the night before")
        spark.sql(f"DELETE FROM {table} WHERE night > {since_sql}")
        spark.sql(f"UPDATE {table} SET valid_to = NULL WHERE valid_to > {since_sql}")
    if ended is None:
        spark.sql(f"UPDATE {table} SET valid_to = {night_sql} WHERE valid_to IS NULL")
        stamped.write.format("delta").mode("append").option("mergeSchema", "true").save(table_path)
        return
    if set(stamped.columns) - set(held.columns):  # a new column: the table gains it
        stamped.limit(0).write.format("delta").mode("append").option("mergeSchema", "true").save(table_path)
    changes = (stamped.withColumn("__ends", F.lit(None).cast("string"))
               .unionByName(ended.select(F.col(key).alias("__ends")).distinct(), allowMissingColumns=True))
    merge(spark, table_path, changes, f"t.`{key}` = s.__ends AND t.valid_to IS NULL",
          f"WHEN MATCHED THEN UPDATE SET valid_to = {night_sql} "
          f"WHEN NOT MATCHED AND s.__ends IS NULL THEN INSERT ({_names(stamped.columns)}) "
          f"VALUES ({_names(stamped.columns, 's.')})")


def _names(columns: list[str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}`{name}`" for name in columns)


ENDS = "__ends"  # in a night's changes (write_changes): the key whose rows end; null on a row to insert
# commits that are not writes: a table maintained (citylake/maintenance.py) holds the rows it held
MAINTENANCE_OPERATIONS = ("OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES")


def write_changes(spark: SparkSession, table_path: str, changes: DataFrame, key: str, tag: dict[str, str],
                  since: int, ended: dict[str, str] | None = None, held: str | None = None,
                  history: list | None = None) -> None:
    """A night's changes to a table written in one commit (a MERGE, with deletion vectors: the
    files of the rows ending are marked, not rewritten), tagged ``tag`` (for
    :func:`tagged_version`), where the table as it was at version ``since`` (last night's) is
    what the changes are against: when something was written after it (this night, run before),
    the table is restored to it first, so a night written twice is written once (maintenance
    since, OPTIMIZE or VACUUM, changed no row and is kept).

    ``changes``: the rows to insert (ENDS null) and the keys whose rows end (ENDS the key, the
    table's columns null): the rows of those keys (those matching ``held``, a condition on the
    table's row ``t``) are deleted, or, given ``ended``, updated so (column: SQL value). ``history``:
    the table's :func:`commits`, when the caller read them already (for its ``since``)."""
    later = [commit for commit in (commits(spark, table_path) if history is None else history)
             if commit.version > since and commit.operation not in MAINTENANCE_OPERATIONS]
    if later:
        log.info("%s: restored to version %d (undoing %s) before tonight's changes", table_path, since,
                 ", ".join(f"{row.operation} at {row.version}" for row in sorted(later)))
        spark.sql(f"RESTORE TABLE delta.`{table_path}` TO VERSION AS OF {int(since)}")
    _with_deletion_vectors(spark, table_path)
    columns = [name for name in changes.columns if name != ENDS]
    condition = f"t.`{key}` = s.{ENDS}" + (f" AND ({held})" if held else "")
    matched = ("DELETE" if ended is None else
               "UPDATE SET " + ", ".join(f"`{name}` = {value}" for name, value in ended.items()))
    clauses = (f"WHEN MATCHED THEN {matched} WHEN NOT MATCHED AND s.{ENDS} IS NULL "
               f"THEN INSERT ({_names(columns)}) VALUES ({_names(columns, 's.')})")
    metadata = "spark.databricks.delta.commitInfo.userMetadata"
    with _SESSION_METADATA:  # the session's: another thread's MERGE would commit with this tag, or none
        spark.conf.set(metadata, json.dumps(tag, sort_keys=True))
        try:
            merge(spark, table_path, changes, condition, clauses)
        finally:
            spark.conf.unset(metadata)


# a MERGE's commit metadata is a session setting, not the MERGE's: one such write at a time
_SESSION_METADATA = threading.Lock()


def same_columns(spark: SparkSession, table_path: str, frame: DataFrame) -> bool:
    """Whether the table has exactly ``frame``'s columns, of its types (in any order)."""
    held = read(spark, table_path).schema
    return {(f.name, f.dataType.simpleString()) for f in held} == {(f.name, f.dataType.simpleString())
                                                                   for f in frame.schema}


def _with_deletion_vectors(spark: SparkSession, table_path: str) -> None:
    """Turns deletion vectors on for the table (a row-level change marks rows instead of
    rewriting their files), once."""
    properties = detail(spark, table_path)["properties"] or {}
    if properties.get("delta.enableDeletionVectors") != "true":
        spark.sql(f"ALTER TABLE delta.`{table_path}` SET TBLPROPERTIES ('delta.enableDeletionVectors' = true)")


def commits(spark: SparkSession, table_path: str) -> list:
    """The table's commits (version, operation, userMetadata), read once for the callers that ask
    (:func:`tagged_version`, :func:`write_changes`); none for a table not there."""
    if not exists(spark, table_path):
        return []
    return (spark.sql(f"DESCRIBE HISTORY delta.`{table_path}`")
            .select("version", "operation", "userMetadata").collect())


def tagged_version(spark: SparkSession, table_path: str, tag: dict[str, str], history: list | None = None
                   ) -> int | None:
    """The latest version of the table whose commit :func:`overwrite` (or :func:`write_changes`)
    tagged ``tag``, or None. ``history``: the table's :func:`commits`, when read already."""
    wanted = json.dumps(tag, sort_keys=True)
    tagged = [commit.version for commit in (commits(spark, table_path) if history is None else history)
              if commit.userMetadata == wanted]
    return max(tagged, default=None)


def read(spark: SparkSession, table_path: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    return (reader if version is None else reader.option("versionAsOf", version)).load(table_path)


def withdraw_standardised(spark: SparkSession, settings: Settings, source: str, batch: str) -> None:
    """Removes a batch from standard/<source> and its standardise-stage quarantine (a batch
    landed again, or one that failed its gate): no table holds rows of the batch that its ledger
    row does not account for."""
    literal = sql_literal(batch)
    target = path(settings, STANDARD, source)
    if exists(spark, target):
        spark.sql(f"DELETE FROM delta.`{target}` WHERE _batch_id = {literal}")
    quarantine = path(settings, *QUARANTINE)
    if exists(spark, quarantine):
        spark.sql(f"DELETE FROM delta.`{quarantine}` WHERE batch_id = {literal} AND stage = 'standardise'")


def sql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quarantine_id(batch: str, stage: str, line_number: int) -> str:
    """Stable identifier of a quarantined row (the Spark twin is quarantine_id_col)."""
    import hashlib

    return hashlib.sha1(f"{batch}|{stage}|{line_number}".encode()).hexdigest()[:16]


def quarantine_id_col(batch, stage, line_number):
    return F.substring(F.sha1(F.concat_ws("|", batch, stage, line_number.cast("string"))), 1, 16)


# Columns that say when, and in which orchestrator run, a row was written: a night run again has
# other values there and the same content everywhere else.
RUN_COLUMNS = frozenset({"run_id", "_ingested_at", "quarantined_at", "recorded_at"})


def content_hash(frame: DataFrame) -> str:
    """An order-independent fingerprint of a table's content ("rows:sum"), leaving out RUN_COLUMNS:
    equal for two tables that hold the same rows, in any order and any column order."""
    columns = sorted(c for c in frame.columns if c not in RUN_COLUMNS)
    row = F.xxhash64(F.to_json(F.struct(*[F.col(f"`{c}`") for c in columns])))
    result = frame.agg(F.count(F.lit(1)).alias("rows"),
                       F.sum(row.cast("decimal(38,0)")).alias("total")).first()
    return f"{result.rows}:{result.total or 0}"

