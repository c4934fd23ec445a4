"""The Airflow operator every citylake job runs with (imported by DAG files only)."""

from __future__ import annotations

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import BaseSensorOperator

from citylake import lineage
from citylake.settings import load


class CitylakeSparkSubmitOperator(SparkSubmitOperator):
    """spark-submit of a citylake job that tells OpenLineage what it read and wrote.

    ``extract_of``: the source whose department extract the job reads (the landing job), an
    input beside the inlets. The night is the rendered ``--run-date`` argument.
    """

    def __init__(self, *, extract_of: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.extract_of = extract_of

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
