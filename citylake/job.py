"""What every citylake job shares: its arguments and its start (a client of the Spark server)."""

from __future__ import annotations

import argparse
import logging
import re

from pyspark.sql import SparkSession

from citylake import contracts, storage
from citylake import spark as citylake_spark
from citylake.settings import Settings, load


def _argument(check):
    """An argparse type from a checker: its error becomes the usage error argparse prints."""
    def checked(value: str) -> str:
        try:
            return check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    checked.__name__ = check.__name__
    return checked


source_name = _argument(contracts.checked_source_name)
run_date = _argument(contracts.checked_run_date)


RUN_ID = re.compile(r"[\x21-\x7e]{1,250}")  # Airflow's: manual__2026-11-23T01:00:00+00:00


def checked_run_id(value: str) -> str:
    if not RUN_ID.fullmatch(value):
        raise ValueError(f"run id {value[:40]!r}: 1 to 250 printable ASCII characters, no spaces")
    return value


run_id_argument = _argument(checked_run_id)


def parser(doc: str, *, source: bool = False) -> argparse.ArgumentParser:
    """--run-date and --run-id for every job; --source for the per-source ones. Each is checked
    (a source is a plain identifier, a night a real YYYY-MM-DD date): arguments are input."""
    arguments = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    if source:
        arguments.add_argument("--source", required=True, type=source_name, help="contract name in sources/")
    arguments.add_argument("--run-date", required=True, type=run_date, help="the night, YYYY-MM-DD")
    arguments.add_argument("--run-id", default=None, type=run_id_argument, help="the orchestrator's run id")
    return arguments


def run_id(args: argparse.Namespace) -> str:
    return args.run_id or f"manual-{args.run_date}"


def start(app: str) -> tuple[Settings, SparkSession]:
    """Logging, the settings chosen by CITYLAKE_ENV, and the Spark session."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load()
    storage.make_private(settings)
    return settings, citylake_spark.session(app, settings)
