"""What every spark-submit application of citylake shares: its arguments and its start."""

from __future__ import annotations

import argparse
import logging

from pyspark.sql import SparkSession

from citylake import spark as citylake_spark
from citylake import storage
from citylake.settings import Settings, load


def parser(doc: str, *, source: bool = False) -> argparse.ArgumentParser:
    """--run-date and --run-id for every job; --source for the per-source ones."""
    arguments = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    if source:
        arguments.add_argument("--source", required=True, help="contract name in sources/")
    arguments.add_argument("--run-date", required=True, help="the night, YYYY-MM-DD")
    arguments.add_argument("--run-id", default=None, help="the orchestrator's run id")
    return arguments


def run_id(args: argparse.Namespace) -> str:
    return args.run_id or f"manual-{args.run_date}"


def start(app: str) -> tuple[Settings, SparkSession]:
    """Logging, the settings chosen by CITYLAKE_ENV, and the Spark session."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load()
    storage.make_private(settings)
    return settings, citylake_spark.session(app, settings)
