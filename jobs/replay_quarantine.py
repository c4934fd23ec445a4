"""Replaying corrected quarantined rows of one source and night.

    spark-submit jobs/replay_quarantine.py --source household_registration --run-date 2026-11-23 \
        --file corrections.csv

The file is an export (`citylake quarantine export`) with corrected values. Rows that now pass
their suite's row rules are published into standard/<source> in place of their original line and
marked replayed in ops/quarantine; the others stay open with their new reason. Idempotent.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from citylake import quarantine, spark as citylake_spark
from citylake.settings import load

log = logging.getLogger("citylake.replay_quarantine")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="contract name in sources/")
    parser.add_argument("--run-date", required=True, help="the night, YYYY-MM-DD")
    parser.add_argument("--file", required=True, type=Path, help="the corrected export (CSV)")
    parser.add_argument("--run-id", default=None, help="the orchestrator's run id")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    settings = load()
    spark = citylake_spark.session(f"replay-{args.source}", settings)
    counts = quarantine.replay(spark, settings, args.source, args.run_date, args.file,
                               args.run_id or f"replay-{args.run_date}")
    log.info("replayed %s/%s: %d published, %d still quarantined", args.source, args.run_date,
             counts["published"], counts["still_quarantined"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
