"""Base libraries: every standardised source of a library into one record per key.

    spark-submit jobs/build_base.py --library population --run-date 2026-11-23

Refuses to build from stale sources (each source's newest landed batch may be at most its
contract's freshness_days old). Reads the standard tables of every source whose contract feeds the
library, keeps one record per valid key (population: identity number; legal_entity: credit code)
with provenance, audits it with expectations/base.<library>.json and only then replaces
base/<library>.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from citylake import contracts, lake, quality, spark as citylake_spark
from citylake.base import BUILDERS
from citylake.metrics import freshness_check
from citylake.settings import Settings, load

log = logging.getLogger("citylake.build_base")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True, choices=sorted(BUILDERS))
    parser.add_argument("--run-date", required=True, help="the night, YYYY-MM-DD")
    parser.add_argument("--run-id", default=None, help="the orchestrator's run id")
    return parser.parse_args(argv)


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
    feeding = [c for c in contracts.load_all().values() if c.library == library]
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
    report_dir = settings.reports_dir / run_date / "quality"
    report_dir.mkdir(parents=True, exist_ok=True)
    document = report.to_json() | {"freshness": [check.describe() for check in freshness]}
    (report_dir / f"{suite}.json").write_text(json.dumps(document, indent=2, ensure_ascii=False))
    if not report.passed:
        raise quality.GateFailed(f"{library}: not published: {report.summary()}")
    lake.overwrite(library_table, lake.path(settings, lake.BASE, library))
    rows = lake.read(spark, lake.path(settings, lake.BASE, library)).count()
    library_table.unpersist()
    return rows


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    settings = load()
    spark = citylake_spark.session(f"base-{args.library}", settings)
    rows = build(spark, settings, args.library, args.run_date, args.run_id or f"manual-{args.run_date}")
    log.info("base/%s: %d records", args.library, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
