"""Ingest: one DAG per source contract in sources/, generated, on the contract's schedule.

``citylake_ingest_<source>`` waits for the department's extract of the night
(``delivery_<source>``), lands it into raw/<source> (jobs/land.py) and standardises it behind its
quality gate into standard/<source> (jobs/standardise.py). Adding a contract adds its DAG; no
Python changes. A contract that does not validate gets a placeholder DAG of its name whose one
task fails with the contract's error: the other sources' DAGs are untouched. The standard table's asset (``standard.<source>``) is what the base libraries'
DAG is scheduled on.
"""

from __future__ import annotations

import re
from datetime import datetime

from airflow.sdk import dag, task

from citylake import contracts
from citylake.orchestration import DAG_KWARGS, asset, nightly_schedule, spark_job, wait_for_extract


def ingest_dag(contract: contracts.Contract):
    @dag(
        dag_id=f"citylake_ingest_{contract.name}",
        schedule=nightly_schedule(contract.schedule),
        start_date=datetime(2026, 1, 1),
        tags=["citylake", "ingest", contract.department],
        doc_md=f"{contract.department}: {contract.dataset} ({contract.format}, feeds "
               f"{contract.library}). Contract: sources/{contract.name}.yaml.\n\n{__doc__}",
        **DAG_KWARGS,
    )
    def ingest():
        raw, standard = asset("raw", contract.name), asset("standard", contract.name)
        land = spark_job(f"land_{contract.name}", "land", ["--source", contract.name], outlets=[raw],
                         extract_of=contract.name)
        check = spark_job(f"standardise_{contract.name}", "standardise", ["--source", contract.name],
                          inlets=[raw], outlets=[standard])
        wait_for_extract(contract.name) >> land >> check

    return ingest()


BROKEN_CONTRACT_SCHEDULE = "0 1 * * *"  # a broken contract's schedule is unknown: the departments' usual hour


def broken_contract_dag(stem: str, problem: str):
    """A contract that does not validate disables its own source only: its DAG is this
    placeholder, scheduled nightly, whose one task fails with the contract's error (and alerts)
    every night until the contract is fixed."""
    name = re.sub(r"[^a-z0-9_]", "_", stem.lower())[:60] or "unnamed"

    @dag(
        dag_id=f"citylake_ingest_{name}",
        schedule=nightly_schedule(BROKEN_CONTRACT_SCHEDULE),
        start_date=datetime(2026, 1, 1),
        tags=["citylake", "ingest", "broken-contract"],
        doc_md=f"The contract sources/{stem[:80]}.yaml does not validate; fix it:\n\n    {problem}",
        **DAG_KWARGS,
    )
    def broken():
        @task(task_id=f"contract_{name}", retries=0)
        def contract_is_broken():
            raise ValueError(problem)

        contract_is_broken()

    return broken()


_valid, _broken = contracts.load_each()
for _contract in _valid.values():
    globals()[f"citylake_ingest_{_contract.name}"] = ingest_dag(_contract)
for _stem, _problem in _broken.items():
    globals()[f"citylake_ingest_broken_{_stem}"] = broken_contract_dag(_stem, _problem)
