"""Lake maintenance: OPTIMIZE (Z-ordered on lookup keys) and VACUUM every Delta table of the lake.

    spark-submit jobs/maintain_lake.py --run-date 2026-11-29

Finds the tables under the lake's layers (local folder or s3a://), compacts them, Z-orders them on
the keys they are looked up by, and vacuums them keeping time travel for the audit window
(CITYLAKE_AUDIT_DAYS, 30 days). Writes reports/<date>/maintenance.json (citylake/maintenance.py).
"""

from __future__ import annotations

import logging
import sys

from citylake import job, maintenance

log = logging.getLogger("citylake.maintain_lake")


def main(argv: list[str] | None = None) -> int:
    args = job.parser(__doc__).parse_args(argv)
    settings, spark = job.start("maintain-lake")
    report = maintenance.maintain(spark, settings, args.run_date)
    log.info("maintained %d tables (retention %dh, audit window %d days): %s",
             len(report["tables"]), report["retention_hours"], report["audit_days"],
             maintenance.report_path(settings, args.run_date))
    return 0


if __name__ == "__main__":
    sys.exit(main())
