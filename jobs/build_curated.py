"""Theme tables for analysts, masked by default.

    spark-submit jobs/build_curated.py --run-date 2026-11-23

theme/enterprise_legal_representative  each enterprise with its district and its legal
                                       representative (masked), and whether the person is in the
                                       population library
theme/person_profile                   each golden person, masked: district, sex, age band,
                                       alive, credit standing
theme/entity_credit_profile            each entity by credit code: licences, penalties, fines,
                                       dishonest cases, tax rating, on the joint-punishment list
theme/district_population              living persons per division, sex and age band
theme/joint_punishment_list            dishonest entities, their representatives, dishonest
                                       persons (persons masked)
theme/data_quality                     per source and night: rows read, landed, quarantined per
                                       stage, and the gate's status
(citylake/curated.py). A person shows as a keyed pseudonym (person_key) and the division of their
identity number, a name as 张*.
"""

from __future__ import annotations

import json
import logging
import sys

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import curated, job, lake, storage
from citylake.settings import Settings

log = logging.getLogger("citylake.build_curated")


def _gates(spark: SparkSession, settings: Settings) -> DataFrame:
    """(source, night, gate_passed) from every night's standard.* quality reports."""
    rows = []
    for path in sorted(settings.reports_dir.glob("*/quality/standard.*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        rows.append((path.name.removeprefix("standard.").removesuffix(".json"), path.parent.parent.name,
                     bool(report.get("passed"))))
    return spark.createDataFrame(rows, "source string, night string, gate_passed boolean").withColumn(
        "night", F.col("night").cast("date"))


def themes(spark: SparkSession, settings: Settings, run_date: str) -> dict[str, DataFrame]:
    def base(name: str) -> DataFrame:
        return lake.read(spark, lake.path(settings, lake.BASE, name))

    population, legal_entity = base("population"), base("legal_entity")
    key = storage.pseudonym_key(settings)
    ops = lake.path(settings, *lake.QUARANTINE)
    quarantine = lake.read(spark, ops) if lake.exists(spark, ops) else spark.createDataFrame([], lake.QUARANTINE_SCHEMA)
    built = {
        "enterprise_legal_representative": curated.enterprise_legal_representative(legal_entity, population, key),
        "district_population": curated.district_population(population, run_date),
        "data_quality": curated.data_quality(lake.read(spark, lake.path(settings, *lake.LANDING_LEDGER)),
                                             quarantine, _gates(spark, settings)),
    }
    if lake.exists(spark, lake.path(settings, lake.BASE, "credit")):
        joint = base("joint_punishment")
        built |= {
            "person_profile": curated.person_profile(population, base("credit_profile_person"), run_date, key),
            "entity_credit_profile": curated.entity_credit_profile(legal_entity, base("credit_profile_entity"), joint),
            "joint_punishment_list": curated.joint_punishment_list(joint, legal_entity, population, key),
        }
    return built


def build(spark: SparkSession, settings: Settings, run_date: str | None = None) -> dict[str, int]:
    run_date = run_date or str(lake.read(spark, lake.path(settings, *lake.LANDING_LEDGER))
                               .agg(F.max(F.regexp_extract("batch_id", r"(\d{4}-\d{2}-\d{2})$", 1))).first()[0])
    counts = {}
    for name, frame in themes(spark, settings, run_date).items():
        target = lake.path(settings, lake.THEME, name)
        lake.overwrite(frame, target)
        counts[name] = lake.read(spark, target).count()
    return counts


def main(argv: list[str] | None = None) -> int:
    args = job.parser(__doc__).parse_args(argv)
    settings, spark = job.start("curated")
    for name, rows in build(spark, settings, args.run_date).items():
        log.info("theme/%s: %d rows", name, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
