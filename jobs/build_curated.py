"""Theme tables for analysts, masked by default.

    spark-submit jobs/build_curated.py --run-date 2026-11-23

theme/enterprise_legal_representative: each enterprise of the legal-entity library with its
district and its legal representative (masked name and identity number, and whether the person is
in the population library).
"""

from __future__ import annotations

import logging
import sys

from pyspark.sql import SparkSession

from citylake import job, lake
from citylake.curated import enterprise_legal_representative
from citylake.settings import Settings

log = logging.getLogger("citylake.build_curated")


def build(spark: SparkSession, settings: Settings) -> int:
    legal_entity = lake.read(spark, lake.path(settings, lake.BASE, "legal_entity"))
    population = lake.read(spark, lake.path(settings, lake.BASE, "population"))
    target = lake.path(settings, lake.THEME, "enterprise_legal_representative")
    lake.overwrite(enterprise_legal_representative(legal_entity, population), target)
    return lake.read(spark, target).count()


def main(argv: list[str] | None = None) -> int:
    job.parser(__doc__).parse_args(argv)
    settings, spark = job.start("curated")
    rows = build(spark, settings)
    log.info("theme/enterprise_legal_representative: %d rows", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
