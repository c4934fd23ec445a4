import pytest
from pyspark.sql import functions as F

from citylake import lake


def test_sql_literal_escapes_quotes():
    assert lake.sql_literal("a'b\\c") == "'a\\'b\\\\c'"


@pytest.mark.spark
def test_quarantine_id_twins_agree(spark):
    rows = [("household_registration/2026-11-23", "landing", 2), ("enterprise_registry/2026-11-24", "standardise", 9876)]
    frame = spark.createDataFrame(rows, "batch string, stage string, line int")
    ids = [r.id for r in frame.select(lake.quarantine_id_col(F.col("batch"), F.col("stage"), F.col("line")).alias("id")).collect()]
    assert ids == [lake.quarantine_id(*row) for row in rows]
    assert len(set(ids)) == 2 and all(len(i) == 16 for i in ids)


class _ConcurrentAppendException(Exception):
    """Stands in for delta.exceptions.ConcurrentAppendException (matched by class name)."""


_ConcurrentAppendException.__name__ = "ConcurrentAppendException"


def test_commit_conflicts_are_retried_with_capped_jittered_backoff(monkeypatch):
    delays, calls = [], []
    monkeypatch.setattr(lake.time, "sleep", delays.append)

    def write():
        calls.append(1)
        if len(calls) < 4:
            raise _ConcurrentAppendException("a concurrent WRITE added data")
        return "committed"

    assert lake.with_commit_retry(write, "ops/quarantine", base=1.0, cap=3.0) == "committed"
    assert len(calls) == 4 and len(delays) == 3
    assert all(0 <= delay <= bound for delay, bound in zip(delays, [1.0, 2.0, 3.0]))

    def schema_mismatch():
        raise ValueError("schema")

    def always_conflicting():
        raise _ConcurrentAppendException("a concurrent WRITE added data")

    with pytest.raises(ValueError):  # anything else is not retried
        lake.with_commit_retry(schema_mismatch, "t")
    assert len(delays) == 3
    with pytest.raises(_ConcurrentAppendException):  # and conflicts only so many times
        lake.with_commit_retry(always_conflicting, "t", attempts=3)
    assert len(delays) == 3 + 2


@pytest.mark.spark
def test_two_sources_writing_the_quarantine_at_once_both_land(spark, settings_in, caplog):
    """Two sources' tasks write their batches into ops/quarantine at the same moment (two threads
    on the shared session): Delta refuses the later commit, the writer retries, nothing is lost."""
    import threading
    from datetime import datetime

    caplog.set_level("WARNING", logger="citylake.lake")
    path = lake.path(settings_in, *lake.QUARANTINE)
    sources = ("household_registration", "enterprise_registry")

    def batch(source, night, rows=20):
        batch_id = lake.batch_id(source, night)
        return batch_id, spark.createDataFrame(
            [(lake.quarantine_id(batch_id, "landing", line), "open", source, batch_id, "run", "landing",
              "LAND-COLUMNS", "wrong number of columns", "f.csv", line, None, datetime(2026, 11, 23))
             for line in range(rows)], lake.QUARANTINE_SCHEMA)

    errors = []
    # the first night creates the table, both writers at once; the third reruns the first night
    for night in ("2026-11-23", "2026-11-24", "2026-11-23"):
        start = threading.Barrier(len(sources))
        batches = [batch(source, night) for source in sources]

        def write(batch_id, frame):
            start.wait()
            try:
                lake.replace_where(frame, path, f"batch_id = {lake.sql_literal(batch_id)} AND stage = 'landing'")
            except Exception as error:  # noqa: BLE001 - collected, asserted below
                errors.append(error)

        writers = [threading.Thread(target=write, args=b) for b in batches]
        [writer.start() for writer in writers]
        [writer.join() for writer in writers]

    assert errors == []
    counts = {r.batch_id: r["count"] for r in lake.read(spark, path).groupBy("batch_id").count().collect()}
    assert counts == {lake.batch_id(s, n): 20 for s in sources for n in ("2026-11-23", "2026-11-24")}
    conflicts = [r.getMessage() for r in caplog.records if "Delta commit conflict" in r.getMessage()]
    assert conflicts, "the writers never collided: the test proved nothing"


def test_content_hash_sees_content_not_order_nor_run(spark):
    rows = [("1", "张三", "run-1", None), ("2", "李四", "run-1", None)]
    schema = "id string, name string, run_id string, _ingested_at timestamp"
    base = lake.content_hash(spark.createDataFrame(rows, schema))
    again = spark.createDataFrame([(r[0], r[1], "run-2", None) for r in reversed(rows)], schema)
    assert lake.content_hash(again.select("name", "_ingested_at", "run_id", "id")) == base
    changed = spark.createDataFrame([("1", "张三", "run-1", None), ("2", "李五", "run-1", None)], schema)
    assert lake.content_hash(changed) != base
    assert lake.content_hash(spark.createDataFrame(rows[:1], schema)) != base


@pytest.mark.spark
def test_a_versioned_table_takes_a_night_s_changes_only_and_a_rerun_writes_it_once(spark, tmp_path):

    from citylake.base import records_as_of

    path = str(tmp_path / "records")
    schema = "record_key string, value string"

    def write(rows, ended, night, after):
        lake.write_versions(spark, path, spark.createDataFrame(rows, schema),
                            None if ended is None else spark.createDataFrame([(k,) for k in ended], "record_key string"),
                            "record_key", night, after)

    def on(night):
        return dict((row.record_key, row.value) for row in records_as_of(lake.read(spark, path), night).collect())

    write([("a", "a1"), ("b", "b1"), ("c", "c1")], None, "2026-11-23", None)
    assert lake.detail(spark, path)["properties"]["delta.enableDeletionVectors"] == "true"
    write([("b", "b2"), ("d", "d1")], ["b", "c"], "2026-11-24", "2026-11-23")  # b changed, c gone, d new
    assert on("2026-11-23") == {"a": "a1", "b": "b1", "c": "c1"}
    assert on("2026-11-24") == {"a": "a1", "b": "b2", "d": "d1"}
    assert lake.read(spark, path).count() == 5  # a's one version was not written again
    once = lake.content_hash(lake.read(spark, path))
    write([("b", "b2"), ("d", "d1")], ["b", "c"], "2026-11-24", "2026-11-23")  # the night again
    assert lake.content_hash(lake.read(spark, path)) == once
    write([("a", "a2")], ["a"], "2026-11-24", "2026-11-23")  # the night again, other changes: the first undone
    assert on("2026-11-24") == {"a": "a2", "b": "b1", "c": "c1"}
    write([("a", "a3"), ("e", "e1")], None, "2026-11-25", "2026-11-24")  # in full: every version ends
    assert on("2026-11-25") == {"a": "a3", "e": "e1"} and on("2026-11-24") == {"a": "a2", "b": "b1", "c": "c1"}


@pytest.mark.spark
def test_a_night_s_changes_replace_their_keys_rows_once_against_last_night(spark, tmp_path):

    path = str(tmp_path / "population")
    schema = "person_id string, name string"
    lake.overwrite(spark.createDataFrame([("P1", "甲"), ("P2", "乙"), ("P3", "丙")], schema), path, {"night": "1"})
    since = lake.tagged_version(spark, path, {"night": "1"})
    spark.sql(f"OPTIMIZE delta.`{path}`").collect()  # maintenance: no row changed

    def write(rows, ended, night):
        changes = spark.createDataFrame(rows, schema).withColumn(lake.ENDS, F.lit(None).cast("string")).unionByName(
            spark.createDataFrame([(k,) for k in ended], f"{lake.ENDS} string"), allowMissingColumns=True)
        lake.write_changes(spark, path, changes, "person_id", {"night": night}, since)

    def rows():
        return sorted(tuple(row) for row in lake.read(spark, path).collect())

    write([("P2", "乙乙"), ("P4", "丁")], ["P2", "P3"], "2")  # P2 changed, P3 gone, P4 new
    assert rows() == [("P1", "甲"), ("P2", "乙乙"), ("P4", "丁")]
    commits = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy(F.desc("version")).collect()
    assert [c.operation for c in commits[:3]] == ["MERGE", "SET TBLPROPERTIES", "OPTIMIZE"]  # OPTIMIZE kept
    assert lake.tagged_version(spark, path, {"night": "2"}) == commits[0].version
    write([("P1", "甲甲")], ["P1"], "2")  # night 2 again, other changes: the first run's undone
    assert rows() == [("P1", "甲甲"), ("P2", "乙"), ("P3", "丙")]
    assert spark.conf.get("spark.databricks.delta.commitInfo.userMetadata", None) is None  # not left behind


def test_two_tables_changed_at_once_each_commit_their_own_tag(spark, tmp_path):
    """The golden records and their history are written side by side (jobs/build_base.py: publish);
    a MERGE's commit metadata is a session setting, so each must still commit its own tag."""
    import json
    import threading

    from citylake.concurrency import concurrently

    schema = "person_id string, name string"
    paths = [str(tmp_path / name) for name in ("population", "population_history")]
    for path in paths:
        lake.overwrite(spark.createDataFrame([("P1", "甲")], schema), path, {"night": "1"})
    start = threading.Barrier(len(paths), timeout=60)

    def write(path):
        changes = spark.createDataFrame([("P2", path[-7:])], schema).withColumn(lake.ENDS, F.lit(None).cast("string"))
        since = lake.tagged_version(spark, path, {"night": "1"})
        start.wait()
        lake.write_changes(spark, path, changes, "person_id", {"night": "2", "table": path}, since)

    for _ in range(3):  # three rounds: each a chance for the two MERGEs to overlap
        concurrently(write, paths, workers=2)
        for path in paths:  # each table's newest commit, its MERGE, tagged as its writer tagged it
            newest = max(lake.commits(spark, path), key=lambda commit: commit.version)
            assert (newest.operation, newest.userMetadata) == (
                "MERGE", json.dumps({"night": "2", "table": path}, sort_keys=True)), path
    assert spark.conf.get("spark.databricks.delta.commitInfo.userMetadata", None) is None


@pytest.mark.spark
def test_a_night_s_changes_can_end_rows_instead_of_deleting_them(spark, tmp_path):
    path = str(tmp_path / "history")
    schema = "k string, v string, is_current boolean"
    lake.overwrite(spark.createDataFrame([("a", "0", False), ("a", "1", True), ("b", "2", True)], schema), path,
                   {"night": "1"})
    changes = spark.createDataFrame([("a", "3", True)], schema).withColumn(lake.ENDS, F.lit(None).cast("string"))
    changes = changes.unionByName(spark.createDataFrame([("a",)], f"{lake.ENDS} string"), allowMissingColumns=True)
    lake.write_changes(spark, path, changes, "k", {"night": "2"}, lake.tagged_version(spark, path, {"night": "1"}),
                       ended={"is_current": "false"}, held="t.is_current")
    assert sorted(tuple(row) for row in lake.read(spark, path).collect()) == [
        ("a", "0", False), ("a", "1", False), ("a", "3", True), ("b", "2", True)]
