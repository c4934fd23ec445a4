"""The environment's Spark Connect server: started, reused, stopped; guarded by its token; and a
task's work on it isolated from the next task's, interrupted when the task is killed."""

import dataclasses
import threading
import time

import pytest
from pyspark.errors import PySparkException
from pyspark.errors.exceptions.connect import SparkConnectGrpcException

from citylake import settings as citylake_settings
from citylake import spark as citylake_spark
from citylake import spark_server
from citylake.operators import CitylakeSparkConnectOperator, operation_tag
from tests.conftest import local_environment
from tests.infra.helpers import free_port


def test_the_server_heap_is_sized_from_the_machine():
    assert spark_server.server_memory(24 * 2**30) == "12g"
    assert spark_server.server_memory(2 * 2**30) == "2g"  # never below MIN_HEAP_GB
    assert spark_server.server_memory(1024 * 2**30) == "64g"


def test_the_server_binds_loopback_with_a_token_delta_and_a_checkpoint_folder(tmp_path):
    settings = citylake_settings.load(local_environment(tmp_path, CITYLAKE_SPARK_CONNECT="sc://127.0.0.1:15999"))
    command = " ".join(spark_server.command(settings))
    assert "--class org.apache.spark.sql.connect.service.SparkConnectServer" in command
    assert "spark.connect.grpc.binding.address=127.0.0.1" in command and "binding.port=15999" in command
    assert f"spark.connect.authenticate.token={spark_server.token(settings)}" in command
    assert "io.delta.sql.DeltaSparkSessionExtension" in command and "spark.checkpoint.dir=" in command
    assert (settings.spark_state_dir / "token").stat().st_mode & 0o077 == 0  # the owner's only


def test_a_bad_address_is_a_settings_error(tmp_path):
    for address in ("http://127.0.0.1:15002", "sc://127.0.0.1", "sc://127.0.0.1:99999", "sc://a b:1"):
        with pytest.raises(citylake_settings.SettingsError, match="CITYLAKE_SPARK_CONNECT"):
            citylake_settings.load(local_environment(tmp_path, CITYLAKE_SPARK_CONNECT=address))


@pytest.mark.slow
def test_start_reuses_a_running_server_and_stop_stops_only_what_it_started(tmp_path):
    settings = citylake_settings.load(local_environment(
        tmp_path, CITYLAKE_SPARK_CONNECT=f"sc://127.0.0.1:{free_port()}", CITYLAKE_SPARK_SERVER_MEMORY="1g"))
    first = spark_server.start(settings)
    try:
        assert first.started and spark_server.ready(settings)
        again = spark_server.start(settings)
        assert not again.started and again.pid is None  # reused
        # a client without the token is refused
        wrong = dataclasses.replace(settings, spark_token="not-the-token")
        assert not spark_server.ready(wrong)
        with pytest.raises(spark_server.SparkServerError, match="not as a Spark Connect server with citylake's token"):
            spark_server.start(wrong)
    finally:
        assert spark_server.stop(settings)
    assert not spark_server.answering(settings.spark_host, settings.spark_port)
    assert not spark_server.stop(settings)  # nothing left that it started


def test_a_failing_task_leaves_the_server_to_the_next(local_settings):
    failing = citylake_spark.remote_session(local_settings, create=True)
    failing.sql("CREATE OR REPLACE TEMP VIEW mine AS SELECT 1 AS x")
    with pytest.raises(PySparkException):
        failing.sql("SELECT no_such_column FROM mine").collect()
    failing.stop()
    following = citylake_spark.remote_session(local_settings, create=True)
    try:
        assert following.range(5).count() == 5
        with pytest.raises(PySparkException, match="TABLE_OR_VIEW_NOT_FOUND"):  # the other's view is not here
            following.sql("SELECT * FROM mine").collect()
    finally:
        following.stop()


def test_a_killed_task_has_its_queries_interrupted_on_the_server(local_settings):
    task = CitylakeSparkConnectOperator(task_id="land_x", job="land", application_args=[], conn_id="citylake_spark")
    session = citylake_spark.remote_session(local_settings, create=True)
    task._spark, task._tag = session, operation_tag("citylake_ingest_x", "land_x", "manual__1", 1)
    failure = []

    def long_query():  # the task's thread: Spark Connect tags are a thread's
        session.addTag(task._tag)
        try:  # a cross join that would run for hours on two cores
            session.range(10**6).crossJoin(session.range(10**6).withColumnRenamed("id", "j")) \
                .selectExpr("count_if((id * 7 + j) % 13 = 0)").collect()
        except Exception as error:  # noqa: BLE001 - the interruption is what is looked for
            failure.append(error)

    worker = threading.Thread(target=long_query)
    worker.start()
    time.sleep(3)  # the query is running on the server
    task.on_kill()
    worker.join(timeout=60)
    try:
        assert not worker.is_alive(), "the interrupted query still runs"
        assert failure and isinstance(failure[0], (SparkConnectGrpcException, PySparkException))
        assert "OPERATION_CANCELED" in str(failure[0]) or "interrupt" in str(failure[0]).lower()
        assert session.range(2).count() == 2  # the server and the session serve the next query
    finally:
        session.stop()


def test_a_task_tag_is_one_spark_accepts_and_unique_per_try():
    first = operation_tag("citylake_ingest_x", "land,x y", "manual__2026-11-23T01:00:00+00:00", 1)
    assert "," not in first and " " not in first
    assert first != operation_tag("citylake_ingest_x", "land,x y", "manual__2026-11-23T01:00:00+00:00", 2)
