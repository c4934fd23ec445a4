"""One settings object, chosen by one environment variable: CITYLAKE_ENV=local|s3|cluster.

local    the embedded default: a lake folder under the project's data directory, Spark local[2]
s3       the lake in an s3a:// bucket on an S3-compatible server (endpoint and keys from the
         environment: CITYLAKE_S3_ENDPOINT, CITYLAKE_S3_ACCESS_KEY, CITYLAKE_S3_SECRET_KEY)
cluster  as s3, with the Spark master from CITYLAKE_SPARK_MASTER (spark://host:7077, k8s://...)

Every value can be overridden by a CITYLAKE_* variable; nothing else reads the environment.

In every environment, departments that deliver through an exchange database (前置库) are read
from the PostgreSQL server named by CITYLAKE_DEPARTMENTS_DB_HOST (127.0.0.1), _PORT (5433),
_NAME (departments), _USER (citylake) and _PASSWORD (citylake): the defaults are the local server
that `infra/postgres.sh start` runs.

Privacy: CITYLAKE_PSEUDONYM_KEY_FILE (data/keys/pseudonym.key) holds the key of the analysts'
keyed pseudonyms of identity numbers (citylake/curated.py); made on first use, readable by its
owner only. On the object store every query is audited in the bucket CITYLAKE_S3_AUDIT_BUCKET
(<bucket>-audit, object-locked: citylake/access.py).

Operations: CITYLAKE_AUDIT_DAYS (30) is the audit window, how far back every Delta table stays
readable by time travel (VACUUM keeps it, citylake/maintenance.py); CITYLAKE_ALERT_WEBHOOK, when
set, receives a JSON alert for every failed task (citylake/alerts.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("local", "s3", "cluster")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"
    audit_bucket: str = ""  # where every query is recorded (write-once, object-locked)


@dataclass(frozen=True)
class DepartmentsDb:
    """The departments' exchange database (PostgreSQL), read by Spark over JDBC."""

    host: str = "127.0.0.1"
    port: int = 5433
    database: str = "departments"
    user: str = "citylake"
    password: str = field(default="citylake", repr=False)  # kept out of logs and tracebacks

    @property
    def jdbc_url(self) -> str:
        """For spark.read.format("jdbc"); user and password go in their own options."""
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    @property
    def conninfo(self) -> str:
        """A libpq connection string for psycopg (every value quoted, so any password works)."""
        values = {"host": self.host, "port": self.port, "dbname": self.database,
                  "user": self.user, "password": self.password}
        return " ".join(f"{key}={_libpq_quote(str(value))}" for key, value in values.items())


def _libpq_quote(value: str) -> str:
    """A libpq conninfo value: single-quoted, with backslash and quote escaped by a backslash."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# C1-only compilation saves short-lived nightly JVMs a quarter of their time, but it shrinks the
# JIT code cache to 48 MB by default; a long-lived driver (the test session, a process running
# every source's jobs) fills that, the JVM stops compiling and the SparkContext dies. 240 MB is
# the tiered default.
DRIVER_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"
# By default HotSpot never compiles a method over 8,000 bytecodes, and the method Spark generates
# for entity resolution's scoring stage (the blocking join and every comparison's CASE summed) is
# bigger: it ran interpreted. Compiled, scoring is 3 to 5 times faster (bench/resolution_scoring.py:
# 1.27M against 0.24M pairs per second on local[2]). The base libraries' jobs get this option
# (citylake/orchestration.py); the other, short-lived jobs gain nothing from compiling their
# run-once huge methods.
COMPILE_HUGE_METHODS = "-XX:-DontCompileHugeMethods"


DEFAULT_SPARK_CONNECT = "sc://127.0.0.1:15002"
IN_PROCESS = "in-process"


def _connect_address(url: str) -> tuple[str, int]:
    """Host and port of an sc://host:port address (SettingsError otherwise)."""
    import re

    found = re.fullmatch(r"sc://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})/?", url)
    if found is None or not 0 < int(found.group(2)) < 65536:
        raise SettingsError(f"CITYLAKE_SPARK_CONNECT={url!r} is not sc://host:port or {IN_PROCESS!r}")
    return found.group(1).strip("[]"), int(found.group(2))


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path  # local working files: incoming extracts, ground truth, reports, Airflow home
    lake_root: str  # where Delta tables live: a folder or an s3a:// prefix
    spark_master: str
    ivy_dir: Path
    s3: S3Settings | None = None
    driver_memory: str = "2g"
    executor_memory: str = "2g"  # each executor's heap on a cluster (local[*] runs in the driver)
    driver_java_options: str = DRIVER_JAVA_OPTIONS
    departments_db: DepartmentsDb = DepartmentsDb()
    audit_days: int = 30  # time travel kept this many days back (VACUUM retention)
    alert_webhook: str | None = field(default=None, repr=False)  # its URL may carry a token
    pseudonym_key_file: Path | None = None  # default: data_dir/keys/pseudonym.key
    # the environment's Spark Connect server (citylake/spark_server.py) every job is a client of;
    # "in-process": a job starts a Spark of its own instead (the class archive, a debugging session)
    spark_connect: str = DEFAULT_SPARK_CONNECT
    spark_token: str | None = field(default=None, repr=False)  # default: the server's token file
    server_memory: str | None = None  # the server's heap; default: from the machine (spark_server.py)
    spark_state_root: Path | None = None  # the servers' pid files, logs and tokens, by port

    @property
    def spark_state_dir(self) -> Path:
        """The folder of the server at spark_port (every settings naming that port share it)."""
        return (self.spark_state_root or self.ivy_dir.parent / "spark-connect") / str(self.spark_port)

    @property
    def in_process(self) -> bool:
        return self.spark_connect == IN_PROCESS

    @property
    def spark_host(self) -> str:
        return _connect_address(self.spark_connect)[0]

    @property
    def spark_port(self) -> int:
        return _connect_address(self.spark_connect)[1]

    @property
    def incoming_dir(self) -> Path:
        """Drop folder where departments' nightly extracts arrive."""
        return self.data_dir / "incoming"

    @property
    def truth_dir(self) -> Path:
        """Ground truth written by the city generator, never read by the pipeline."""
        return self.data_dir / "truth"

    @property
    def reports_dir(self) -> Path:
        """Quality results, Data Docs and nightly summaries."""
        return self.data_dir / "reports"

    @property
    def pseudonym_key_path(self) -> Path:
        """The key of the analysts' pseudonyms (engineers and the pipeline hold it)."""
        return self.pseudonym_key_file or self.data_dir / "keys" / "pseudonym.key"

    def table_path(self, layer: str, name: str) -> str:
        return f"{self.lake_root.rstrip('/')}/{layer}/{name}"


def load(environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    env = environ.get("CITYLAKE_ENV", "local")
    if env not in ENVIRONMENTS:
        raise SettingsError(f"CITYLAKE_ENV={env!r} is not one of {', '.join(ENVIRONMENTS)}")
    data_dir = Path(environ.get("CITYLAKE_DATA_DIR", PROJECT_ROOT / "data")).resolve()
    cache_dir = Path(environ.get("CITYLAKE_CACHE", Path.home() / ".cache" / "citylake")).resolve()
    ivy_dir = Path(environ.get("CITYLAKE_IVY_DIR", cache_dir / "ivy")).resolve()
    master = environ.get("CITYLAKE_SPARK_MASTER", "local[2]")
    jvm = {
        "driver_memory": environ.get("CITYLAKE_DRIVER_MEMORY", "2g"),
        "executor_memory": environ.get("CITYLAKE_EXECUTOR_MEMORY", "2g"),
        "driver_java_options": environ.get("CITYLAKE_DRIVER_JAVA_OPTIONS", DRIVER_JAVA_OPTIONS),
        "departments_db": _departments_db(environ),
        "audit_days": _audit_days(environ),
        "alert_webhook": environ.get("CITYLAKE_ALERT_WEBHOOK") or None,
        "pseudonym_key_file": (Path(environ["CITYLAKE_PSEUDONYM_KEY_FILE"]).resolve()
                               if environ.get("CITYLAKE_PSEUDONYM_KEY_FILE") else None),
        "spark_connect": _spark_connect(environ),
        "spark_token": environ.get("CITYLAKE_SPARK_TOKEN") or None,
        "server_memory": environ.get("CITYLAKE_SPARK_SERVER_MEMORY") or None,
        "spark_state_root": cache_dir / "spark-connect",
    }

    if env == "local":
        lake_root = environ.get("CITYLAKE_LAKE_ROOT", str(data_dir / "lake"))
        return Settings(env, data_dir, lake_root, master, ivy_dir, **jvm)

    if env == "cluster" and "CITYLAKE_SPARK_MASTER" not in environ:
        raise SettingsError("CITYLAKE_ENV=cluster needs CITYLAKE_SPARK_MASTER (spark://host:port)")
    missing = [
        name
        for name in ("CITYLAKE_S3_ENDPOINT", "CITYLAKE_S3_ACCESS_KEY", "CITYLAKE_S3_SECRET_KEY")
        if not environ.get(name)
    ]
    if missing:
        raise SettingsError(f"CITYLAKE_ENV={env} needs {', '.join(missing)} in the environment")
    bucket = environ.get("CITYLAKE_S3_BUCKET", "citylake")
    s3 = S3Settings(
        endpoint=environ["CITYLAKE_S3_ENDPOINT"],
        access_key=environ["CITYLAKE_S3_ACCESS_KEY"],
        secret_key=environ["CITYLAKE_S3_SECRET_KEY"],
        bucket=bucket,
        region=environ.get("CITYLAKE_S3_REGION", "us-east-1"),
        audit_bucket=environ.get("CITYLAKE_S3_AUDIT_BUCKET", f"{bucket}-audit"),
    )
    lake_root = environ.get("CITYLAKE_LAKE_ROOT", f"s3a://{s3.bucket}/lake")
    return Settings(env, data_dir, lake_root, master, ivy_dir, s3, **jvm)


def _spark_connect(environ: dict[str, str]) -> str:
    value = environ.get("CITYLAKE_SPARK_CONNECT", DEFAULT_SPARK_CONNECT)
    if value != IN_PROCESS:
        _connect_address(value)
    return value


def _audit_days(environ: dict[str, str]) -> int:
    days = environ.get("CITYLAKE_AUDIT_DAYS", "30")
    if not days.isdigit() or int(days) < 1:
        raise SettingsError(f"CITYLAKE_AUDIT_DAYS={days!r} is not a positive number of days")
    return int(days)


def _departments_db(environ: dict[str, str]) -> DepartmentsDb:
    port = environ.get("CITYLAKE_DEPARTMENTS_DB_PORT", "5433")
    if not port.isdigit():
        raise SettingsError(f"CITYLAKE_DEPARTMENTS_DB_PORT={port!r} is not a port number")
    return DepartmentsDb(
        host=environ.get("CITYLAKE_DEPARTMENTS_DB_HOST", "127.0.0.1"),
        port=int(port),
        database=environ.get("CITYLAKE_DEPARTMENTS_DB_NAME", "departments"),
        user=environ.get("CITYLAKE_DEPARTMENTS_DB_USER", "citylake"),
        password=environ.get("CITYLAKE_DEPARTMENTS_DB_PASSWORD", "citylake"),
    )
