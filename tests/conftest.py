"""Shared fixtures: one local Spark session for the whole run, and a data folder per test run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Airflow reads its configuration at import: give the test run a home of its own.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="citylake-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from citylake import settings as citylake_settings

PROJECT_ROOT = citylake_settings.PROJECT_ROOT


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("citylake-data")


@pytest.fixture(scope="session")
def local_settings(data_dir) -> citylake_settings.Settings:
    return citylake_settings.load({"CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(data_dir)})


@pytest.fixture(scope="session")
def spark(local_settings):
    from citylake.spark import session

    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    spark = session("tests", local_settings)
    yield spark
    spark.stop()


@pytest.fixture
def settings_in(tmp_path) -> citylake_settings.Settings:
    """Settings whose lake, reports and incoming folders are this test's own."""
    return citylake_settings.load({"CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(tmp_path)})
