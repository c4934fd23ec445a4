"""One settings object, chosen by one environment variable: CITYLAKE_ENV=local|s3|cluster.

local    the embedded default: a lake folder under the project's data directory, Spark local[2]
s3       the lake in an s3a:// bucket on an S3-compatible server (endpoint and keys from the
         environment: CITYLAKE_S3_ENDPOINT, CITYLAKE_S3_ACCESS_KEY, CITYLAKE_S3_SECRET_KEY)
cluster  as s3, with the Spark master from CITYLAKE_SPARK_MASTER (spark://host:7077, k8s://...)

Every value can be overridden by a CITYLAKE_* variable; nothing else reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path  # local working files: incoming extracts, ground truth, reports, Airflow home
    lake_root: str  # where Delta tables live: a folder or an s3a:// prefix
    spark_master: str
    ivy_dir: Path
    s3: S3Settings | None = None
    driver_memory: str = "2g"
    driver_java_options: str = "-XX:TieredStopAtLevel=1"

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
        "driver_java_options": environ.get("CITYLAKE_DRIVER_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1"),
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
    s3 = S3Settings(
        endpoint=environ["CITYLAKE_S3_ENDPOINT"],
        access_key=environ["CITYLAKE_S3_ACCESS_KEY"],
        secret_key=environ["CITYLAKE_S3_SECRET_KEY"],
        bucket=environ.get("CITYLAKE_S3_BUCKET", "citylake"),
        region=environ.get("CITYLAKE_S3_REGION", "us-east-1"),
    )
    lake_root = environ.get("CITYLAKE_LAKE_ROOT", f"s3a://{s3.bucket}/lake")
    return Settings(env, data_dir, lake_root, master, ivy_dir, s3, **jvm)
