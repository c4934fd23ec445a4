"""Replaying corrected quarantined rows of one source and night.

    python jobs/replay_quarantine.py --source household_registration --run-date 2026-11-23 \
        --file corrections.csv

The file is an export (`citylake quarantine export`) with corrected values. Rows that now pass
their suite's row rules are published into standard/<source> in place of their original line and
marked replayed in ops/quarantine; the others stay open with their new reason. Idempotent.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from citylake import job, quarantine

log = logging.getLogger("citylake.replay_quarantine")


def main(argv: list[str] | None = None) -> int:
    arguments = job.parser(__doc__, source=True)
    arguments.add_argument("--file", required=True, type=Path, help="the corrected export (CSV)")
    args = arguments.parse_args(argv)
    settings, spark = job.start(f"replay-{args.source}")
    counts = quarantine.replay(spark, settings, args.source, args.run_date, args.file, job.run_id(args))
    log.info("replayed %s/%s: %d published, %d still quarantined", args.source, args.run_date,
             counts["published"], counts["still_quarantined"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
