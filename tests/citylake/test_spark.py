"""The Spark session citylake starts: its JVM options."""


def test_driver_jvm_has_room_to_compile_a_long_night(spark):
    # C1-only compilation alone leaves a 48 MB code cache; a driver running many jobs filled it in
    # CI, the JVM stopped compiling and the SparkContext died mid-write.
    management = spark.sparkContext._jvm.java.lang.management.ManagementFactory
    diagnostics = management.getPlatformMXBean(
        spark.sparkContext._jvm.com.sun.management.HotSpotDiagnosticMXBean._java_lang_class)
    assert int(diagnostics.getVMOption("ReservedCodeCacheSize").getValue()) >= 240 * 1024 * 1024
    assert diagnostics.getVMOption("TieredStopAtLevel").getValue() == "1"


def _delta_states(spark) -> list[str]:
    """Names of the snapshot states Delta holds cached, one or two per table it keeps open."""
    persistent = spark.sparkContext._jsc.sc().getPersistentRDDs().values().iterator()
    names = []
    while persistent.hasNext():
        name = persistent.next().name()
        if name and str(name).startswith("Delta Table State"):
            names.append(str(name))
    return names


def test_a_long_session_keeps_a_bounded_number_of_tables_open(spark, tmp_path):
    # A session that has opened more tables than it keeps lets the least recently used go, with
    # their cached snapshots (the test run filled a 2g driver with thousands of finished tables).
    import shutil

    from citylake.spark import DELTA_LOGS_KEPT

    first = tmp_path / "table_00"
    spark.range(3).write.format("delta").save(str(first))
    tables = [first]
    for index in range(1, DELTA_LOGS_KEPT + 4):
        tables.append(tmp_path / f"table_{index:02d}")
        shutil.copytree(first, tables[-1])
    for table in tables:
        assert spark.read.format("delta").load(str(table)).count() == 3
    kept = {name.removesuffix("/_delta_log").rsplit("/", 1)[-1]
            for name in _delta_states(spark) if str(tmp_path) in name}
    # Delta's cache evicts by size per segment, so which tables stay is not strictly the latest
    assert 0 < len(kept) <= DELTA_LOGS_KEPT < len(tables), sorted(kept)
