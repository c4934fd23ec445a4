"""Base libraries: the standardised sources that carry a library's fields, one record per key.

    spark-submit jobs/build_base.py --library population --run-date 2026-11-23

The contributing sources are those of the library whose standardised table has every field of the
library (citylake/base.py: household registration for population; the enterprise registry and
social organisations for legal_entity); the library's other sources wait for entity resolution.
Refuses to build from stale contributing sources (each one's newest landed batch may be at most
its contract's freshness_days old). Keeps one record per valid key (population: identity number;
legal_entity: credit code) with provenance, audits it with expectations/base.<library>.json and
only then replaces base/<library>. Credit has no base builder yet (see citylake/base.py).
"""

from __future__ import annotations

import logging
import sys
from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from citylake import contracts, job, lake, quality
from citylake.base import BUILDERS, contributing_sources
from citylake.metrics import freshness_check
from citylake.settings import Settings

log = logging.getLogger("citylake.build_base")


def latest_landed(spark: SparkSession, settings: Settings, run_date: str) -> dict[str, date]:
    """Each source's newest landed batch date, up to the night being processed."""
    path = lake.path(settings, *lake.LANDING_LEDGER)
    if not lake.exists(spark, path):
        return {}
    rows = (
        lake.read(spark, path)
        .filter(F.col("status") == "landed")
        .withColumn("night", F.to_date(F.regexp_extract("batch_id", r"(\d{4}-\d{2}-\d{2})$", 1)))
        .filter(F.col("night") <= F.lit(run_date).cast("date"))
        .groupBy("source")
        .agg(F.max("night").alias("night"))
        .collect()
    )
    return {row.source: row.night for row in rows}


def build(spark: SparkSession, settings: Settings, library: str, run_date: str, run_id: str) -> int:
    feeding = contributing_sources(contracts.load_all().values(), library)
    sources = [c.name for c in feeding]
    landed = latest_landed(spark, settings, run_date)
    freshness = [
        freshness_check(c.name, landed.get(c.name), date.fromisoformat(run_date), c.freshness_days)
        for c in feeding
    ]
    stale = [check.describe() for check in freshness if not check.passed]
    if stale:
        raise quality.GateFailed(f"{library}: not built, stale sources: {'; '.join(stale)}")
    standards = [
        lake.read(spark, lake.path(settings, lake.STANDARD, source)).filter(
            f"_batch_id <= {lake.sql_literal(lake.batch_id(source, run_date))}"
        )
        for source in sources
        if lake.exists(spark, lake.path(settings, lake.STANDARD, source))
    ]
    if not standards:
        raise RuntimeError(f"{library}: no standardised source yet (sources: {', '.join(sources)})")
    library_table = BUILDERS[library](standards).persist()
    suite = f"base.{library}"
    report = quality.run_gate(library_table, suite, run_id, settings.reports_dir / "gx")
    quality.write_report(settings.reports_dir, run_date, report,
                         freshness=[check.describe() for check in freshness])
    if not report.passed:
        raise quality.GateFailed(f"{library}: not published: {report.summary()}")
    lake.overwrite(library_table, lake.path(settings, lake.BASE, library))
    rows = lake.read(spark, lake.path(settings, lake.BASE, library)).count()
    library_table.unpersist()
    return rows


def main(argv: list[str] | None = None) -> int:
    arguments = job.parser(__doc__)
    arguments.add_argument("--library", required=True, choices=sorted(BUILDERS))
    args = arguments.parse_args(argv)
    settings, spark = job.start(f"base-{args.library}")
    rows = build(spark, settings, args.library, args.run_date, job.run_id(args))
    log.info("base/%s: %d records", args.library, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
