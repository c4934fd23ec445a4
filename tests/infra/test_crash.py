"""Crash safety: the Spark Connect server killed (kill -9) in the middle of a write leaves no
partial data visible, the next job says clearly that no server answers, and the job run again on
a restarted server leaves the lake as an uninterrupted run does."""

import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest
from pyspark.errors import AnalysisException

from citylake import lake, spark_server
from citylake import settings as citylake_settings
from tests.conftest import NIGHT, PROJECT_ROOT, lake_hashes, local_environment
from tests.infra.helpers import clean_environment, free_port

pytestmark = pytest.mark.slow
SOURCE = "social_insurance_enrolment"  # the largest extract: the longest write


def _land(settings, run_id, log):
    """The landing job as a scheduler's task runs it: a client of the settings' server."""
    env = clean_environment(CITYLAKE_DATA_DIR=str(settings.data_dir), CITYLAKE_SPARK_CONNECT=settings.spark_connect,
                            CITYLAKE_SPARK_SERVER_MEMORY="2g")
    with log.open("ab") as output:
        return subprocess.Popen([sys.executable, str(PROJECT_ROOT / "jobs" / "land.py"), "--source", SOURCE,
                                 "--run-date", NIGHT, "--run-id", run_id], cwd=PROJECT_ROOT, env=env,
                                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_server_when_data_files_appear(server_pid, job, table_folder, timeout=300):
    """kill -9 the server (its JVM and Python workers) as soon as the write has put a data file down."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.poll() is not None:
            raise AssertionError(f"the job ended ({job.returncode}) before it wrote a data file")
        if table_folder.exists() and any(table_folder.glob("*.parquet")):
            os.killpg(server_pid, signal.SIGKILL)
            return job.wait(timeout=120)
        time.sleep(0.005)
    os.killpg(server_pid, signal.SIGKILL)
    raise AssertionError("no data file written in time")


def _generate(settings):
    from datetime import date

    from citylake import generator

    generator.generate(3000, 11, date.fromisoformat(NIGHT), settings.incoming_dir, settings.truth_dir)


def test_the_server_killed_mid_write_leaves_nothing_partial_and_a_rerun_heals(spark, tmp_path):
    import shutil

    # a server of this test's own: killing the run's shared one would fail every other test
    settings = citylake_settings.load(local_environment(
        tmp_path / "data", CITYLAKE_SPARK_CONNECT=f"sc://127.0.0.1:{free_port()}", CITYLAKE_SPARK_SERVER_MEMORY="2g"))
    _generate(settings)
    log = tmp_path / "land.log"
    assert spark_server.start(settings).started
    try:
        assert _land(settings, "scheduled__clean", log).wait(timeout=600) == 0, log.read_text(errors="replace")[-3000:]
        uninterrupted = lake_hashes(spark, settings)
        table_folder = settings.data_dir / "lake" / "raw" / SOURCE
        for _attempt in range(3):  # the kill lands before the commit nearly always; if not, again
            shutil.rmtree(settings.data_dir / "lake")
            spark_server.start(settings)  # again, after a kill
            code = _kill_server_when_data_files_appear(spark_server.started_pid(settings),
                                                       _land(settings, "scheduled__crashed", log), table_folder)
            assert code != 0  # the job saw its server go: no exit 0 with nothing written
            if not list((table_folder / "_delta_log").glob("*.json")):
                break
        # data files are down, the commit is not: readers see no table at all, not part of one
        assert any(table_folder.glob("*.parquet"))
        assert not list((table_folder / "_delta_log").glob("*.json"))
        assert not lake.exists(spark, lake.path(settings, lake.RAW, SOURCE))
        with pytest.raises(AnalysisException, match="DELTA_TABLE_NOT_FOUND"):
            lake.read(spark, lake.path(settings, lake.RAW, SOURCE)).count()

        # with no server, the next job fails at once and says so
        spark_server.stop(settings)
        done = subprocess.run([sys.executable, str(PROJECT_ROOT / "jobs" / "land.py"), "--source", SOURCE,
                               "--run-date", NIGHT], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                              env=clean_environment(CITYLAKE_DATA_DIR=str(settings.data_dir),
                                                    CITYLAKE_SPARK_CONNECT=settings.spark_connect))
        assert done.returncode != 0
        assert f"no Spark Connect server answers at 127.0.0.1:{settings.spark_port}" in done.stderr

        spark_server.start(settings)
        assert _land(settings, "scheduled__crashed", log).wait(timeout=600) == 0, log.read_text(errors="replace")[-3000:]
        assert lake_hashes(spark, settings) == uninterrupted
        assert int(uninterrupted[f"raw/{SOURCE}"].split(":")[0]) > 10_000
    finally:
        spark_server.stop(settings)


def test_a_job_with_its_server_gone_is_not_left_hanging(tmp_path):
    settings = dataclasses.replace(citylake_settings.load(local_environment(tmp_path)),
                                   spark_connect=f"sc://127.0.0.1:{free_port()}")
    from citylake import spark as citylake_spark

    with pytest.raises(citylake_spark.SparkServerDown, match="python -m citylake.spark_server start"):
        citylake_spark.session("land", settings)
