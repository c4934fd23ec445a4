"""Crash safety: the Spark driver killed (kill -9) in the middle of a write leaves no partial
data visible, and the task run again leaves the lake as an uninterrupted run does."""

import os
import signal
import subprocess
import time

import pytest
from pyspark.errors import AnalysisException

from citylake import lake, spark as citylake_spark
from tests.conftest import NIGHT, PROJECT_ROOT, lake_hashes
from tests.infra.helpers import clean_environment

pytestmark = pytest.mark.slow
SOURCE = "social_insurance_enrolment"  # the largest extract: the longest write


def _land(settings, run_id, log):
    command = citylake_spark.submit_command(
        settings, str(PROJECT_ROOT / "jobs" / "land.py"),
        ["--source", SOURCE, "--run-date", NIGHT, "--run-id", run_id])
    env = clean_environment(CITYLAKE_DATA_DIR=str(settings.data_dir))
    with log.open("ab") as output:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _kill_when_data_files_appear(process, table_folder, timeout=300):
    """kill -9 the driver (and its Python) as soon as the write has put a data file down."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the job ended ({process.returncode}) before it wrote a data file")
        if table_folder.exists() and any(table_folder.glob("*.parquet")):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("no data file written in time")


def _generate(settings):
    from datetime import date

    from citylake import generator

    generator.generate(3000, 11, date.fromisoformat(NIGHT), settings.incoming_dir, settings.truth_dir)


def test_a_driver_killed_mid_write_leaves_nothing_partial_and_a_rerun_heals(spark, settings_in, tmp_path):
    import shutil

    _generate(settings_in)
    log = tmp_path / "land.log"
    assert _land(settings_in, "scheduled__clean", log).wait(timeout=600) == 0, log.read_text(errors="replace")[-3000:]
    uninterrupted = lake_hashes(spark, settings_in)
    table_folder = settings_in.data_dir / "lake" / "raw" / SOURCE
    for _attempt in range(3):  # the kill lands before the commit nearly always; if not, again
        shutil.rmtree(settings_in.data_dir / "lake")
        spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()  # this session read the old lake
        _kill_when_data_files_appear(_land(settings_in, "scheduled__crashed", log), table_folder)
        if not list((table_folder / "_delta_log").glob("*.json")):
            break
    # data files are down, the commit is not: readers see no table at all, not part of one
    assert any(table_folder.glob("*.parquet"))
    assert not list((table_folder / "_delta_log").glob("*.json"))
    assert not lake.exists(spark, lake.path(settings_in, lake.RAW, SOURCE))
    with pytest.raises(AnalysisException, match="DELTA_TABLE_NOT_FOUND"):
        lake.read(spark, lake.path(settings_in, lake.RAW, SOURCE)).count()

    assert _land(settings_in, "scheduled__crashed", log).wait(timeout=600) == 0, log.read_text(errors="replace")[-3000:]
    assert lake_hashes(spark, settings_in) == uninterrupted
    assert int(uninterrupted[f"raw/{SOURCE}"].split(":")[0]) > 10_000
