"""Lineage: the datasets a citylake job reads and writes, named as OpenLineage names them.

Airflow's OpenLineage provider emits a START and a COMPLETE (or FAIL) event per task run. For a
spark-submit task it knows nothing of the tables the application touches, so
`CitylakeSparkSubmitOperator` (citylake/orchestration.py ``spark_job`` builds every job with it)
tells it: its inlets and outlets (the lake tables' assets) become the event's input and output
datasets at the lake's real location, and a landing task's input is the department's extract of
the night (a file, or the exchange database's table). The naming follows the OpenLineage spec:
``file`` + absolute path for the local lake, ``s3://<bucket>`` + key for the object store,
``postgres://<host>:<port>`` + ``<database>.<schema>.<table>`` for the departments' database.
"""

from __future__ import annotations

from pathlib import Path

from openlineage.client.event_v2 import Dataset

from citylake import contracts, storage
from citylake.settings import Settings


def dataset(location: str) -> Dataset:
    """The OpenLineage dataset of a lake table or file location (a path or a URI)."""
    if "://" not in location:
        return Dataset(namespace="file", name=str(Path(location).resolve()))
    scheme, rest = location.split("://", 1)
    scheme = {"s3a": "s3", "s3n": "s3"}.get(scheme, scheme)
    if scheme == "file":
        return Dataset(namespace="file", name="/" + rest.lstrip("/"))
    authority, _, path = rest.partition("/")
    return Dataset(namespace=f"{scheme}://{authority}", name=path)


def table(settings: Settings, layer: str, name: str) -> Dataset:
    """A lake table (``layer``/``name``) where this environment's lake lives."""
    return dataset(settings.table_path(layer, name))


def extract(settings: Settings, source: str, run_date: str) -> Dataset:
    """The department's extract a landing run of ``source`` reads on ``run_date``."""
    contract = contracts.load(source)
    if contract.jdbc is not None:
        db = settings.departments_db
        return Dataset(namespace=f"postgres://{db.host}:{db.port}", name=f"{db.database}.{contract.jdbc.table}")
    return dataset(contract.location_for(storage.incoming_root(settings), run_date))


def of_asset(settings: Settings, asset_name: str) -> Dataset:
    """The dataset behind a citylake asset (named ``<layer>.<table>``, see orchestration.asset)."""
    layer, _, name = asset_name.partition(".")
    return table(settings, layer, name)
