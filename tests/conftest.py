"""Shared fixtures: one Spark Connect server for the whole run, a session of it per worker, and a
data folder per test run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

# Airflow reads its configuration at import: give the test run a home of its own.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="citylake-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from citylake import settings as citylake_settings

PROJECT_ROOT = citylake_settings.PROJECT_ROOT
TEST_SERVER_MEMORY = "8g"  # the test run's Spark Connect server's heap: every worker's and job's Spark


def pytest_configure(config) -> None:
    """One Spark Connect server for the whole run, every xdist worker and every job a client:
    started here (in the controller, before the workers) on a free port, unless
    CITYLAKE_SPARK_CONNECT names one already running; stopped at the end if started here."""
    if hasattr(config, "workerinput") or os.environ.get("CITYLAKE_SPARK_CONNECT"):
        return
    from citylake import spark_server
    from tests.infra.helpers import free_port

    os.environ["CITYLAKE_SPARK_CONNECT"] = f"sc://127.0.0.1:{free_port()}"
    os.environ.setdefault("CITYLAKE_SPARK_SERVER_MEMORY", TEST_SERVER_MEMORY)
    config._citylake_spark_server = spark_server.start(citylake_settings.load())


def pytest_unconfigure(config) -> None:
    server = getattr(config, "_citylake_spark_server", None)
    if server is not None and server.started:
        from citylake import spark_server

        spark_server.stop(citylake_settings.load())


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("citylake-data")


@pytest.fixture(scope="session")
def local_settings(data_dir) -> citylake_settings.Settings:
    return citylake_settings.load(local_environment(data_dir))


def local_environment(data_dir: Path, **more: str) -> dict[str, str]:
    """The embedded default's settings for a test: its data folder, the run's Spark server."""
    return {"CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(data_dir),
            "CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"], **more}


@pytest.fixture(scope="session")
def spark(local_settings):
    from citylake.spark import session

    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    spark = session("tests", local_settings)  # a client of the run's server (pytest_configure)
    yield spark
    spark.stop()


@pytest.fixture(scope="session")
def departments_db(data_dir) -> citylake_settings.Settings:
    """A real PostgreSQL exchange database (infra/postgres.sh) on a free loopback port, with its
    own cluster folder, for the whole run; Settings like local_settings, pointing at it."""
    import shutil

    from citylake.local_stack import exports
    from tests.infra.helpers import clean_environment, free_port, run

    # mkdtemp, not tmp_path_factory: pytest's folders are 0700 root, and the server runs as the
    # postgres user, which must reach its cluster folder
    folder = Path(tempfile.mkdtemp(prefix="citylake-departments-db-"))
    folder.chmod(0o755)
    env = clean_environment(CITYLAKE_DATA_DIR=str(folder), CITYLAKE_DEPARTMENTS_DB_PORT=str(free_port()))
    try:
        started = run(["infra/postgres.sh", "start"], env, timeout=600)  # may install the server
        yield citylake_settings.load({"CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(data_dir),
                                      **exports(started.stdout)})
    finally:
        run(["infra/postgres.sh", "stop"], env, timeout=60)
        shutil.rmtree((folder / "postgres").resolve(), ignore_errors=True)  # a fallback cluster too
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def settings_in(tmp_path) -> citylake_settings.Settings:
    """Settings whose lake, reports and incoming folders are this test's own."""
    return citylake_settings.load(local_environment(tmp_path))


NIGHT = "2026-11-23"


def load_job(name: str):
    """Imports jobs/<name>.py (a spark-submit application) as a module."""
    spec = importlib.util.spec_from_file_location(f"citylake_job_{name}", PROJECT_ROOT / "jobs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def generated_night(settings_in):
    """A small generated city delivered into this test's incoming folder; returns its manifest."""
    from citylake import generator

    return generator.generate(300, 5, dt.date.fromisoformat(NIGHT), settings_in.incoming_dir, settings_in.truth_dir)


def workbook(sheets: dict[str, list[list]]) -> bytes:
    """An xlsx file's bytes: one sheet per title, its rows as given (openpyxl)."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def lake_hashes(spark, settings) -> dict[str, str]:
    """The content hash (citylake.lake.content_hash) of every Delta table of the lake, by layer/name."""
    from citylake import lake
    from citylake.maintenance import discover

    return {f"{layer}/{name}": lake.content_hash(lake.read(spark, lake.path(settings, layer, name)))
            for layer, name in discover(settings)}


# Modules that run for minutes (the night under the scheduler, two nights of the libraries, reruns,
# a crash): `make test` runs modules on two pytest-xdist workers in collection order
# (--dist loadfile --no-loadscope-reorder), so these go first and the workers finish together
# instead of one idling while the other starts the longest module last.
LONGEST_FIRST = (
    "tests/infra/test_stack.py",
    "tests/jobs/test_build_base.py",
    "tests/jobs/test_rerun.py",
    "tests/infra/test_spark_cluster.py",
    "tests/infra/test_crash.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {module: place for place, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def explained(frame, mode: str = "extended") -> str:
    """The frame's plans as EXPLAIN prints them (a Spark Connect client has no plan objects)."""
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        frame.explain(mode=mode)
    return printed.getvalue()
