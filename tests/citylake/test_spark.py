"""The Spark session citylake starts: its JVM options."""


def test_driver_jvm_has_room_to_compile_a_long_night(spark):
    # C1-only compilation alone leaves a 48 MB code cache; a driver running many jobs filled it in
    # CI, the JVM stopped compiling and the SparkContext died mid-write.
    management = spark.sparkContext._jvm.java.lang.management.ManagementFactory
    diagnostics = management.getPlatformMXBean(
        spark.sparkContext._jvm.com.sun.management.HotSpotDiagnosticMXBean._java_lang_class)
    assert int(diagnostics.getVMOption("ReservedCodeCacheSize").getValue()) >= 240 * 1024 * 1024
    assert diagnostics.getVMOption("TieredStopAtLevel").getValue() == "1"
