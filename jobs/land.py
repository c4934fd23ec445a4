"""Landing: one department extract into its raw Delta table, losing nothing.

    spark-submit jobs/land.py --source household_registration --run-date 2026-11-23

The extract is read by the reader of its contract's format (citylake/landing.py: csv, jsonl, xlsx
or a jdbc exchange table). Every column as delivered (strings), plus batch metadata (_source,
_batch_id, _file, _line_number, _ingested_at). Lines that cannot be read go to ops/quarantine with
the rule and reason; the batch's counts go to ops/landing_ledger (rows read = landed +
quarantined), with the columns the contract does not know yet (kept in the raw table). Landing a
batch again replaces that batch only. A batch that cannot be read at all is recorded as rejected
in the ledger and nothing of it is written; the job then fails with the reason.

Raw tables keep Delta's data-skipping statistics on the batch columns only (RAW_STATS_COLUMNS):
reads of raw select a batch, never a delivered value, and statistics on every delivered column
cost as much as the rest of the write.
"""

from __future__ import annotations

import logging
import sys
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import contracts, job, lake, ledger, storage
from citylake.identity import mask_identity_numbers
from citylake.landing import Landed, LandingRejected, read_extract
from citylake.sources import raw_frame
from citylake.settings import Settings

log = logging.getLogger("citylake.land")

RAW_STATS_COLUMNS = "_batch_id,_line_number"


def quarantine_frame(landed: Landed, source: str, batch: str, run_id: str) -> DataFrame:
    """The batch's quarantined lines as ops/quarantine rows (stage landing, status open)."""
    line_number = F.col("_line_number").cast("int")
    return landed.quarantined.select(
        lake.quarantine_id_col(F.lit(batch), F.lit("landing"), line_number).alias("quarantine_id"),
        F.lit("open").alias("status"),
        F.lit(source).alias("source"),
        F.lit(batch).alias("batch_id"),
        F.lit(run_id).cast("string").alias("run_id"),
        F.lit("landing").alias("stage"),
        "rule_id",
        "reason",
        F.lit(landed.file).alias("file"),
        line_number.alias("line_number"),
        F.col("raw").alias("record"),
        F.current_timestamp().alias("quarantined_at"),
    )


def write_raw(spark: SparkSession, frame: DataFrame, table_path: str, batch: str) -> None:
    """Replaces the batch in its raw table (as lake.replace_where does), statistics on the batch
    columns only: set when the write creates the table, added to a table created before."""
    if lake.exists(spark, table_path):
        properties = spark.sql(f"DESCRIBE DETAIL delta.`{table_path}`").first().properties
        if properties.get("delta.dataSkippingStatsColumns") != RAW_STATS_COLUMNS:
            spark.sql(f"ALTER TABLE delta.`{table_path}` SET TBLPROPERTIES "
                      f"('delta.dataSkippingStatsColumns' = '{RAW_STATS_COLUMNS}')")
    (
        frame.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"_batch_id = {lake.sql_literal(batch)}")
        .option("mergeSchema", "true")
        .option("delta.dataSkippingStatsColumns", RAW_STATS_COLUMNS)
        .save(table_path)
    )


def land(spark: SparkSession, settings: Settings, source: str, run_date: str, run_id: str) -> dict:
    """Lands the night's extract of ``source``; LandingRejected (after its ledger row) when the
    batch cannot be read, its contract is broken or its location leaves the drop folder."""
    source, run_date = contracts.checked_source_name(source), contracts.checked_run_date(run_date)
    batch = lake.batch_id(source, run_date)
    location = None
    try:
        contract = contracts.load(source)
        location = contract.location_for(storage.incoming_root(settings), run_date)
        landed = read_extract(spark, settings, contract, run_date)
    except (LandingRejected, storage.MissingExtract, contracts.ContractError) as error:
        ledger.rejected(spark, settings, source, batch, run_id, location, str(error))
        raise LandingRejected(f"{source}: batch {batch} rejected: {error}") from None

    with landed:
        new_columns = [name for name in landed.columns if name not in contract.mapping]
        if new_columns:
            log.warning("%s: new column(s) %s kept in the raw table; add them to the contract",
                        source, mask_identity_numbers(", ".join(new_columns)))
        write_raw(spark, raw_frame(landed, source, batch), lake.path(settings, lake.RAW, source), batch)
        lake.replace_where(
            quarantine_frame(landed, source, batch, run_id),
            lake.path(settings, *lake.QUARANTINE),
            f"batch_id = {lake.sql_literal(batch)} AND stage = 'landing'",
        )
        # a delivery landed again is standardised again: what standard held of the batch was
        # made from the rows it replaces
        lake.withdraw_standardised(spark, settings, source, batch)
    counts = {
        "source": source,
        "batch_id": batch,
        "rows_read": landed.rows_read,
        "rows_landed": landed.rows_landed,
        "rows_quarantined": landed.rows_quarantined,
        "quarantined_by_rule": landed.quarantined_by_rule,
        "new_columns": [mask_identity_numbers(name) for name in new_columns],
    }
    ledger.record(spark, settings, source=source, batch_id=batch, run_id=run_id, file=location,
                  status=ledger.LANDED, rows_read=counts["rows_read"], rows_landed=counts["rows_landed"],
                  rows_quarantined=counts["rows_quarantined"], new_columns=",".join(new_columns) or None)
    return counts


def main(argv: list[str] | None = None) -> int:
    args = job.parser(__doc__, source=True).parse_args(argv)
    settings, spark = job.start(f"land-{args.source}")
    counts = land(spark, settings, args.source, args.run_date, job.run_id(args))
    log.info("landed %(batch_id)s: read %(rows_read)d, landed %(rows_landed)d, "
             "quarantined %(rows_quarantined)d", counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
