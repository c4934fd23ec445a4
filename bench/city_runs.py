"""What the benchmarks that run a generated city share: its environment, the departments'
database around the run, and the one-line result a measured Spark application prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from citylake.ports import free_loopback_port

ROOT = Path(__file__).resolve().parent.parent


def city_environment(data_dir: Path) -> dict[str, str]:
    """This process's environment without Airflow or citylake settings (but the driver's memory,
    CITYLAKE_DRIVER_MEMORY, for the large sizes), pointed at ``data_dir`` (the local lake), a
    departments' database port and a Spark Connect server port of its own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CITYLAKE_", "AIRFLOW", "PYSPARK")) or k == "CITYLAKE_DRIVER_MEMORY"}
    return env | {"CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(data_dir),
                  "CITYLAKE_DEPARTMENTS_DB_PORT": str(free_loopback_port()), "PYARROW_IGNORE_TIMEZONE": "1",
                  # a Spark Connect server of the run's own (infra/nightly.sh starts and stops it)
                  "CITYLAKE_SPARK_CONNECT": f"sc://127.0.0.1:{free_loopback_port()}"}


def _postgres(action: str, env: dict[str, str]) -> None:
    done = subprocess.run([str(ROOT / "infra" / "postgres.sh"), action], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"infra/postgres.sh {action} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@contextmanager
def departments_db(env: dict[str, str]) -> Iterator[None]:
    """The departments' PostgreSQL (infra/postgres.sh) on the environment's port, for the run."""
    _postgres("start", env)
    try:
        yield
    finally:
        _postgres("stop", env)


def result_of(stdout: str) -> dict:
    """The JSON of the ``RESULT {...}`` line a measured application printed."""
    return json.loads(next(line for line in stdout.splitlines() if line.startswith("RESULT "))[7:])
