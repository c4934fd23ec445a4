"""Standardising: a landed batch into its typed standard table, behind its quality gate.

    spark-submit jobs/standardise.py --source household_registration --run-date 2026-11-23

Write-audit-publish: the batch is standardised and cached, audited by its Great Expectations suite
(expectations/standard.<source>.json), and only then published. A rule over its threshold fails
the job and publishes nothing, and so does a row count far outside the source's recent nights
(volume anomaly, see citylake/metrics.py); rows breaking a quarantine rule go to ops/quarantine
with the rule id and reason; the rest replace the batch in standard/<source>. Rows of one key
delivered more than once follow the contract's ``duplicates`` rule (latest: the latest line is
kept, the others quarantined as STD-DUPLICATE; quarantine: all of them; fail: the gate fails).
The ledger then says published (with rows_published and rows_duplicated) or failed, and a failed
batch leaves nothing of itself in standard: the libraries read the source's last published night. The night's metrics
are appended to ops/metrics_history; the gate's report (counts and rule ids, never values) is
written to reports/<date>/quality/.
"""

from __future__ import annotations

import logging
import sys

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import contracts, job, lake, ledger, metrics_history, quality
from citylake.metrics import volume_check
from citylake.settings import Settings
from citylake.standardise import BATCH_COLUMNS, DUPLICATE_RULE, duplicate_deliveries, map_columns
from citylake.standardise import standardise as standardise_rows

log = logging.getLogger("citylake.standardise")


def quarantine_rows(quarantined: DataFrame, run_id: str) -> DataFrame:
    record_columns = [c for c in quarantined.columns if not c.startswith("_")]
    return quarantined.select(
        lake.quarantine_id_col(F.col("_batch_id"), F.lit("standardise"), F.col("_line_number"))
        .alias("quarantine_id"),
        F.lit("open").alias("status"),
        F.col("_source").alias("source"),
        F.col("_batch_id").alias("batch_id"),
        F.lit(run_id).alias("run_id"),
        F.lit("standardise").alias("stage"),
        F.col("_rule_id").alias("rule_id"),
        F.col("_reason").alias("reason"),
        F.col("_file").alias("file"),
        F.col("_line_number").cast("int").alias("line_number"),
        F.to_json(F.struct(*record_columns)).alias("record"),
        F.current_timestamp().alias("quarantined_at"),
    )


def standardise(
    spark: SparkSession, settings: Settings, source: str, run_date: str, run_id: str
) -> quality.GateReport:
    """Standardises the landed batch behind its gate; GateFailed (after the ledger says failed
    and standard holds nothing of the batch) when it does not pass."""
    source, run_date = contracts.checked_source_name(source), contracts.checked_run_date(run_date)
    contract = contracts.load(source)
    batch = lake.batch_id(source, run_date)
    batch_predicate = f"_batch_id = {lake.sql_literal(batch)}"
    raw = lake.read(spark, lake.path(settings, lake.RAW, source)).filter(batch_predicate)
    standardised = standardise_rows(map_columns(raw, contract.mapping), contract)
    marked = duplicate_deliveries(standardised, contract.keys, contract.duplicates).persist()
    duplicated = marked.where("_duplicate").count()
    taken_out = contract.duplicates != "fail"
    checked = (marked.where(~F.col("_duplicate")) if taken_out else marked).drop("_duplicate", "_duplicate_reason")

    suite = f"standard.{source}"
    report = quality.run_gate(checked, suite, run_id, settings.reports_dir / "gx")
    rows_in = report.rows + (duplicated if taken_out else 0)
    volume = volume_check(metrics_history.history(spark, settings, source, "rows_in", run_date), rows_in)
    quality.write_report(settings.reports_dir, run_date, report,
                         volume={"status": volume.status, "detail": volume.describe()},
                         duplicates={"rule": contract.duplicates, "rows": duplicated})
    metrics = {"rows_in": (rows_in, None), "volume": (rows_in, volume.status),
               "gate_passed": (float(report.passed), None), "rows_duplicated": (duplicated, contract.duplicates)}
    metrics |= {f"violations:{o.rule.rule_id}": (o.unexpected_count, o.rule.action)
                for o in report.outcomes if o.unexpected_count is not None}
    refused_duplicates = contract.duplicates == "fail" and duplicated > 0
    if not report.passed or not volume.passed or refused_duplicates:
        metrics_history.record(spark, settings, source, run_date, run_id, metrics)
        marked.unpersist()
        if not report.passed:
            reason = report.summary()
        elif not volume.passed:
            reason = f"gate {suite}: FAILED on {volume.describe()}"
        else:
            reason = (f"gate {suite}: FAILED on {duplicated} row(s) of keys ({', '.join(contract.keys)}) "
                      "delivered more than once (contract rule duplicates: fail)")
        # what standard held of the batch (an earlier run) is not what this night delivered
        lake.withdraw_standardised(spark, settings, source, batch)
        ledger.standardised(spark, settings, batch, run_id, ledger.FAILED, reason=reason,
                            rows_duplicated=duplicated)
        raise quality.GateFailed(f"{source}: batch {batch} not published: {reason}")

    clean, quarantined = quality.split_quarantine(checked, report.rules)
    if taken_out:
        duplicates = (marked.where("_duplicate").drop("_duplicate")
                      .withColumns({"_rule_id": F.lit(DUPLICATE_RULE), "_reason": F.col("_duplicate_reason")})
                      .drop("_duplicate_reason"))
        quarantined = quarantined.unionByName(duplicates)
    lake.replace_where(
        quarantine_rows(quarantined, run_id),
        lake.path(settings, *lake.QUARANTINE),
        f"batch_id = {lake.sql_literal(batch)} AND stage = 'standardise'",
    )
    ordered = clean.select(*[c for c in clean.columns if c not in BATCH_COLUMNS], *BATCH_COLUMNS)
    target = lake.path(settings, lake.STANDARD, source)
    lake.replace_where(ordered, target, batch_predicate)
    published = lake.read(spark, target).filter(batch_predicate).count()
    metrics |= {"rows_published": (published, None), "rows_quarantined": (rows_in - published, None)}
    metrics_history.record(spark, settings, source, run_date, run_id, metrics)
    ledger.standardised(spark, settings, batch, run_id, ledger.PUBLISHED, rows_published=published,
                        rows_duplicated=duplicated)
    marked.unpersist()
    return report


def main(argv: list[str] | None = None) -> int:
    args = job.parser(__doc__, source=True).parse_args(argv)
    settings, spark = job.start(f"standardise-{args.source}")
    report = standardise(spark, settings, args.source, args.run_date, job.run_id(args))
    log.info(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
