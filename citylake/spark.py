"""Spark sessions and spark-submit arguments, both derived from the one settings object.

The jars (Delta, hadoop-aws and the AWS SDK bundle that hadoop-aws was built against, and the
PostgreSQL JDBC driver for departments' exchange databases) come from Maven Central through Spark's
Ivy: `infra/setup.sh` (`python -m citylake.spark`) resolves them once and records the jar files in
the Ivy folder (JARS_MANIFEST). pyspark 4.2.0 bundles hadoop-client 3.5.0, so hadoop-aws must be
3.5.0 and the bundle 2.35.4 (a mismatched bundle fails with NoSuchFieldError: CRC64_NVME).

Applications get those files, not Maven coordinates. With --packages (or spark.jars.packages),
spark-submit resolves Ivy at every start, and, for a Python application, also puts every resolved
jar on the Python path and copies each one into the application's folder as a Python file: with
the 600 MB AWS SDK bundle among them, every import of a job searched the jars (8 s of a 40 s
landing job) and every start copied 600 MB. On a local master the jars are on the driver's
classpath (nothing copied, the executor runs in the driver); on a cluster they are spark.jars,
which the driver serves to its executors.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from pyspark.sql import SparkSession

from citylake.settings import Settings, load

DELTA_VERSION = "4.4.0"  # the newest delta-spark_4.2 jar on Maven Central (4.4.1 is PyPI-only)
SCALA_SPARK = "4.2_2.13"
DELTA_PACKAGE = f"io.delta:delta-spark_{SCALA_SPARK}:{DELTA_VERSION}"
S3_PACKAGES = ("org.apache.hadoop:hadoop-aws:3.5.0", "software.amazon.awssdk:bundle:2.35.4")
# Departments' exchange databases (前置库) are read over JDBC: spark.read.format("jdbc") with
# driver org.postgresql.Driver. The newest 42.7.x on Maven Central; 1 MB, so every session has it.
POSTGRES_JDBC_PACKAGE = "org.postgresql:postgresql:42.7.14"
ALL_PACKAGES = (DELTA_PACKAGE, POSTGRES_JDBC_PACKAGE, *S3_PACKAGES)
# Transitive jars of delta-spark that pyspark already ships (newer) or that would put a second
# Hadoop client (3.4.2) beside pyspark's 3.5.0 on the classpath.
EXCLUDED_PACKAGES = (
    "org.apache.hadoop:hadoop-client-runtime", "org.apache.hadoop:hadoop-client-api",
    "org.apache.parquet:parquet-hadoop", "org.apache.parquet:parquet-column",
    "org.apache.parquet:parquet-common", "org.apache.parquet:parquet-encoding",
    "org.apache.parquet:parquet-format-structures", "org.apache.parquet:parquet-jackson",
    "org.slf4j:slf4j-api", "org.apache.logging.log4j:log4j-slf4j2-impl",
    "org.apache.logging.log4j:log4j-api", "org.apache.logging.log4j:log4j-core",
    "com.fasterxml.jackson.core:jackson-databind", "com.fasterxml.jackson.core:jackson-core",
    "com.fasterxml.jackson.core:jackson-annotations", "org.xerial.snappy:snappy-java",
    "com.github.luben:zstd-jni", "io.airlift:aircompressor", "org.roaringbitmap:RoaringBitmap",
    "org.roaringbitmap:shims", "commons-logging:commons-logging",
    "com.google.code.findbugs:jsr305", "javax.annotation:javax.annotation-api",
)


DELTA_LOGS_KEPT = 48  # Delta tables whose log and snapshot a session keeps open (beyond it, Delta drops some)


JARS_MANIFEST = "citylake-jars.json"  # in the Ivy folder: ALL_PACKAGES and the jar files they resolved to


# The classes a citylake driver loads (Spark's, Delta's, the JDK's), parsed and verified once by
# setup (python -m citylake.spark archive-classes), mapped by every local driver (AppCDS). The JVM
# maps an archive only on the classpath it was made with, which names this environment's pyspark
# jars: the archive lives in the environment (the virtualenv), beside them.
CLASS_ARCHIVE = "citylake-classes.jsa"


def class_archive() -> Path:
    return Path(sys.prefix) / CLASS_ARCHIVE


class JarsNotResolved(RuntimeError):
    """The Ivy folder has no jars resolved for this version of ALL_PACKAGES."""


def jars(settings: Settings) -> list[str]:
    """The jar files of ALL_PACKAGES (and their dependencies) as setup resolved them."""
    manifest = settings.ivy_dir / JARS_MANIFEST
    fix = "run infra/setup.sh (or python -m citylake.spark) to resolve them"
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JarsNotResolved(f"Spark's jars are not resolved: no {manifest}; {fix}") from None
    if recorded.get("packages") != list(ALL_PACKAGES):
        raise JarsNotResolved(f"{manifest} records other packages than {', '.join(ALL_PACKAGES)}; {fix}")
    missing = [name for name in recorded["jars"] if not Path(name).is_file()]
    if missing:
        raise JarsNotResolved(f"{manifest} lists {len(missing)} jar(s) no longer there ({missing[0]}); {fix}")
    return recorded["jars"]


def conf(settings: Settings) -> dict[str, str]:
    """Spark configuration for a citylake application (everything but the master), its jars
    included."""
    resolved = jars(settings)
    values = {
        # Nightly jobs are short-lived JVMs: C1-only compilation saves a quarter of their time.
        "spark.driver.extraJavaOptions": settings.driver_java_options,
        "spark.executor.extraJavaOptions": settings.driver_java_options,  # on a cluster (settings.py)
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "Asia/Shanghai",
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": settings.driver_memory,
        "spark.executor.memory": settings.executor_memory,
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Landing decodes extracts with F.decode in any Java charset (GBK, GB18030...), and bytes
        # that are not the charset become U+FFFD instead of failing the job (citylake/landing.py).
        "spark.sql.legacy.javaCharsets": "true",
        "spark.sql.legacy.codingErrorAction": "true",
        "spark.databricks.delta.snapshotPartitions": "2",
        # Delta keeps every table it has opened (its log and a cached snapshot state) for an hour,
        # up to 10,000 tables: a long-lived session (the test run, a notebook) filled a 2g driver
        # with tables it had finished with, until a broadcast had no room. A lake has ~45 tables.
        "spark.databricks.delta.delta.log.cacheSize": str(DELTA_LOGS_KEPT),
        # Driver and executors run the venv's Python (the one that holds citylake).
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    if settings.spark_master.startswith("local"):
        values["spark.driver.extraClassPath"] = os.pathsep.join(resolved)
        # setup's class archive saves most of loading Spark's and Delta's classes; it maps on the
        # classpath it was made with, a local driver's (a JVM of another build ignores it)
        archive = class_archive()
        if archive.is_file():
            values["spark.driver.extraJavaOptions"] += f" -XX:SharedArchiveFile={archive}"
    else:
        values["spark.jars"] = ",".join(resolved)
    if settings.s3 is not None:
        s3 = settings.s3
        prefix = "spark.hadoop.fs.s3a."
        values.update(
            {
                prefix + "endpoint": s3.endpoint,
                prefix + "endpoint.region": s3.region,
                prefix + "path.style.access": "true",
                prefix + "connection.ssl.enabled": str(s3.endpoint.startswith("https")).lower(),
                prefix + "aws.credentials.provider": (
                    "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
                ),
                prefix + "access.key": s3.access_key,
                prefix + "secret.key": s3.secret_key,
                prefix + "change.detection.mode": "none",
                prefix + "multiobjectdelete.enable": "false",
                "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            }
        )
    return values


def submit_command(settings: Settings, application: str, args: list[str]) -> list[str]:
    """The spark-submit command line of a citylake job, as the DAGs' SparkSubmitOperator builds it
    (for running a job by hand or from a test): master, jars and configuration from settings."""
    spark_submit = os.path.join(os.path.dirname(sys.executable), "spark-submit")
    command = [spark_submit, "--master", settings.spark_master]
    for key, value in conf(settings).items():
        command += ["--conf", f"{key}={value}"]
    return [*command, application, *args]


def session(app: str, settings: Settings | None = None) -> SparkSession:
    """The active session when run under spark-submit, else a new one built from settings."""
    settings = settings or load()
    builder = SparkSession.builder.appName(f"citylake-{app}")
    if SparkSession.getActiveSession() is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        # started from plain Python (tests, benchmarks): we launch the JVM with conf's classpath
        builder = builder.master(settings.spark_master)
    for key, value in conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _warm() -> None:
    """Resolves ALL_PACKAGES into the Ivy cache, records the jar files (JARS_MANIFEST) and
    round-trips a Delta table with them (used by setup)."""
    import tempfile

    ivy_dir = load().ivy_dir
    with tempfile.TemporaryDirectory() as folder:
        spark = (
            SparkSession.builder.appName("citylake-warm-up")
            .master("local[1]")
            .config("spark.jars.packages", ",".join(ALL_PACKAGES))
            .config("spark.jars.ivy", str(ivy_dir))
            .config("spark.jars.excludes", ",".join(EXCLUDED_PACKAGES))
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog",
                    "org.apache.spark.sql.delta.catalog.DeltaCatalog")
            .getOrCreate()
        )
        resolved = [uri.removeprefix("file://") for uri in spark.conf.get("spark.jars").split(",") if uri]
        spark.range(3).write.format("delta").save(folder + "/t")
        count = spark.read.format("delta").load(folder + "/t").count()
        spark.stop()
    if count != 3:
        raise SystemExit(f"Delta round trip read {count} rows, expected 3")
    (ivy_dir / JARS_MANIFEST).write_text(
        json.dumps({"packages": list(ALL_PACKAGES), "jars": resolved}, indent=1), encoding="utf-8")
    print(f"spark: Delta round trip ok; {len(resolved)} jars recorded in {ivy_dir / JARS_MANIFEST}")


def _archive_classes() -> None:
    """Makes the class archive: a local driver with the jobs' classpath that reads and writes Delta
    the way the jobs do, dumping the classes it loaded when its JVM exits (-XX:ArchiveClassesAtExit)."""
    import tempfile

    from pyspark import SparkContext

    settings = load()
    archive = class_archive()
    archive.unlink(missing_ok=True)
    making = archive.with_suffix(".making")
    settings = replace(settings, spark_master="local[2]",
                       driver_java_options=f"{settings.driver_java_options} -XX:ArchiveClassesAtExit={making}")
    spark = session("class-archive", settings)
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "extract.csv").write_text("id,name,day\n1,张三,2026-11-23\n2,李四,2026-11-24\n", encoding="utf-8")
        extract = (spark.read.option("header", True).csv(f"{folder}/extract.csv")
                   .withColumn("raw", F.decode(F.encode("name", "UTF-8"), "GB18030"))
                   .withColumn("day", F.to_date("day")).withColumn("rank", F.row_number().over(
                       Window.partitionBy("day").orderBy("id"))))
        table = f"{folder}/table"
        extract.write.format("delta").partitionBy("day").save(table)
        extract.where("day = DATE'2026-11-23'").write.format("delta").mode("overwrite").option(
            "replaceWhere", "day = DATE'2026-11-23'").save(table)
        spark.sql(f"DESCRIBE DETAIL delta.`{table}`").collect()
        spark.sql(f"MERGE INTO delta.`{table}` t USING delta.`{table}` s ON t.id = s.id "
                  "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
        read = spark.read.format("delta").load(table).where("id > 0").localCheckpoint()
        read.join(spark.createDataFrame([("1", 1.0)], "id string, score double"), "id", "left") \
            .groupBy("day").agg(F.count("*"), F.approx_count_distinct("name")).toPandas()
        jvm = SparkContext._gateway.proc
        spark.stop()
    jvm.stdin.close()  # the JVM exits when its Python goes, writing the archive as it does
    jvm.wait(timeout=600)
    if not making.is_file():
        raise SystemExit(f"spark: the JVM wrote no class archive ({making})")
    making.rename(archive)
    print(f"spark: class archive {archive} ({archive.stat().st_size // 2**20} MB)")


def own_session(spark: SparkSession) -> SparkSession:
    """Another session of the same application (its SparkContext, cached data and Delta logs), with
    the settings ``spark`` has now, but its own: a setting one thread's work sets on its session
    (citylake/lake.py: write_changes' commit metadata) is not seen by work run on the other, so the
    two can run side by side (citylake/concurrency.py)."""
    session = spark.newSession()
    for key, value in spark.conf.getAll.items():
        if spark.conf.isModifiable(key):
            session.conf.set(key, value)
    return session


if __name__ == "__main__":
    if sys.argv[1:] == ["archive-classes"]:
        _archive_classes()
    else:
        _warm()

