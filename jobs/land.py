"""Landing: one department extract into its raw Delta table, losing nothing.

    spark-submit jobs/land.py --source household_registration --run-date 2026-11-23

Every column as delivered (strings), plus batch metadata (_source, _batch_id, _file,
_line_number, _ingested_at). Lines that cannot be read go to ops/quarantine with the reason; the
batch's counts go to ops/landing_ledger (rows read = landed + quarantined). Landing a batch again
replaces that batch only. A batch that cannot be read at all is recorded as rejected in the ledger
and nothing of it is written; the job then fails with the reason.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession

from citylake import contracts, job, lake, storage
from citylake.landing import LandingRejected, ReadResult, read_delimited
from citylake.sources import raw_frame
from citylake.settings import Settings

log = logging.getLogger("citylake.land")


def quarantine_frame(
    spark: SparkSession, result: ReadResult, source: str, batch: str, run_id: str
) -> DataFrame:
    now = datetime.now()
    rows = [
        (lake.quarantine_id(batch, "landing", q.line_number), "open", source, batch, run_id,
         "landing", q.rule_id, q.reason, result.file, q.line_number, q.raw, now)
        for q in result.quarantined
    ]
    return spark.createDataFrame(rows, lake.QUARANTINE_SCHEMA)


def record_ledger(spark: SparkSession, settings: Settings, row: tuple) -> None:
    frame = spark.createDataFrame([row], lake.LEDGER_SCHEMA)
    lake.replace_where(frame, lake.path(settings, *lake.LANDING_LEDGER),
                       f"batch_id = {lake.sql_literal(row[1])}")


def land(spark: SparkSession, settings: Settings, source: str, run_date: str, run_id: str) -> dict:
    contract = contracts.load(source)
    batch = lake.batch_id(source, run_date)
    location = contract.location_for(storage.incoming_root(settings), run_date)
    try:
        with storage.open_extract(settings, location) as lines:
            result = read_delimited(lines, file=location, encoding=contract.encoding,
                                    required=contract.required_columns)
    except (LandingRejected, storage.MissingExtract) as error:
        record_ledger(spark, settings, (source, batch, run_id, location, "rejected", str(error),
                                        0, 0, 0, None, datetime.now()))
        raise LandingRejected(f"{source}: batch {batch} rejected: {error}") from None

    new_columns = [name for name in result.columns if name not in contract.mapping]
    if new_columns:
        log.warning("%s: new column(s) %s kept in the raw table; add them to the contract",
                    source, ", ".join(new_columns))
    batch_predicate = f"_batch_id = {lake.sql_literal(batch)}"
    lake.replace_where(raw_frame(spark, result, source, batch),
                       lake.path(settings, lake.RAW, source), batch_predicate)
    lake.replace_where(
        quarantine_frame(spark, result, source, batch, run_id),
        lake.path(settings, *lake.QUARANTINE),
        f"batch_id = {lake.sql_literal(batch)} AND stage = 'landing'",
    )
    counts = {
        "source": source,
        "batch_id": batch,
        "rows_read": result.rows_read,
        "rows_landed": len(result.rows),
        "rows_quarantined": len(result.quarantined),
        "new_columns": new_columns,
    }
    record_ledger(spark, settings, (source, batch, run_id, location, "landed", None,
                                    counts["rows_read"], counts["rows_landed"],
                                    counts["rows_quarantined"], ",".join(new_columns) or None,
                                    datetime.now()))
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
