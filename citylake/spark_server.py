"""The environment's one warm Spark: a Spark Connect server every job reaches as a thin client.

`start` runs ``org.apache.spark.sql.connect.service.SparkConnectServer`` through spark-submit (its
jar ships in the pyspark wheel) with citylake's Spark configuration (citylake/spark.py: Delta's
extension and catalog, the S3A and JDBC jars, the settings' master: local[*] by default, spark://
or k8s:// on a cluster), a checkpoint folder, bound to 127.0.0.1 and guarded by a token. It reuses
a server already answering at the settings' address (``started`` False) and writes a pid file only
for one it starts, so `stop` stops only what `start` started. Its heap is sized from the machine
(`server_memory`) unless CITYLAKE_SPARK_SERVER_MEMORY says otherwise.

  python -m citylake.spark_server start|stop|status
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyspark

from citylake import spark as citylake_spark
from citylake.settings import COMPILE_HUGE_METHODS, Settings, load

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 300
LOG_CONFIG = citylake_spark.PROJECT_ROOT / "infra" / "spark" / "log4j2.properties"
# The share of the machine's memory a local server's heap takes (the rest: Python workers of
# UDFs, Airflow, the page cache); at least MIN_HEAP_GB, at most MAX_HEAP_GB.
HEAP_SHARE, MIN_HEAP_GB, MAX_HEAP_GB = 0.5, 2, 64


class SparkServerError(RuntimeError):
    """The server could not be started, or is not there when a job needs it."""


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    pid: int | None  # the process `start` launched; None when it reused a running server
    started: bool
    log: Path


def state_dir(settings: Settings) -> Path:
    """The server's pid file, log, token and checkpoints (settings.spark_state_dir), owner only."""
    folder = settings.spark_state_dir
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def token(settings: Settings) -> str:
    """The token clients present (CITYLAKE_SPARK_TOKEN, else a token file made on first use)."""
    if settings.spark_token:
        return settings.spark_token
    path = state_dir(settings) / "token"
    if not path.is_file():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32))
    return path.read_text(encoding="ascii").strip()


def server_memory(total_bytes: int | None = None) -> str:
    """The heap of a local server: HEAP_SHARE of the machine's memory, in whole gigabytes."""
    if total_bytes is None:
        total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    gigabytes = int(total_bytes * HEAP_SHARE // 2**30)
    return f"{max(MIN_HEAP_GB, min(MAX_HEAP_GB, gigabytes))}g"


def command(settings: Settings) -> list[str]:
    """The spark-submit command line of the server."""
    conf = citylake_spark.conf(settings)
    # the server runs every night's jobs in one JVM: C2 as well as C1, and huge methods compiled
    # (entity resolution's scoring stage, citylake/settings.py)
    options = conf["spark.driver.extraJavaOptions"].replace("-XX:TieredStopAtLevel=1", "").split()
    conf["spark.driver.extraJavaOptions"] = " ".join(
        [*options, COMPILE_HUGE_METHODS, f"-Dlog4j.configurationFile={LOG_CONFIG}"])
    conf |= {
        "spark.connect.grpc.binding.address": settings.spark_host,
        "spark.connect.grpc.binding.port": str(settings.spark_port),
        "spark.connect.authenticate.token": token(settings),
        "spark.checkpoint.dir": str(state_dir(settings) / "checkpoints"),
        # a client's message may carry a whole small table (createDataFrame of a tally, a report)
        "spark.connect.grpc.maxInboundMessageSize": str(256 * 2**20),
        "spark.sql.artifact.isolation.enabled": "false",
        # a long-lived driver: what finished jobs left (checkpoints, broadcasts) freed within minutes
        "spark.cleaner.periodicGC.interval": "5min",
    }
    spark_submit = os.path.join(os.path.dirname(sys.executable), "spark-submit")
    arguments = [spark_submit, "--class", SERVER_CLASS, "--name", "citylake-spark-connect",
                 "--master", settings.spark_master,
                 "--driver-memory", settings.server_memory or server_memory()]
    for key, value in conf.items():
        if key != "spark.driver.memory":
            arguments += ["--conf", f"{key}={value}"]
    return [*arguments, "spark-internal"]


def answering(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_file(settings: Settings) -> Path:
    return state_dir(settings) / "server.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def started_pid(settings: Settings) -> int | None:
    """The pid of the server `start` launched, when it still runs."""
    try:
        pid = int(_pid_file(settings).read_text(encoding="ascii"))
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def ready(settings: Settings) -> bool:
    """Whether the server at the settings' address answers a query with the settings' token."""
    if not answering(settings.spark_host, settings.spark_port):
        return False
    try:
        citylake_spark.remote_session(settings, create=True).range(1).count()
        return True
    except Exception:  # noqa: BLE001 - not ready is the answer, whatever the client raised
        return False


def start(settings: Settings | None = None, *, timeout_s: float = START_TIMEOUT_S) -> Server:
    """Starts the server, or reuses the one answering at the settings' address."""
    settings = settings or load()
    log = state_dir(settings) / "server.log"
    if answering(settings.spark_host, settings.spark_port):
        if not ready(settings):
            raise SparkServerError(f"{settings.spark_host}:{settings.spark_port} answers, but not as a Spark "
                                   f"Connect server with citylake's token (another program on the port?)")
        return Server(settings.spark_host, settings.spark_port, None, False, log)
    environment = os.environ | {
        # the Python workers of UDFs import citylake (a pickled function refers to its module)
        "PYTHONPATH": os.pathsep.join(filter(None, [str(citylake_spark.PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        "SPARK_LOCAL_IP": settings.spark_host,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "PYSPARK_PYTHON": sys.executable,
    }
    with open(log, "ab") as output:
        process = subprocess.Popen(command(settings), stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=environment, start_new_session=True,
                                   cwd=citylake_spark.PROJECT_ROOT)
    _pid_file(settings).write_text(str(process.pid), encoding="ascii")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _pid_file(settings).unlink(missing_ok=True)
            raise SparkServerError(f"the Spark Connect server exited ({process.returncode}) while starting: "
                                   f"{_tail(log)}")
        if ready(settings):
            return Server(settings.spark_host, settings.spark_port, process.pid, True, log)
        time.sleep(1)
    _stop_pid(process.pid)
    raise SparkServerError(f"the Spark Connect server did not answer within {timeout_s:.0f} s (log: {log})")


def _tail(log: Path, lines: int = 8) -> str:
    try:
        return " | ".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _stop_pid(pid: int, grace_s: float = 30) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.5)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)


def stop(settings: Settings | None = None) -> bool:
    """Stops the server `start` launched (True), leaving alone one it did not start (False)."""
    settings = settings or load()
    pid = started_pid(settings)
    _pid_file(settings).unlink(missing_ok=True)
    if pid is None:
        return False
    _stop_pid(pid)
    return True


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    arguments.add_argument("action", choices=["start", "stop", "status"])
    args = arguments.parse_args(argv)
    settings = load()
    address = f"{settings.spark_host}:{settings.spark_port}"
    if args.action == "start":
        try:
            server = start(settings)
        except (SparkServerError, citylake_spark.JarsNotResolved) as error:
            print(f"spark-server: {error}", file=sys.stderr)
            return 1
        print(f"spark-server: {'started' if server.started else 'reusing the server'} at {address} "
              f"({settings.spark_master}; log {server.log})")
        return 0
    if args.action == "stop":
        print(f"spark-server: {'stopped' if stop(settings) else 'none started here'} at {address}")
        return 0
    up = ready(settings)
    print(f"spark-server: {'ready' if up else 'not answering'} at {address}"
          + (f" (pid {started_pid(settings)})" if started_pid(settings) else ""))
    return 0 if up else 1


if __name__ == "__main__":
    raise SystemExit(main())
