"""The Spark session citylake starts: its jars and JVM options."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from citylake import spark as citylake_spark
from citylake.settings import load


def _ivy(tmp_path, packages=citylake_spark.ALL_PACKAGES, jar_names=("delta.jar", "bundle.jar")):
    """An Ivy folder whose manifest lists jar files (made, so they exist)."""
    ivy = tmp_path / "ivy"
    (ivy / "jars").mkdir(parents=True)
    jars = []
    for name in jar_names:
        (ivy / "jars" / name).write_bytes(b"PK")
        jars.append(str(ivy / "jars" / name))
    (ivy / citylake_spark.JARS_MANIFEST).write_text(json.dumps({"packages": list(packages), "jars": jars}))
    return ivy, jars


def test_a_local_driver_gets_the_resolved_jars_on_its_classpath_and_a_cluster_gets_them_shipped(tmp_path):
    ivy, jars = _ivy(tmp_path)
    local = citylake_spark.conf(load({"CITYLAKE_IVY_DIR": str(ivy)}))
    jars = [*jars, str(citylake_spark.extension_jar())]  # and citylake's own extension, built by setup
    assert local["spark.driver.extraClassPath"] == ":".join(jars)
    assert "spark.jars" not in local
    cluster = citylake_spark.conf(load({"CITYLAKE_IVY_DIR": str(ivy), "CITYLAKE_ENV": "cluster",
                                        "CITYLAKE_SPARK_MASTER": "spark://127.0.0.1:7077",
                                        "CITYLAKE_S3_ENDPOINT": "http://127.0.0.1:9000",
                                        "CITYLAKE_S3_ACCESS_KEY": "a", "CITYLAKE_S3_SECRET_KEY": "b"}))
    assert cluster["spark.jars"] == ",".join(jars) and "spark.driver.extraClassPath" not in cluster
    # never Maven coordinates: spark-submit would resolve them at every start and put every jar on
    # the job's Python path
    command = citylake_spark.submit_command(load({"CITYLAKE_IVY_DIR": str(ivy)}), "jobs/land.py", [])
    assert "--packages" not in command and not any("spark.jars.packages" in part for part in command)


def test_a_local_driver_maps_the_class_archive_when_setup_made_one(tmp_path, monkeypatch):
    ivy, _ = _ivy(tmp_path)
    archive = tmp_path / "venv" / citylake_spark.CLASS_ARCHIVE
    monkeypatch.setattr(citylake_spark, "class_archive", lambda: archive)
    local = load({"CITYLAKE_IVY_DIR": str(ivy)})
    assert "SharedArchiveFile" not in citylake_spark.conf(local)["spark.driver.extraJavaOptions"]
    archive.parent.mkdir()
    archive.write_bytes(b"archive")
    options = citylake_spark.conf(local)["spark.driver.extraJavaOptions"]
    assert options.endswith(f"-XX:ReservedCodeCacheSize=240m -XX:SharedArchiveFile={archive}")
    # a cluster's driver has another classpath than the archive's (spark.jars): it would not map
    cluster = load({"CITYLAKE_IVY_DIR": str(ivy), "CITYLAKE_ENV": "cluster", "CITYLAKE_SPARK_MASTER": "spark://h:7077",
                    "CITYLAKE_S3_ENDPOINT": "http://127.0.0.1:9000", "CITYLAKE_S3_ACCESS_KEY": "a",
                    "CITYLAKE_S3_SECRET_KEY": "b"})
    assert "SharedArchiveFile" not in citylake_spark.conf(cluster)["spark.driver.extraJavaOptions"]


def test_jars_not_resolved_for_these_packages_say_how_to_resolve_them(tmp_path):
    settings = load({"CITYLAKE_IVY_DIR": str(tmp_path / "empty")})
    with pytest.raises(citylake_spark.JarsNotResolved, match="no .*citylake-jars.json; run infra/setup.sh"):
        citylake_spark.jars(settings)
    ivy, _ = _ivy(tmp_path / "old", packages=["io.delta:delta-spark_4.0_2.13:4.0.0"])
    with pytest.raises(citylake_spark.JarsNotResolved, match="records other packages"):
        citylake_spark.jars(load({"CITYLAKE_IVY_DIR": str(ivy)}))
    ivy, jars = _ivy(tmp_path / "gone")
    (ivy / "jars" / "bundle.jar").unlink()
    with pytest.raises(citylake_spark.JarsNotResolved, match="1 jar.* no longer there .*bundle.jar"):
        citylake_spark.jars(load({"CITYLAKE_IVY_DIR": str(ivy)}))


def _server_pid() -> int:
    from citylake import spark_server
    from citylake.settings import load as load_settings

    pid = spark_server.started_pid(load_settings())
    assert pid is not None, "the test run's Spark Connect server (tests/conftest.py) runs"
    return pid


def _server_jvm() -> str:
    """The pid of the server's JVM: the process spark-submit ran (a child of the one started)."""
    children = subprocess.run(["pgrep", "-f", "-g", str(_server_pid()), "SparkConnectServer"], capture_output=True,
                              text=True, check=True).stdout.split()
    for pid in children:
        if "java" in Path(f"/proc/{pid}/exe").resolve().name:
            return pid
    raise AssertionError(f"no JVM among the server's processes {children}")


def test_the_server_runs_delta_with_no_jar_on_the_python_path_and_setup_s_class_archive(spark, tmp_path):
    spark.range(2).write.format("delta").save(str(tmp_path / "t"))
    assert spark.read.format("delta").load(str(tmp_path / "t")).count() == 2
    assert [entry for entry in sys.path if entry.endswith(".jar")] == []
    archive = citylake_spark.class_archive()
    assert archive.is_file(), "infra/setup.sh makes the class archive (see .venv/archive-classes.log)"
    info = subprocess.run(["jcmd", _server_jvm(), "VM.info"], capture_output=True, text=True, check=True,
                          timeout=120).stdout
    assert f"-XX:SharedArchiveFile={archive}" in info


def test_the_server_jvm_compiles_a_long_night_fully(spark):
    # a long-lived driver: a code cache room for the whole night, C2 on, and entity resolution's
    # huge scoring method compiled (citylake/settings.py)
    flags = subprocess.run(["jcmd", _server_jvm(), "VM.flags", "-all"], capture_output=True, text=True,
                           check=True, timeout=120).stdout
    value = {m.group(1): m.group(2) for m in re.finditer(r"^\s*\S+ (\w+)\s+= (\S+)", flags, re.M)}
    assert int(value["ReservedCodeCacheSize"]) >= 240 * 1024 * 1024
    assert value["TieredStopAtLevel"] == "4" and value["DontCompileHugeMethods"] == "false"


def test_a_long_server_keeps_a_bounded_number_of_tables_open():
    # the server opens every table of every night: Delta keeps DELTA_LOGS_KEPT of them, not 10,000
    from citylake import spark_server
    from citylake.settings import load as load_settings

    command = spark_server.command(load_settings())
    assert f"spark.databricks.delta.delta.log.cacheSize={citylake_spark.DELTA_LOGS_KEPT}" in command


@pytest.mark.spark
def test_an_own_session_has_the_settings_but_not_what_the_other_sets_for_a_commit(spark, tmp_path):
    metadata = "spark.databricks.delta.commitInfo.userMetadata"  # what lake.write_changes sets for its MERGE
    own = citylake_spark.own_session(spark)
    assert own is not spark and own.session_id != spark.session_id
    assert own.conf.get("spark.sql.session.timeZone") == spark.conf.get("spark.sql.session.timeZone") == "Asia/Shanghai"
    assert own.conf.get("spark.sql.shuffle.partitions") == spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set(metadata, '{"night": "2026-11-23"}')
    try:
        own.range(2).write.format("delta").save(str(tmp_path / "t"))  # committed on the own session meanwhile
    finally:
        spark.conf.unset(metadata)
    (commit,) = own.sql(f"DESCRIBE HISTORY delta.`{tmp_path / 't'}`").select("userMetadata").collect()
    assert commit.userMetadata is None
