"""The landing ledger (ops/landing_ledger): one row per batch, true to what the tables hold.

A batch's status moves as the night does:

  rejected   the extract could not be read at all (the reason says why); nothing of it written
  landed     its rows are in raw/<source> (and its unreadable lines in ops/quarantine), not yet
             standardised: no library reads it
  failed     its standardisation failed the quality gate (the reason says which rule or volume):
             nothing of it is in standard/<source>, and no library reads it
  published  its rows passed the gate and are in standard/<source>: the libraries read a
             source's latest published night (:func:`published_nights`)

Counts: rows_read = rows_landed + rows_quarantined (at landing); once published, rows_published
and rows_duplicated (rows of a key delivered again, quarantined by the contract's ``duplicates``
rule). A re-delivery that is rejected leaves the row of the delivery the tables hold, its reason
saying the re-delivery was refused. Every text field is masked (citylake.identity.
mask_identity_numbers): a header cell or key may hold an identity number.
"""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

from citylake import lake
from citylake.identity import mask_identity_numbers
from citylake.settings import Settings

log = logging.getLogger("citylake.ledger")

REJECTED, LANDED, FAILED, PUBLISHED = "rejected", "landed", "failed", "published"
STATUSES = (REJECTED, LANDED, FAILED, PUBLISHED)
HELD = (LANDED, FAILED, PUBLISHED)  # statuses of a batch whose rows are in raw/<source>
MASKED_FIELDS = ("file", "reason", "new_columns")


def _path(settings: Settings) -> str:
    return lake.path(settings, *lake.LANDING_LEDGER)


def entry(spark: SparkSession, settings: Settings, batch: str) -> Row | None:
    """The batch's ledger row, or None."""
    path = _path(settings)
    if not lake.exists(spark, path):
        return None
    rows = lake.read(spark, path).where(F.col("batch_id") == F.lit(batch)).collect()
    return rows[0] if rows else None


def record(spark: SparkSession, settings: Settings, **fields) -> dict:
    """Writes the batch's row (replacing the one it had): ``fields`` by LEDGER_SCHEMA's names,
    text masked, counts 0 and the rest null unless given. Returns the row as written."""
    unknown = set(fields) - set(lake.LEDGER_SCHEMA.names)
    if unknown or fields.get("status") not in STATUSES:
        raise ValueError(f"ledger row: unknown field(s) {sorted(unknown)} or status {fields.get('status')!r}")
    row = {name: None for name in lake.LEDGER_SCHEMA.names}
    row |= {"rows_read": 0, "rows_landed": 0, "rows_quarantined": 0, "recorded_at": dt.datetime.now()}
    row |= fields
    for name in MASKED_FIELDS:
        row[name] = mask_identity_numbers(row[name])
    frame = spark.createDataFrame([tuple(row[name] for name in lake.LEDGER_SCHEMA.names)], lake.LEDGER_SCHEMA)
    lake.replace_where(frame, _path(settings), f"batch_id = {lake.sql_literal(row['batch_id'])}")
    return row


def rejected(spark: SparkSession, settings: Settings, source: str, batch: str, run_id: str,
             file: str | None, reason: str) -> dict:
    """Records a delivery refused whole. When the tables hold an earlier delivery of the batch
    (landed, failed or published), its row stays, saying the re-delivery was refused: the
    ledger keeps telling what raw and standard hold."""
    held = entry(spark, settings, batch)
    if held is not None and held.status in HELD:
        note = (f"re-delivery refused at {dt.datetime.now():%Y-%m-%d %H:%M:%S}: {reason}; the tables "
                f"hold the delivery recorded at {held.recorded_at:%Y-%m-%d %H:%M:%S}")
        kept = held.asDict() | {"reason": note, "recorded_at": held.recorded_at}
        log.warning("%s: %s", batch, mask_identity_numbers(note))
        return record(spark, settings, **kept)
    return record(spark, settings, source=source, batch_id=batch, run_id=run_id, file=file,
                  status=REJECTED, reason=reason)


def standardised(spark: SparkSession, settings: Settings, batch: str, run_id: str, status: str,
                 reason: str | None = None, rows_published: int | None = None,
                 rows_duplicated: int | None = None) -> dict:
    """Marks a landed batch published or failed after its gate (counts as the gate saw them)."""
    if status not in (PUBLISHED, FAILED):
        raise ValueError(f"a standardised batch is published or failed, not {status!r}")
    held = entry(spark, settings, batch)
    if held is None:
        raise ValueError(f"{batch}: no ledger row; land the batch before standardising it")
    return record(spark, settings, **(held.asDict() | {
        "run_id": run_id, "status": status, "reason": reason, "rows_published": rows_published,
        "rows_duplicated": rows_duplicated, "recorded_at": dt.datetime.now()}))


def nights(spark: SparkSession, settings: Settings, statuses: tuple[str, ...] = (PUBLISHED,)
           ) -> dict[str, list[dt.date]]:
    """Each source's nights whose batch has one of ``statuses``, oldest first (the ledger read
    once: a build asks for several nights' sources)."""
    path = _path(settings)
    if not lake.exists(spark, path):
        return {}
    night = F.to_date(F.regexp_extract(F.col("batch_id"), r"(\d{4}-\d{2}-\d{2})$", 1))
    rows = (lake.read(spark, path).filter(F.col("status").isin(*statuses))
            .select("source", night.alias("night")).where(F.col("night").isNotNull()).distinct().collect())
    found: dict[str, list[dt.date]] = {}
    for row in rows:
        found.setdefault(row.source, []).append(row.night)
    return {source: sorted(dates) for source, dates in found.items()}


def published_nights(spark: SparkSession, settings: Settings) -> dict[str, list[dt.date]]:
    """Each source's nights whose batch was published (what the libraries may read)."""
    return nights(spark, settings, (PUBLISHED,))


def statuses_of(spark: SparkSession, settings: Settings, night: str) -> dict[str, str]:
    """Source -> the status of its batch of ``night``, for the sources that have one."""
    path = _path(settings)
    if not lake.exists(spark, path):
        return {}
    rows = lake.read(spark, path).where(F.col("batch_id").endswith("/" + night)).select("source", "status").collect()
    return {row.source: row.status for row in rows}
