"""The night's summary: rows per layer, quarantined rows, base-library counts, gate status.

    spark-submit jobs/nightly_summary.py --run-date 2026-11-23

Renders the Great Expectations Data Docs from the night's stored validation results and the data
catalog of the standard, base and theme tables (citylake/catalog.py: reports/<date>/catalog.html),
writes reports/<date>/summary.json and prints it as a table. Counts and rule ids only: no value of any
record appears in it.
"""

from __future__ import annotations

import json
import logging
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from citylake import catalog, contracts, curated, job, lake, quality
from citylake.maintenance import discover
from citylake.settings import Settings
from citylake.summary import render

log = logging.getLogger("citylake.summary")
THEME_TABLES = list(curated.THEMES)


def _count(spark: SparkSession, table_path: str, predicate: str | None = None) -> int | None:
    if not lake.exists(spark, table_path):
        return None
    frame = lake.read(spark, table_path)
    return (frame.filter(predicate) if predicate else frame).count()


def summarise(spark: SparkSession, settings: Settings, run_date: str) -> dict:
    ledger_path = lake.path(settings, *lake.LANDING_LEDGER)
    quarantine_path = lake.path(settings, *lake.QUARANTINE)
    ledger = {}
    if lake.exists(spark, ledger_path):
        for row in lake.read(spark, ledger_path).collect():
            ledger[row.batch_id] = row
    quarantined = {}
    if lake.exists(spark, quarantine_path):
        for row in (
            lake.read(spark, quarantine_path)
            .groupBy("batch_id", "stage", "rule_id")
            .agg(F.count(F.lit(1)).alias("rows"))
            .collect()
        ):
            quarantined.setdefault((row.batch_id, row.stage), {})[row.rule_id] = row.rows

    sources = {}
    for name in contracts.load_all():
        batch = lake.batch_id(name, run_date)
        entry = ledger.get(batch)
        predicate = f"_batch_id = {lake.sql_literal(batch)}"
        sources[name] = {
            "status": entry.status if entry else "not landed",
            "reason": entry.reason if entry else None,
            "rows_read": entry.rows_read if entry else 0,
            "raw": _count(spark, lake.path(settings, lake.RAW, name), predicate) or 0,
            "landing_quarantined": sum(quarantined.get((batch, "landing"), {}).values()),
            "standard": _count(spark, lake.path(settings, lake.STANDARD, name), predicate) or 0,
            "standardise_quarantined": sum(quarantined.get((batch, "standardise"), {}).values()),
            "quarantine_rules": {
                **quarantined.get((batch, "landing"), {}),
                **quarantined.get((batch, "standardise"), {}),
            },
        }
    gates = {}
    quality_dir = settings.reports_dir / run_date / "quality"
    for report_file in sorted(quality_dir.glob("*.json")):
        report = json.loads(report_file.read_text(encoding="utf-8"))
        gates[report["table"]] = {
            "passed": report["passed"],
            "warnings": [r["rule_id"] for r in report["rules"] if not r["success"]],
            "report": str(report_file),
        }
    gx_root = settings.reports_dir / "gx"
    data_docs = quality.build_docs(gx_root) if gx_root.exists() else None
    summary = {
        "run_date": run_date,
        "environment": settings.env,
        "lake_root": settings.lake_root,
        "reports": str(settings.reports_dir / run_date),
        "data_docs": data_docs,
        "sources": sources,
        "base": {lib: _count(spark, lake.path(settings, lake.BASE, lib)) for lib in
                 ("population", "legal_entity", "credit")},
        "theme": {name: _count(spark, lake.path(settings, lake.THEME, name)) for name in
                  THEME_TABLES},
        "gates": gates,
    }
    tables = [f"{layer}/{name}" for layer, name in discover(settings)
              if layer in (lake.STANDARD, lake.BASE, lake.THEME)]
    summary["catalog"] = str(catalog.write(settings, tables, run_date))
    out = settings.reports_dir / run_date / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return summary


def main(argv: list[str] | None = None) -> int:
    args = job.parser(__doc__).parse_args(argv)
    settings, spark = job.start("summary")
    print(render(summarise(spark, settings, args.run_date)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
