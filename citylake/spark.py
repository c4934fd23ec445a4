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

from citylake.settings import IN_PROCESS, PROJECT_ROOT, Settings, load

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


# citylake's own Spark session extension (infra/spark/src: a checkpoint's size estimate kept
# bounded, the server side of citylake/checkpoint.py), compiled by setup (python -m citylake.spark
# build-extension) against this environment's Spark, into the environment.
EXTENSION_SOURCES = PROJECT_ROOT / "infra" / "spark" / "src"
EXTENSION_JAR = "citylake-spark-extension.jar"
EXTENSION_CLASS = "citylake.spark.BoundedCheckpoints"


def extension_jar() -> Path:
    return Path(sys.prefix) / EXTENSION_JAR


def _build_extension() -> None:
    """Compiles EXTENSION_SOURCES against pyspark's jars into extension_jar()."""
    import subprocess
    import tempfile

    import pyspark

    classpath = str(Path(pyspark.__file__).parent / "jars" / "*")
    sources = sorted(str(path) for path in EXTENSION_SOURCES.rglob("*.java"))
    with tempfile.TemporaryDirectory() as classes:
        subprocess.run(["javac", "-nowarn", "--release", "17", "-d", classes, "-cp", classpath, *sources], check=True)
        making = extension_jar().with_suffix(".making")
        subprocess.run(["jar", "cf", str(making), "-C", classes, "."], check=True)
        making.rename(extension_jar())
    print(f"spark: session extension {extension_jar()}")


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


def _extension(settings: Settings) -> Path:
    jar = extension_jar()
    if not jar.is_file():
        raise JarsNotResolved(f"citylake's Spark extension is not built: no {jar}; run infra/setup.sh "
                              "(or python -m citylake.spark build-extension)")
    return jar


def conf(settings: Settings) -> dict[str, str]:
    """Spark configuration for a citylake application (everything but the master), its jars
    included."""
    resolved = [*jars(settings), str(_extension(settings))]
    values = {
        # Nightly jobs are short-lived JVMs: C1-only compilation saves a quarter of their time.
        "spark.driver.extraJavaOptions": settings.driver_java_options,
        "spark.executor.extraJavaOptions": settings.driver_java_options,  # on a cluster (settings.py)
        "spark.sql.extensions": f"io.delta.sql.DeltaSparkSessionExtension,{EXTENSION_CLASS}",
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


def remote_url(settings: Settings) -> str:
    """The sc:// address of the settings' Spark Connect server, with its token. On loopback the
    client says ``localhost``: gRPC then sends the token over local credentials, without TLS."""
    from citylake import spark_server

    host = "localhost" if settings.spark_host in ("127.0.0.1", "localhost", "::1") else settings.spark_host
    return f"sc://{host}:{settings.spark_port}/;token={spark_server.token(settings)}"


RUNTIME_CONF = ("spark.sql.session.timeZone", "spark.sql.shuffle.partitions",
                "spark.sql.execution.arrow.pyspark.enabled")


def remote_session(settings: Settings, *, create: bool = False) -> SparkSession:
    """A Spark Connect session on the settings' server: the thread's active or the process's
    default one when it is on that server (else a new default), or with ``create`` a session of
    its own, made no default (its temp views and runtime settings unseen by the others)."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    url = remote_url(settings)
    if create:  # neither the process's default session nor the thread's active one
        spark = ConnectSession(connection=url)
    else:
        current = ConnectSession.getActiveSession() or ConnectSession._get_default_session()
        endpoint = url.removeprefix("sc://").split("/", 1)[0]
        if current is not None and not current.is_stopped and current.client._builder.endpoint == endpoint:
            spark = current  # the task's (operators.CitylakeSparkConnectOperator) or the process's
        else:
            spark = SparkSession.builder.remote(url).create()
    _close_at_exit(spark)
    # a server gone is said within seconds, not after pyspark's ten minutes of retries
    from pyspark.sql.connect.client.retries import DefaultPolicy

    spark.client.set_retry_policies([DefaultPolicy(max_retries=5, backoff_multiplier=2.0, initial_backoff=250,
                                                   max_backoff=4000)])
    values = conf(settings)
    for key in RUNTIME_CONF:
        spark.conf.set(key, values[key])
    if settings.s3 is not None:
        # the object store is the session's, not the server's: its endpoint and keys are this
        # session's Hadoop settings (a server may serve lakes on two stores), and S3A's file
        # systems are not cached across sessions, where the first session's keys would stay
        # (a session's settings reach Hadoop under their own names: fs.s3a.*, not spark.hadoop.*)
        for key, value in values.items():
            if key.startswith("spark.hadoop.fs.s3a."):
                spark.conf.set(key.removeprefix("spark.hadoop."), value)
        spark.conf.set("fs.s3a.impl.disable.cache", "true")
    return spark


_CLOSED_AT_EXIT: set[str] = set()


def _close_at_exit(spark: SparkSession) -> None:
    """Stops the client session when the process exits: a checkpointed frame still referenced
    then releases itself with a gRPC call, which hangs once Python is finalising (pyspark 4.2)."""
    import atexit

    if spark.session_id not in _CLOSED_AT_EXIT:
        _CLOSED_AT_EXIT.add(spark.session_id)
        atexit.register(spark.stop)


class SparkServerDown(RuntimeError):
    """No Spark Connect server answers where the settings say it is."""


def session(app: str, settings: Settings | None = None) -> SparkSession:
    """The job's Spark session: a client of the environment's Spark Connect server, or, with
    CITYLAKE_SPARK_CONNECT=in-process, a Spark of its own built from settings (the active
    session when run under spark-submit)."""
    settings = settings or load()
    if not settings.in_process:
        from citylake import spark_server

        if not spark_server.answering(settings.spark_host, settings.spark_port):
            raise SparkServerDown(
                f"no Spark Connect server answers at {settings.spark_host}:{settings.spark_port} "
                f"({app} needs one): start it with `python -m citylake.spark_server start`, or set "
                "CITYLAKE_SPARK_CONNECT=in-process to run Spark inside this process")
        return remote_session(settings)
    builder = SparkSession.builder.appName(f"citylake-{app}")
    if SparkSession.getActiveSession() is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        # started from plain Python (tests, benchmarks): we launch the JVM with conf's classpath
        builder = builder.master(settings.spark_master)
    for key, value in conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def release_checkpoint(frame) -> None:
    """Tells the Spark Connect server to drop its reference to a checkpointed frame now (pyspark
    sends it only when the frame is garbage-collected); its blocks go with the server's next
    cleaning. The frame must not be used after."""
    relation = getattr(frame, "_plan", None)
    if type(relation).__name__ == "CachedRemoteRelation" and relation._relation_id is not None:
        relation.__del__()
        relation._relation_id = None


def is_remote(spark: SparkSession) -> bool:
    """Whether ``spark`` is a Spark Connect client session."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


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
    settings = replace(settings, spark_master="local[2]", spark_connect=IN_PROCESS,
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
    """Another session beside ``spark`` (the same server or application, its cached data and Delta
    logs), with the settings ``spark`` has now, but its own: a setting one thread's work sets on
    its session (citylake/lake.py: write_changes' commit metadata) is not seen by work run on the
    other, so the two can run side by side (citylake/concurrency.py)."""
    if is_remote(spark):
        return spark.cloneSession()  # its settings and temp views copied, server side
    session = spark.newSession()
    for key, value in spark.conf.getAll.items():
        if spark.conf.isModifiable(key):
            session.conf.set(key, value)
    return session


if __name__ == "__main__":
    if sys.argv[1:] == ["archive-classes"]:
        _archive_classes()
    elif sys.argv[1:] == ["build-extension"]:
        _build_extension()
    else:
        _warm()

