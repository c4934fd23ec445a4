"""The Airflow operator every citylake job runs with (imported by DAG files only)."""

from __future__ import annotations

import importlib.util
import re

from airflow.sdk import BaseOperator, BaseSensorOperator

from citylake import lineage
from citylake.settings import PROJECT_ROOT, load

JOBS_DIR = PROJECT_ROOT / "jobs"


def _job_main(job: str):
    """The ``main(argv)`` of jobs/<job>.py (jobs are files, not a package)."""
    if not re.fullmatch(r"[a-z_]+", job) or not (JOBS_DIR / f"{job}.py").is_file():
        raise ValueError(f"no citylake job {job!r} in {JOBS_DIR}")
    spec = importlib.util.spec_from_file_location(f"citylake_job_{job}", JOBS_DIR / f"{job}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


class CitylakeSparkConnectOperator(BaseOperator):
    """Runs a citylake job's ``main(argv)`` in the task, as a client of the environment's Spark
    Connect server (the ``spark_connect`` connection ``conn_id``, through the Spark provider's
    SparkConnectHook), and tells OpenLineage what it read and wrote.

    The task's session is its own (its temp views and settings unseen by other tasks); every
    operation it sends is tagged with the task's try, and interrupted on the server when Airflow
    kills or times out the task (``on_kill``), so a killed task leaves the server nothing to
    finish. ``extract_of``: the source whose department extract the job reads (the landing job),
    an input beside the inlets. The night is the rendered ``--run-date`` argument.
    """

    template_fields = ("application_args",)
    ui_color = "#f4a460"

    def __init__(self, *, job: str, application_args: list[str], conn_id: str,
                 extract_of: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.application_args = application_args
        self.conn_id = conn_id
        self.extract_of = extract_of
        self._spark = None
        self._tag = None

    def execute(self, context) -> None:
        from airflow.providers.apache.spark.hooks.spark_connect import SparkConnectHook
        from pyspark.sql import SparkSession

        main = _job_main(self.job)
        url = SparkConnectHook(conn_id=self.conn_id).get_connection_url()
        self._tag = operation_tag(context["ti"].dag_id, self.task_id, context["ti"].run_id, context["ti"].try_number)
        self._spark = SparkSession.builder.remote(url).create()  # the default and active session: the job's
        try:
            self._spark.addTag(self._tag)
            code = main([str(argument) for argument in self.application_args])
        except SystemExit as exit:  # argparse's usage error, or a job that exits
            code = exit.code
        finally:
            self._spark.stop()
            self._spark = None
        if code not in (None, 0):
            raise RuntimeError(f"citylake job {self.job} exited {code}")

    def on_kill(self) -> None:
        if self._spark is not None and self._tag is not None:
            interrupted = self._spark.interruptTag(self._tag)
            self.log.warning("killed: interrupted %d Spark operation(s) tagged %s", len(interrupted), self._tag)

    def _run_date(self) -> str | None:
        arguments = list(self.application_args or [])
        if "--run-date" in arguments[:-1]:
            return arguments[arguments.index("--run-date") + 1]
        return None

    def get_openlineage_facets_on_complete(self, task_instance):
        from airflow.providers.openlineage.extractors import OperatorLineage

        settings = load()
        inputs = [lineage.of_asset(settings, inlet.name) for inlet in self.inlets]
        run_date = self._run_date()
        if self.extract_of is not None and run_date is not None:
            inputs.append(lineage.extract(settings, self.extract_of, run_date))
        outputs = [lineage.of_asset(settings, outlet.name) for outlet in self.outlets]
        return OperatorLineage(inputs=inputs, outputs=outputs)


def operation_tag(dag_id: str, task_id: str, run_id: str, try_number: int) -> str:
    """A Spark operation tag for one try of a task: letters, digits, ``-`` and ``_`` only (Spark
    refuses a comma in a tag), unique per try."""
    import hashlib

    digest = hashlib.sha1(f"{dag_id}|{task_id}|{run_id}|{try_number}".encode()).hexdigest()[:12]
    return f"citylake-{re.sub(r'[^A-Za-z0-9_-]', '-', task_id)[:60]}-{digest}"


class ExtractDeliveredSensor(BaseSensorOperator):
    """Waits until the department has delivered the night's extract of ``source``
    (storage.delivered: the file or object is there, or the exchange table holds the night's
    rows). An ingest run starts on its schedule whether or not the extract has arrived; this keeps
    the landing job, a Spark application in the lake writers' pool, from starting (and failing)
    before it has. In reschedule mode it holds no worker slot between looks. ``run_date`` is
    templated (the night, orchestration.NIGHT)."""

    template_fields = ("run_date",)

    def __init__(self, *, source: str, run_date: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.run_date = run_date

    def poke(self, context) -> bool:
        from citylake import contracts, storage

        settings, contract = load(), contracts.load(self.source)
        if storage.delivered(settings, contract, self.run_date):
            return True
        self.log.info("%s: the extract of the night %s is not delivered yet (%s)", self.source, self.run_date,
                      contract.location_for(storage.incoming_root(settings), self.run_date))
        return False
